"""Decisions about a fetch, as pure functions: no I/O, the clock passed in.

- ``backoff``: how long to wait after the n-th failure in a row.
- ``permanent_redirect``: where a chain of 301/308 hops leads.
- ``decide``: the source's new fetch state after one fetch; a source whose
  hub pushes its posts (WebSub) is polled daily while the push lasts.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta

from ..model import FetchOutcome, FetchResult, FetchState, Redirect, Source, SourceStatus

FIRST_BACKOFF = timedelta(minutes=10)
MAX_BACKOFF = timedelta(hours=24)
PUSHED_INTERVAL = timedelta(hours=24)  # polling a blog whose hub pushes its posts
REDIRECT_CONFIRMATIONS = 2
JITTER = 0.1


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


def decide(
    source: Source,
    result: FetchResult,
    *,
    now: datetime,
    interval: timedelta,
    rng: random.Random,
    parse_error: str | None = None,
    site_url: str | None = None,
    hub: tuple[str, str] | None = None,
) -> FetchState:
    """The source's fetch state after ``result`` (and parsing it, if it had a body).

    ``hub`` is the WebSub hub and topic the body advertised, if it had a body.
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

    enabled, disabled_reason = source.enabled, source.disabled_reason
    retry_after = None
    if success:
        status = SourceStatus.OK
        wait = jittered(interval, rng)
        if source.push_until is not None and source.push_until > now:
            # Its hub pushes new posts: poll daily, and as usual once the push lapses.
            wait = max(wait, min(jittered(PUSHED_INTERVAL, rng), source.push_until - now))
        if result.max_age:
            wait = max(wait, min(timedelta(seconds=result.max_age), MAX_BACKOFF))
        next_due = now + wait
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
    if result.outcome is FetchOutcome.OK and parse_error is None:
        etag, last_modified = result.etag, result.last_modified
        hub_url, topic_url = hub or (None, None)
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
        hub_url=hub_url,
        topic_url=topic_url,
    )
