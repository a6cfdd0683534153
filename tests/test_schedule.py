"""The pure decisions of ``ingest.schedule``: backoff, redirects, the next fetch, the
adaptive interval and the spacing of fetches to one host."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from townsquare.ingest.schedule import (
    FIRST_BACKOFF,
    MAX_BACKOFF,
    MAX_INTERVAL,
    MIN_INTERVAL,
    Activity,
    activity,
    backoff,
    decide,
    freshness,
    next_poll,
    pace_by_host,
    permanent_redirect,
    poll_interval,
)
from townsquare.model import (
    FetchOutcome,
    FetchResult,
    FetchState,
    Redirect,
    Source,
    SourceStatus,
)

NOW = datetime(2024, 7, 5, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
URL = "https://blog.example/feed"

SOURCE = Source(
    id=1,
    url=URL,
    site_url=None,
    title="Blog",
    slug="blog",
    enabled=True,
    excerpts_only=False,
    status=SourceStatus.OK,
    http_status=200,
    last_error=None,
    consecutive_failures=0,
    last_fetched_at=NOW - HOUR,
    last_success_at=NOW - HOUR,
    next_due_at=NOW,
    etag='"old"',
    last_modified="Thu, 04 Jul 2024 10:00:00 GMT",
    created_at=NOW - 10 * HOUR,
)


def result(outcome: FetchOutcome = FetchOutcome.OK, **fields: Any) -> FetchResult:
    return FetchResult(url=URL, final_url=URL, outcome=outcome, **fields)


def run(source: Source, fetched: FetchResult, **kwargs: Any) -> FetchState:
    return decide(source, fetched, now=NOW, interval=HOUR, rng=random.Random(7), **kwargs)


# --- backoff -----------------------------------------------------------------------------


@pytest.mark.parametrize("failures", range(1, 12))
def test_backoff_doubles_with_ten_percent_jitter(failures: int) -> None:
    expected = min(FIRST_BACKOFF * 2 ** (failures - 1), MAX_BACKOFF)
    for seed in range(20):
        delay = backoff(failures, random.Random(seed))
        assert expected * 0.9 <= delay <= min(expected * 1.1, MAX_BACKOFF)


def test_backoff_is_jittered() -> None:
    delays = {backoff(3, random.Random(seed)) for seed in range(20)}
    assert len(delays) == 20


def test_backoff_is_capped_at_a_day_and_stays_there() -> None:
    """A blog that keeps failing is still tried once a day: it never goes silently dead."""
    rng = random.Random(1)
    assert [backoff(n, rng) for n in (9, 10, 50, 10_000)] == [MAX_BACKOFF] * 4
    assert timedelta(hours=24) == MAX_BACKOFF


def test_backoff_of_zero_failures_is_the_first_step() -> None:
    assert FIRST_BACKOFF * 0.9 <= backoff(0, random.Random(1)) <= FIRST_BACKOFF * 1.1


# --- permanent redirects -----------------------------------------------------------------


def hop(status: int, to: str) -> Redirect:
    return Redirect(status, "https://x.example/", to)


@pytest.mark.parametrize(
    ("hops", "target"),
    [
        ([], None),
        ([hop(301, "https://a/")], "https://a/"),
        ([hop(308, "https://a/"), hop(301, "https://b/")], "https://b/"),
        ([hop(301, "https://a/"), hop(302, "https://b/")], "https://a/"),
        ([hop(302, "https://a/"), hop(301, "https://b/")], None),
        ([hop(307, "https://a/")], None),
    ],
)
def test_permanent_redirect_follows_the_leading_permanent_hops(
    hops: list[Redirect], target: str | None
) -> None:
    assert permanent_redirect(hops) == target


def test_a_permanent_redirect_is_confirmed_on_the_second_fetch() -> None:
    moved = result(redirects=(Redirect(301, URL, "https://new.example/feed"),), status=200)
    first = run(SOURCE, moved)
    assert (first.url, first.redirect_url, first.redirect_count) == (
        URL,
        "https://new.example/feed",
        1,
    )
    source = replace(SOURCE, redirect_url=first.redirect_url, redirect_count=1)
    second = run(source, moved)
    assert (second.url, second.redirect_url, second.redirect_count) == (
        "https://new.example/feed",
        None,
        0,
    )


def test_a_different_permanent_target_starts_counting_again() -> None:
    source = replace(SOURCE, redirect_url="https://a.example/feed", redirect_count=1)
    other = result(redirects=(Redirect(301, URL, "https://b.example/feed"),))
    state = run(source, other)
    assert (state.url, state.redirect_url, state.redirect_count) == (
        URL,
        "https://b.example/feed",
        1,
    )


def test_a_failed_fetch_after_a_permanent_redirect_moves_nothing() -> None:
    source = replace(SOURCE, redirect_url="https://new.example/feed", redirect_count=1)
    failed = result(
        FetchOutcome.ERROR,
        redirects=(Redirect(301, URL, "https://new.example/feed"),),
        error="the server answered 500 Internal Server Error",
        status=500,
    )
    state = run(source, failed)
    assert (state.url, state.redirect_count) == (URL, 0)


# --- decide ------------------------------------------------------------------------------


def test_success_resets_failures_and_schedules_the_next_poll() -> None:
    source = replace(SOURCE, status=SourceStatus.ERROR, consecutive_failures=4, last_error="x")
    state = run(source, result(status=200, etag='"new"', last_modified="Fri"))
    assert state.status is SourceStatus.OK
    assert (state.consecutive_failures, state.last_error) == (0, None)
    assert state.last_success_at == NOW == state.fetched_at
    assert NOW + HOUR * 0.9 <= state.next_due_at <= NOW + HOUR * 1.1
    assert (state.etag, state.last_modified) == ('"new"', "Fri")


def test_a_long_max_age_delays_the_next_poll_up_to_a_day() -> None:
    assert run(SOURCE, result(max_age=6 * 3600)).next_due_at == NOW + 6 * HOUR
    assert run(SOURCE, result(max_age=10**9)).next_due_at == NOW + MAX_BACKOFF


def test_not_modified_keeps_the_validators() -> None:
    state = run(SOURCE, result(FetchOutcome.NOT_MODIFIED, status=304))
    assert (state.status, state.http_status) == (SourceStatus.OK, 304)
    assert (state.etag, state.last_modified) == (SOURCE.etag, SOURCE.last_modified)


def test_a_parse_error_is_a_failure_and_keeps_the_old_validators() -> None:
    state = run(
        SOURCE,
        result(status=200, etag='"broken"'),
        parse_error="this is a web page, not a feed",
    )
    assert state.status is SourceStatus.ERROR
    assert state.last_error == "this is a web page, not a feed"
    assert state.consecutive_failures == 1
    assert state.etag == SOURCE.etag
    assert state.last_success_at == SOURCE.last_success_at


def test_an_error_counts_up_and_backs_off() -> None:
    source = replace(SOURCE, consecutive_failures=2)
    state = run(source, result(FetchOutcome.ERROR, status=500, error="the server answered 500"))
    assert (state.status, state.http_status, state.consecutive_failures) == (
        SourceStatus.ERROR,
        500,
        3,
    )
    assert state.last_error == "the server answered 500"
    assert state.last_success_at == SOURCE.last_success_at
    assert NOW + FIRST_BACKOFF * 4 * 0.9 <= state.next_due_at <= NOW + FIRST_BACKOFF * 4 * 1.1
    assert state.enabled and state.retry_after is None


def test_gone_disables_with_the_reason() -> None:
    state = run(SOURCE, result(FetchOutcome.GONE, status=410, error="gone away"))
    assert (state.status, state.enabled, state.disabled_reason) == (
        SourceStatus.GONE,
        False,
        "gone",
    )


def test_retry_after_wins_over_a_shorter_backoff_but_not_a_longer_one() -> None:
    soon = run(SOURCE, result(FetchOutcome.RETRY_LATER, status=429, retry_after=NOW + HOUR * 5))
    assert soon.next_due_at == soon.retry_after == NOW + 5 * HOUR
    source = replace(SOURCE, consecutive_failures=20)  # backoff is at its 24-hour cap
    late = run(source, result(FetchOutcome.RETRY_LATER, status=429, retry_after=NOW + HOUR))
    assert late.next_due_at == NOW + MAX_BACKOFF
    assert late.retry_after == NOW + HOUR


def test_the_site_address_learnt_from_the_feed_is_passed_on() -> None:
    assert run(SOURCE, result(), site_url="https://blog.example/").site_url == (
        "https://blog.example/"
    )


# --- the adaptive interval ---------------------------------------------------------------


def test_a_blogs_rhythm_is_its_newest_dated_posts() -> None:
    dates = [NOW - timedelta(days=d) for d in range(30)] + [None]
    assert activity(dates, NOW) == Activity(since=NOW - timedelta(days=19), posts=20)
    assert activity([None, None], NOW) is None
    assert activity([], NOW) is None


def test_a_date_in_the_future_counts_as_now() -> None:
    assert activity([NOW + timedelta(days=400)], NOW) == Activity(since=NOW, posts=1)


@pytest.mark.parametrize(
    ("posts", "over", "interval"),
    [
        (20, timedelta(days=20), timedelta(hours=6)),  # daily: four times a day
        (20, timedelta(days=5), timedelta(hours=1.5)),  # four a day
        (20, timedelta(hours=2), MIN_INTERVAL),  # a busy newsroom: every 15 minutes
        (20, timedelta(days=140), MAX_INTERVAL),  # weekly: once a day
        (1, timedelta(days=700), MAX_INTERVAL),  # one post, two years ago
    ],
)
def test_the_interval_is_a_quarter_of_the_gap_between_posts(
    posts: int, over: timedelta, interval: timedelta
) -> None:
    assert poll_interval(Activity(NOW - over, posts), NOW, HOUR) == interval


def test_a_quiet_blog_is_fetched_less_and_less_often() -> None:
    rhythm = Activity(NOW - timedelta(days=10), 20)  # daily, until ten days ago
    later = [poll_interval(rhythm, NOW + timedelta(days=d), HOUR) for d in (0, 10, 30, 90)]
    assert later == sorted(later) and later[0] < later[-1] == MAX_INTERVAL


def test_without_a_rhythm_the_default_is_used_within_the_bounds() -> None:
    assert poll_interval(None, NOW, 2 * HOUR) == 2 * HOUR
    assert poll_interval(None, NOW, timedelta(minutes=1)) == MIN_INTERVAL
    assert poll_interval(None, NOW, timedelta(days=3)) == MAX_INTERVAL


def test_max_age_wins_over_expires() -> None:
    assert freshness(600, NOW + 5 * HOUR, NOW) == timedelta(minutes=10)
    assert freshness(None, NOW + 5 * HOUR, NOW) == 5 * HOUR
    assert freshness(None, NOW - HOUR, NOW) == timedelta(0)  # already stale
    assert freshness(None, None, NOW) == timedelta(0)


@pytest.mark.parametrize("seed", range(50))
def test_the_next_poll_is_jittered_within_fifteen_minutes_and_a_day(seed: int) -> None:
    rng = random.Random(seed)
    for interval in (timedelta(minutes=15), 3 * HOUR, MAX_INTERVAL):
        wait = next_poll(NOW, interval, rng) - NOW
        assert MIN_INTERVAL <= wait <= MAX_INTERVAL
        assert interval * 0.9 <= wait <= interval * 1.1
    assert next_poll(NOW, HOUR, rng, fresh=timedelta(days=9)) == NOW + MAX_INTERVAL


def test_jitter_spreads_blogs_that_came_due_together() -> None:
    rng = random.Random(3)
    assert len({next_poll(NOW, 6 * HOUR, rng) for _ in range(100)}) == 100


def test_expires_delays_the_next_poll() -> None:
    state = run(SOURCE, result(expires=NOW + 5 * HOUR))
    assert state.next_due_at == NOW + 5 * HOUR


def test_the_posts_read_set_the_rhythm_and_a_304_keeps_it() -> None:
    posted = [NOW - timedelta(days=d) for d in range(0, 40, 2)]  # every other day
    state = run(SOURCE, result(), published=posted)
    assert (state.activity_since, state.activity_posts) == (NOW - timedelta(days=38), 20)
    assert near(state.next_due_at - NOW, timedelta(days=38) / 20 / 4)
    source = replace(SOURCE, activity_since=state.activity_since, activity_posts=20)
    again = run(source, result(FetchOutcome.NOT_MODIFIED, status=304), published=None)
    assert (again.activity_since, again.activity_posts) == (state.activity_since, 20)
    assert near(again.next_due_at - NOW, timedelta(days=38) / 20 / 4)


def test_a_failure_keeps_the_rhythm_for_later() -> None:
    source = replace(SOURCE, activity_since=NOW - timedelta(days=3), activity_posts=5)
    state = run(source, result(FetchOutcome.ERROR, error="the server answered 500"))
    assert (state.activity_since, state.activity_posts) == (source.activity_since, 5)


def near(wait: timedelta, target: timedelta) -> bool:
    return target * 0.9 <= wait <= target * 1.1


# --- spacing fetches to one host ---------------------------------------------------------


def test_fetches_to_one_host_start_a_gap_apart() -> None:
    urls = [
        "https://a.example/1",
        "https://B.example/1",
        "https://a.example/2",
        "https://a.example:8443/3",
        "https://b.example/2",
        "https://c.example/",
    ]
    delays, free = pace_by_host(urls, gap=2.0, now=100.0, free_at={})
    assert delays == [0.0, 0.0, 2.0, 4.0, 2.0, 0.0]
    assert free == {"a.example": 106.0, "b.example": 104.0, "c.example": 102.0}


def test_the_spacing_carries_on_from_the_last_batch() -> None:
    _, free = pace_by_host(["https://a.example/1"], gap=2.0, now=100.0, free_at={})
    delays, free = pace_by_host(
        ["https://a.example/2", "https://b.example/"], gap=2.0, now=101.0, free_at=free
    )
    assert delays == [1.0, 0.0]
    later, free = pace_by_host(["https://a.example/3"], gap=2.0, now=200.0, free_at=free)
    assert later == [0.0] and free == {"a.example": 202.0}


def test_no_gap_means_no_wait() -> None:
    delays, free = pace_by_host(["https://a.example/"] * 3, gap=0, now=5.0, free_at={})
    assert delays == [0.0, 0.0, 0.0] and free == {}
