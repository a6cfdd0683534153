"""Decisions about fetching, as pure functions: no I/O, the clock passed in.

- ``backoff``: how long to wait after the n-th failure in a row.
- ``permanent_redirect``: where a chain of 301/308 hops leads.
- ``activity`` and ``poll_interval``: how often to fetch a blog, from how often it posts
  (between 15 minutes and 24 hours).
- ``freshness``: how long the server says the feed stays fresh (Cache-Control max-age,
  else Expires).
- ``next_poll``: the next fetch after a success: the interval with jitter, never before
  the feed goes stale.
- ``pace_by_host``: when each fetch of a batch may start, so that fetches to one host
  start at least a set gap apart.
- ``decide``: the source's new fetch state after one fetch; a source whose
  hub pushes its posts (WebSub) is polled daily while the push lasts.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from ..model import FetchOutcome, FetchResult, FetchState, Redirect, Source, SourceStatus

FIRST_BACKOFF = timedelta(minutes=10)
MAX_BACKOFF = timedelta(hours=24)
PUSHED_INTERVAL = timedelta(hours=24)  # polling a blog whose hub pushes its posts
REDIRECT_CONFIRMATIONS = 2
JITTER = 0.1
MIN_INTERVAL = timedelta(minutes=15)
MAX_INTERVAL = timedelta(hours=24)
POLLS_PER_POST = 4  # fetches in a blog's typical time between posts
ACTIVITY_POSTS = 20  # the newest dated posts that tell a blog's rhythm


@dataclass(frozen=True, slots=True)
class Activity:
    """A blog's rhythm: ``posts`` posts published from ``since`` to when its feed was read."""

    since: datetime
    posts: int


def jittered(delay: timedelta, rng: random.Random) -> timedelta:
    return delay * rng.uniform(1 - JITTER, 1 + JITTER)


def backoff(failures: int, rng: random.Random) -> timedelta:
    """Exponential backoff with jitter, capped at 24 hours (and retried at the cap)."""
    if failures < 1:
        failures = 1
    delay = FIRST_BACKOFF * (2 ** min(failures - 1, 20))
    return min(MAX_BACKOFF, jittered(delay, rng))


def permanent_redirect(redirects: Sequence[Redirect]) -> str | None:
    """The target of the leading run of permanent (301/308) hops, if any."""
    target = None
    for hop in redirects:
        if hop.status not in (301, 308):
            break
        target = hop.location
    return target


def activity(published: Iterable[datetime | None], now: datetime) -> Activity | None:
    """The rhythm of the newest dated posts of a feed; None when no post has a date.

    A date in the future counts as now: it is a mistake, not a promise.
    """
    dates = sorted((min(d, now) for d in published if d is not None), reverse=True)
    if not dates:
        return None
    newest = dates[:ACTIVITY_POSTS]
    return Activity(since=newest[-1], posts=len(newest))


def poll_interval(rhythm: Activity | None, now: datetime, default: timedelta) -> timedelta:
    """How long between fetches: a quarter of the blog's typical gap between posts.

    The gap counts the quiet time since the newest post, so a blog that stops posting
    is fetched less and less often, down to once a day.  A blog whose rhythm is not
    known yet is fetched every ``default``.  Always between 15 minutes and 24 hours.
    """
    wanted = default
    if rhythm is not None and rhythm.posts > 0:
        gap = max(now - rhythm.since, timedelta(0)) / rhythm.posts
        wanted = gap / POLLS_PER_POST
    return min(MAX_INTERVAL, max(MIN_INTERVAL, wanted))


def freshness(max_age: int | None, expires: datetime | None, now: datetime) -> timedelta:
    """How long the server says its answer stays fresh: max-age wins over Expires."""
    if max_age is not None:
        return timedelta(seconds=max_age)
    if expires is not None:
        return max(expires - now, timedelta(0))
    return timedelta(0)


def next_poll(
    now: datetime, interval: timedelta, rng: random.Random, *, fresh: timedelta = timedelta(0)
) -> datetime:
    """The next fetch after a success: the interval with jitter, not before the feed is
    stale, never sooner than 15 minutes nor later than 24 hours."""
    wait = max(jittered(interval, rng), fresh)
    return now + min(MAX_INTERVAL, max(MIN_INTERVAL, wait))


def host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or url).lower()
    except ValueError:
        return url


def pace_by_host(
    urls: Sequence[str], *, gap: float, now: float, free_at: Mapping[str, float]
) -> tuple[list[float], dict[str, float]]:
    """When each fetch of a batch may start, in seconds from ``now``.

    Fetches to one host start at least ``gap`` seconds apart, in the order given,
    continuing from ``free_at`` (a host's earliest next start, on the same clock as
    ``now``, from earlier batches).  Gives the delays and the hosts' new ``free_at``.
    """
    free = dict(free_at)
    delays = []
    for url in urls:
        key = host(url)
        start = max(now, free.get(key, now))
        delays.append(start - now)
        free[key] = start + gap
    return delays, {k: v for k, v in free.items() if v > now}


def decide(
    source: Source,
    result: FetchResult,
    *,
    now: datetime,
    interval: timedelta,
    rng: random.Random,
    parse_error: str | None = None,
    site_url: str | None = None,
    published: Sequence[datetime | None] | None = None,
    hub: tuple[str, str] | None = None,
    body_hash: str | None = None,
) -> FetchState:
    """The source's fetch state after ``result`` (and parsing it, if it had a body).

    ``interval`` is for a blog whose rhythm is not known; ``published`` holds the dates
    of the posts just read (None when no feed was read), which tell the rhythm.
    ``hub`` is the WebSub hub and topic the body advertised, if it had a body, and
    ``body_hash`` what the body was (``read.body_hash``).
    """
    success = result.outcome in (FetchOutcome.OK, FetchOutcome.NOT_MODIFIED) and parse_error is None
    failures = 0 if success else source.consecutive_failures + 1
    error = parse_error or result.error
    url, redirect_url, redirect_count = source.url, None, 0
    moved = permanent_redirect(result.redirects)
    if success and moved and moved != source.url:
        redirect_count = source.redirect_count + 1 if moved == source.redirect_url else 1
        if redirect_count >= REDIRECT_CONFIRMATIONS:
            url, redirect_count = moved, 0
        else:
            redirect_url = moved

    rhythm = activity(published, now) if published is not None else None
    if rhythm is None and source.activity_since is not None:
        rhythm = Activity(source.activity_since, source.activity_posts)

    enabled, disabled_reason = source.enabled, source.disabled_reason
    retry_after = None
    if success:
        status = SourceStatus.OK
        next_due = next_poll(
            now,
            poll_interval(rhythm, now, interval),
            rng,
            fresh=freshness(result.max_age, result.expires, now),
        )
        if source.push_until is not None and source.push_until > now:
            # Its hub pushes new posts: poll daily, and as usual once the push lapses.
            pushed = now + min(jittered(PUSHED_INTERVAL, rng), MAX_INTERVAL)
            next_due = max(next_due, min(pushed, source.push_until))
    elif result.outcome is FetchOutcome.GONE:
        status = SourceStatus.GONE
        enabled, disabled_reason = False, "gone"
        next_due = now + MAX_BACKOFF
    else:
        status = SourceStatus.ERROR
        next_due = now + backoff(failures, rng)
        if result.outcome is FetchOutcome.RETRY_LATER and result.retry_after is not None:
            retry_after = result.retry_after
            next_due = max(next_due, retry_after)

    etag, last_modified = source.etag, source.last_modified
    hub_url, topic_url = source.hub_url, source.topic_url
    kept_hash = source.body_hash
    if result.outcome is FetchOutcome.OK and parse_error is None:
        etag, last_modified = result.etag, result.last_modified
        hub_url, topic_url = hub or (None, None)
        kept_hash = body_hash
    elif parse_error is not None:  # read again next time, in case it can be then
        kept_hash = None
    return FetchState(
        status=status,
        http_status=result.status,
        last_error=None if success else error,
        consecutive_failures=failures,
        fetched_at=now,
        last_success_at=now if success else source.last_success_at,
        next_due_at=next_due,
        retry_after=retry_after,
        etag=etag,
        last_modified=last_modified,
        url=url,
        redirect_url=redirect_url,
        redirect_count=redirect_count,
        enabled=enabled,
        disabled_reason=disabled_reason,
        site_url=site_url,
        activity_since=rhythm.since if rhythm else None,
        activity_posts=rhythm.posts if rhythm else 0,
        hub_url=hub_url,
        topic_url=topic_url,
        body_hash=kept_hash,
    )
