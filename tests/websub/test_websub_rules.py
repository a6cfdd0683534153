"""WebSub's rules as pure functions: signatures, leases, retries, addresses, and the
polling decision for a blog whose hub pushes its posts."""

from __future__ import annotations

import hashlib
import hmac
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from townsquare.ingest.clean import feed_hub
from townsquare.ingest.schedule import PUSHED_INTERVAL, decide
from townsquare.model import FetchOutcome, FetchResult, ParsedFeed, Source, SourceStatus
from townsquare.publish.paths import FeedFormat, FeedScope, feed_at
from townsquare.websub import protocol

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
BODY = b"<feed>new posts</feed>"


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha384", "sha512"])
def test_every_signature_method_the_spec_lists_is_checked(algorithm: str) -> None:
    digest = hmac.new(b"s3cret", BODY, getattr(hashlib, algorithm)).hexdigest()
    assert protocol.signature_problem("s3cret", BODY, f"{algorithm}={digest}") is None
    assert (
        protocol.signature_problem("s3cret", BODY, f"{algorithm.upper()}={digest.upper()}") is None
    )
    assert protocol.sign("s3cret", BODY, algorithm) == f"{algorithm}={digest}"


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        (None, "the content was not signed"),
        ("", "the content was not signed"),
        ("md5=" + hashlib.md5(BODY).hexdigest(), "the signature's method is not sha1, sha256"),
        ("sha256", "the signature's method is not sha1, sha256"),
        (protocol.sign("another secret", BODY), "the signature does not match the content"),
        (protocol.sign("s3cret", BODY + b" "), "the signature does not match the content"),
        ("sha256=", "the signature does not match the content"),
    ],
)
def test_a_bad_or_missing_signature_is_named(header: str | None, problem: str) -> None:
    found = protocol.signature_problem("s3cret", BODY, header)
    assert found is not None and found.startswith(problem)


def test_leases_are_renewed_before_they_end() -> None:
    week = 7 * 86_400
    assert protocol.renew_at(NOW, week) == NOW + timedelta(days=6)
    assert protocol.renew_at(NOW, 60) == NOW + timedelta(seconds=45)
    assert protocol.push_until(NOW + timedelta(days=30), NOW) == NOW + protocol.PUSH_SILENCE
    assert protocol.push_until(NOW + HOUR, NOW) == NOW + HOUR


def test_leases_asked_of_our_hub_are_kept_within_bounds() -> None:
    assert protocol.hub_lease(None, 604_800) == 604_800
    assert protocol.hub_lease("3600", 604_800) == 3600
    assert protocol.hub_lease("5", 604_800) == protocol.MIN_LEASE
    assert protocol.hub_lease("99999999999", 604_800) == protocol.MAX_LEASE
    assert protocol.hub_lease("-5", 604_800) == 604_800
    assert protocol.hub_lease("1e9", 604_800) == 604_800


def test_failed_deliveries_back_off_then_give_up() -> None:
    waits = [protocol.delivery_retry(n) for n in range(1, protocol.MAX_ATTEMPTS + 1)]
    assert waits[:4] == [timedelta(seconds=s) for s in (10, 20, 40, 80)]
    assert waits[-2] == protocol.MAX_RETRY and waits[-1] is None
    given = sum((w for w in waits if w is not None), timedelta())
    assert timedelta(hours=3) < given < timedelta(hours=6)


def test_a_callback_keeps_its_own_query() -> None:
    assert protocol.with_query("https://a.example/cb?id=7", {"hub.mode": "subscribe"}) == (
        "https://a.example/cb?id=7&hub.mode=subscribe"
    )
    assert protocol.with_query("https://a.example/cb", {"a": "b c"}) == "https://a.example/cb?a=b+c"


@pytest.mark.parametrize(
    "value",
    ["https://a.example/cb", "http://127.0.0.1:8080/x?y=1"],
)
def test_web_addresses(value: str) -> None:
    assert protocol.is_web_url(value)


@pytest.mark.parametrize(
    "value",
    [None, "", "ftp://a.example/", "javascript:alert(1)", "https:///x", "https://a.example/#f",
     "https://a.example/ x", "https://" + "a" * 2000 + ".example/"],
)  # fmt: skip
def test_not_web_addresses(value: str | None) -> None:
    assert not protocol.is_web_url(value)


def test_challenges_we_may_echo() -> None:
    assert protocol.is_challenge(protocol.new_challenge())
    assert protocol.is_challenge("<script>")  # echoed as text/plain with nosniff: inert
    assert not protocol.is_challenge("two words")
    assert not protocol.is_challenge("x" * 201)
    assert not protocol.is_challenge(None)


@pytest.mark.parametrize(
    "scope",
    [FeedScope.river(), FeedScope.blog("kelbrook-news"), FeedScope.category("local-government")],
)
@pytest.mark.parametrize("fmt", list(FeedFormat))
def test_every_feed_address_leads_back_to_its_feed(scope: FeedScope, fmt: FeedFormat) -> None:
    assert feed_at(scope.feed_path(fmt)) == (scope, fmt)


@pytest.mark.parametrize(
    "path",
    ["feed.xml", "feeds.atom", "blogs/feed.atom", "blogs/a/b/feed.atom", "tags/x/feed.rss",
     "blogs/Upper/feed.rss", "blogs/../feed.rss", "", "posts/1-x"],
)  # fmt: skip
def test_other_addresses_are_no_feed(path: str) -> None:
    assert feed_at(path) is None


# --- which hub a feed names ---------------------------------------------------------------

FEED = ParsedFeed("atom1.0", "A blog", None, None, (), hub_links=(), self_link=None)
FETCHED = FetchResult("https://a.example/feed", "https://a.example/feed", FetchOutcome.OK)


def test_a_feed_without_a_hub_names_none() -> None:
    assert feed_hub(FEED, FETCHED) is None


def test_the_link_header_wins_over_the_feed() -> None:
    feed = replace(FEED, hub_links=("https://feed-hub.example/",), self_link="https://a.example/s")
    assert feed_hub(feed, FETCHED) == ("https://feed-hub.example/", "https://a.example/s")
    fetched = replace(
        FETCHED, hub_links=("https://header-hub.example/",), self_link="https://a.example/h"
    )
    assert feed_hub(feed, fetched) == ("https://header-hub.example/", "https://a.example/h")


def test_a_feed_without_a_self_link_is_its_own_topic() -> None:
    feed = replace(FEED, hub_links=("javascript:alert(1)", "https://hub.example/"))
    assert feed_hub(feed, FETCHED) == ("https://hub.example/", "https://a.example/feed")


# --- polling a blog whose hub pushes --------------------------------------------------------

SOURCE = Source(
    id=1, url="https://a.example/feed", site_url=None, title="A", slug="a", enabled=True,
    excerpts_only=False, status=SourceStatus.OK, http_status=200, last_error=None,
    consecutive_failures=0, last_fetched_at=NOW - HOUR, last_success_at=NOW - HOUR,
    next_due_at=NOW, etag=None, last_modified=None, created_at=NOW - 10 * HOUR,
    hub_url="https://hub.example/", topic_url="https://a.example/feed",
)  # fmt: skip


def _next_poll(source: Source) -> timedelta:
    state = decide(source, FETCHED, now=NOW, interval=HOUR, rng=random.Random(3))
    return state.next_due_at - NOW


def test_a_pushed_blog_is_polled_daily() -> None:
    wait = _next_poll(replace(SOURCE, push_until=NOW + timedelta(days=5)))
    assert PUSHED_INTERVAL * 0.9 <= wait <= PUSHED_INTERVAL * 1.1


def test_polling_resumes_when_the_push_lapses() -> None:
    assert _next_poll(replace(SOURCE, push_until=NOW + 3 * HOUR)) == 3 * HOUR
    assert 0.9 * HOUR <= _next_poll(replace(SOURCE, push_until=NOW - HOUR)) <= 1.1 * HOUR
    assert 0.9 * HOUR <= _next_poll(SOURCE) <= 1.1 * HOUR


def test_a_feed_that_stops_naming_its_hub_forgets_it() -> None:
    state = decide(SOURCE, FETCHED, now=NOW, interval=HOUR, rng=random.Random(3), hub=None)
    assert (state.hub_url, state.topic_url) == (None, None)
    unchanged = replace(FETCHED, outcome=FetchOutcome.NOT_MODIFIED)
    state = decide(SOURCE, unchanged, now=NOW, interval=HOUR, rng=random.Random(3))
    assert (state.hub_url, state.topic_url) == (SOURCE.hub_url, SOURCE.topic_url)
