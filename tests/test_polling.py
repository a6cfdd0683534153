"""Polling over time: what each fetch does to a blog's stored state.

Every test drives the real pipeline (``Ingest.run_pass``) against a real HTTP
server on 127.0.0.1 and reads the outcome back from a real SQLite store.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from conftest import FeedServer, Request, Response
from helpers import Item, rss, run_pass
from townsquare.config import Config
from townsquare.ingest.schedule import MAX_INTERVAL
from townsquare.model import Source, SourceStatus
from townsquare.store import Store

FEED = rss([Item("Hello", link="https://blog.example/hello", guid="hello")])
TEN_MINUTES = timedelta(minutes=10)


@pytest.fixture
def store(any_store: Store) -> Store:
    """Every test here runs on SQLite and on PostgreSQL."""
    return any_store


def add(store: Store, url: str, title: str = "Blog") -> Source:
    return store.add_source(url, title, now=datetime.now(UTC))


def fetch_all(store: Store, config: Config) -> None:
    run_pass(store, config, force=True)


def near(moment: datetime | None, target: datetime, slack: timedelta) -> bool:
    return moment is not None and abs(moment - target) <= slack


# --- conditional GET ---------------------------------------------------------------------


def test_a_304_costs_nothing_and_keeps_the_validators(
    server: FeedServer, store: Store, config: Config
) -> None:
    url = server.feed("/feed", FEED)
    source = add(store, url)
    first = run_pass(store, config)
    assert (first.new, first.unchanged) == (1, 0)
    stored = store.source(source.id)
    sent = server.hits("/feed")[0].headers
    assert stored.etag and stored.last_modified
    assert "if-none-match" not in sent

    second = run_pass(store, config, force=True)
    sent = server.hits("/feed")[1].headers
    assert sent["if-none-match"] == stored.etag
    assert sent["if-modified-since"] == stored.last_modified
    assert [r.outcome for r in second.sources] == ["not_modified"]
    assert (second.new, second.updated, second.unchanged, second.failed) == (0, 0, 0, 0)
    after = store.source(source.id)
    assert (after.status, after.http_status, after.last_error) == (SourceStatus.OK, 304, None)
    assert (after.etag, after.last_modified) == (stored.etag, stored.last_modified)
    assert after.last_success_at is not None
    assert after.last_success_at >= stored.last_success_at  # type: ignore[operator]
    assert store.count_posts() == 1


def test_last_modified_alone_is_sent_back(server: FeedServer, store: Store, config: Config) -> None:
    stamp = "Wed, 03 Jul 2024 08:00:00 GMT"

    def handler(request: Request) -> Response:
        if request.headers.get("if-modified-since") == stamp:
            return Response(304)
        return Response(200, FEED.encode(), {"Last-Modified": stamp})

    add(store, server.route("/feed", handler))
    fetch_all(store, config)
    fetch_all(store, config)
    second = server.hits("/feed")[1].headers
    assert second["if-modified-since"] == stamp and "if-none-match" not in second


def test_validators_of_an_unreadable_body_are_not_kept(
    server: FeedServer, store: Store, config: Config
) -> None:
    """Otherwise the next fetch would get a 304 and the feed would never be read."""
    url = server.feed("/feed", b"<html><body>maintenance</body></html>", "text/html")
    source = add(store, url)
    fetch_all(store, config)
    stored = store.source(source.id)
    assert stored.etag is None and stored.last_modified is None
    assert stored.last_error == "this is a web page, not a feed"


# --- a server that answers every fetch with the whole feed --------------------------------


def test_the_same_feed_sent_again_without_a_304_is_not_read_again(
    server: FeedServer, store: Store, config: Config
) -> None:
    body = FEED.encode()
    add(store, server.route("/feed", lambda request: Response(200, body)))  # no validators
    first = run_pass(store, config)
    assert (first.new, first.unchanged) == (1, 0)

    second = run_pass(store, config, force=True)
    # Read again, its one post would have been counted as unchanged.
    assert [r.outcome for r in second.sources] == ["not_modified"]
    assert (second.new, second.updated, second.unchanged, second.failed) == (0, 0, 0, 0)
    source = store.sources()[0]
    assert (source.status, source.http_status, source.last_error) == (SourceStatus.OK, 200, None)

    body = rss(
        [
            Item("Hello", link="https://blog.example/hello", guid="hello"),
            Item("Again", link="https://blog.example/again", guid="again"),
        ]
    ).encode()
    third = run_pass(store, config, force=True)
    assert [r.outcome for r in third.sources] == ["ok"]
    assert (third.new, third.unchanged) == (1, 1)
    assert store.count_posts() == 2


def test_the_same_bytes_under_another_content_type_are_read_again(
    server: FeedServer, store: Store, config: Config
) -> None:
    """The charset of the Content-Type can change what the same bytes say."""
    body = FEED.encode()
    kind = "application/rss+xml"
    add(store, server.route("/feed", lambda request: Response(200, body, {"Content-Type": kind})))
    run_pass(store, config)
    kind = "application/rss+xml; charset=utf-8"
    again = run_pass(store, config, force=True)
    assert [r.outcome for r in again.sources] == ["ok"]
    assert again.unchanged == 1


def test_an_unreadable_feed_sent_again_is_still_an_error(
    server: FeedServer, store: Store, config: Config
) -> None:
    page = b"<html><body>maintenance</body></html>"
    source = add(store, server.feed("/feed", page, "text/html"))
    fetch_all(store, config)
    again = run_pass(store, config, force=True)
    assert [r.outcome for r in again.sources] == ["error"]
    after = store.source(source.id)
    assert after.last_error == "this is a web page, not a feed"
    assert after.consecutive_failures == 2


# --- permanent and temporary redirects ---------------------------------------------------


@pytest.mark.parametrize("status", [301, 308])
def test_a_permanent_redirect_moves_the_feed_after_two_fetches_in_a_row(
    status: int, server: FeedServer, store: Store, config: Config
) -> None:
    old = server.respond("/old", Response(status, headers={"Location": "/new"}))
    new = server.feed("/new", FEED)
    source = add(store, old)

    fetch_all(store, config)
    once = store.source(source.id)
    assert once.url == old and once.redirect_url == new and once.redirect_count == 1

    fetch_all(store, config)
    moved = store.source(source.id)
    assert moved.url == new
    assert store.source_by_url(old) == moved  # the old address still finds the blog

    fetch_all(store, config)
    assert len(server.hits("/old")) == 2  # fetched from the new address from now on
    assert store.count_posts() == 1


def test_a_permanent_redirect_seen_twice_but_not_in_a_row_moves_nothing(
    server: FeedServer, store: Store, config: Config
) -> None:
    redirecting = True

    def old(request: Request) -> Response:
        if redirecting:
            return Response(301, headers={"Location": "/new"})
        return Response(200, FEED.encode())

    url = server.route("/old", old)
    server.feed("/new", FEED)
    source = add(store, url)
    fetch_all(store, config)
    redirecting = False
    fetch_all(store, config)
    assert store.source(source.id).redirect_count == 0
    redirecting = True
    fetch_all(store, config)
    stored = store.source(source.id)
    assert stored.url == url and stored.redirect_count == 1


@pytest.mark.parametrize("status", [302, 303, 307])
def test_a_temporary_redirect_never_moves_the_feed(
    status: int, server: FeedServer, store: Store, config: Config
) -> None:
    url = server.respond("/feed", Response(status, headers={"Location": "/today"}))
    server.feed("/today", FEED)
    source = add(store, url)
    for _ in range(3):
        fetch_all(store, config)
    stored = store.source(source.id)
    assert (stored.url, stored.redirect_url, stored.status) == (url, None, SourceStatus.OK)
    assert store.count_posts() == 1


# --- gone, retry later, back off ---------------------------------------------------------


def test_410_disables_the_blog_as_gone(server: FeedServer, store: Store, config: Config) -> None:
    url = server.respond("/feed", Response(410, b"gone"))
    source = add(store, url)
    fetch_all(store, config)
    gone = store.source(source.id)
    assert (gone.enabled, gone.disabled_reason, gone.status) == (False, "gone", SourceStatus.GONE)
    assert gone.http_status == 410
    assert gone.last_error == "the feed is gone: the server answered 410 Gone"
    fetch_all(store, config)  # even --all leaves a disabled blog alone
    assert len(server.hits("/feed")) == 1


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_seconds_sets_the_next_fetch_and_holds_for_fetch_all(
    status: int, server: FeedServer, store: Store, config: Config
) -> None:
    url = server.respond("/feed", Response(status, headers={"Retry-After": "7200"}))
    source = add(store, url)
    before = datetime.now(UTC)
    fetch_all(store, config)
    stored = store.source(source.id)
    assert stored.status is SourceStatus.ERROR and stored.http_status == status
    assert near(stored.next_due_at, before + timedelta(hours=2), timedelta(seconds=5))
    assert stored.retry_after == stored.next_due_at

    report = run_pass(store, config, force=True)
    assert report.sources == [] and len(server.hits("/feed")) == 1
    later = before + timedelta(hours=2, seconds=5)  # once Retry-After has passed
    claimed = store.claim_due("test", later, lease=timedelta(minutes=1), limit=10, force=True)
    assert [s.id for s in claimed] == [source.id]


def test_retry_after_as_an_http_date(server: FeedServer, store: Store, config: Config) -> None:
    when = (datetime.now(UTC) + timedelta(hours=5)).replace(microsecond=0)
    url = server.respond(
        "/feed", Response(503, headers={"Retry-After": format_datetime(when, usegmt=True)})
    )
    source = add(store, url)
    fetch_all(store, config)
    assert store.source(source.id).next_due_at == when


@pytest.mark.parametrize("header", ["86400000", "Fri, 01 Jan 2100 00:00:00 GMT"])
def test_retry_after_is_capped_at_a_day(
    header: str, server: FeedServer, store: Store, config: Config
) -> None:
    url = server.respond("/feed", Response(429, headers={"Retry-After": header}))
    source = add(store, url)
    before = datetime.now(UTC)
    fetch_all(store, config)
    stored = store.source(source.id)
    assert near(stored.next_due_at, before + timedelta(hours=24), timedelta(seconds=5))


def test_503_without_retry_after_backs_off(
    server: FeedServer, store: Store, config: Config
) -> None:
    url = server.respond("/feed", Response(503))
    source = add(store, url)
    before = datetime.now(UTC)
    fetch_all(store, config)
    stored = store.source(source.id)
    assert stored.retry_after is None
    assert near(stored.next_due_at, before + TEN_MINUTES, TEN_MINUTES * 0.1 + timedelta(seconds=5))


def test_failures_back_off_exponentially_then_a_success_resets(
    server: FeedServer, store: Store, config: Config
) -> None:
    failing = True

    def flaky(request: Request) -> Response:
        return Response(500, b"oops") if failing else Response(200, FEED.encode())

    source = add(store, server.route("/feed", flaky))
    for n in range(1, 5):
        fetch_all(store, config)
        stored = store.source(source.id)
        assert stored.consecutive_failures == n
        assert stored.status is SourceStatus.ERROR and stored.enabled
        wait = stored.next_due_at - stored.last_fetched_at  # type: ignore[operator]
        expected = TEN_MINUTES * 2 ** (n - 1)
        assert (
            expected * 0.9 - timedelta(seconds=1) <= wait <= expected * 1.1 + timedelta(seconds=1)
        )
    assert stored.last_success_at is None

    failing = False
    fetch_all(store, config)
    healthy = store.source(source.id)
    assert (healthy.status, healthy.consecutive_failures, healthy.last_error) == (
        SourceStatus.OK,
        0,
        None,
    )
    assert healthy.last_success_at == healthy.last_fetched_at
    # Back on the blog's own rhythm: its only post is from 2024, so once a day (jittered).
    wait = healthy.next_due_at - healthy.last_fetched_at  # type: ignore[operator]
    assert MAX_INTERVAL * 0.9 - timedelta(seconds=1) <= wait <= MAX_INTERVAL


def test_a_failing_blog_keeps_its_last_success_and_its_posts(
    server: FeedServer, store: Store, config: Config
) -> None:
    healthy = True

    def handler(request: Request) -> Response:
        return Response(200, FEED.encode()) if healthy else Response(404, b"")

    source = add(store, server.route("/feed", handler))
    fetch_all(store, config)
    success = store.source(source.id).last_success_at
    healthy = False
    fetch_all(store, config)
    failed = store.source(source.id)
    assert failed.last_success_at == success is not None
    assert failed.last_error == "the server answered 404 Not Found"
    assert failed.http_status == 404 and failed.consecutive_failures == 1
    assert store.count_posts() == 1


def test_every_fetch_is_logged_with_the_source_state(
    server: FeedServer, store: Store, config: Config
) -> None:
    source = add(store, server.feed("/feed", FEED))
    fetch_all(store, config)
    fetch_all(store, config)
    rows = store.db.fetchall(
        "SELECT outcome, http_status, new_posts, error FROM fetch_log WHERE source_id = ?"
        " ORDER BY id",
        (source.id,),
    )
    assert rows == [
        {"outcome": "ok", "http_status": 200, "new_posts": 1, "error": None},
        {"outcome": "not_modified", "http_status": 304, "new_posts": 0, "error": None},
    ]


def test_the_schedule_decides_what_plain_fetch_takes(
    server: FeedServer, store: Store, config: Config
) -> None:
    """Without --all, a blog fetched a moment ago is not due; a new one is."""
    add(store, server.feed("/a", FEED))
    assert len(run_pass(store, config).sources) == 1
    add(store, server.feed("/b", FEED))
    report = run_pass(store, config)
    assert [r.url for r in report.sources] == [server.url("/b")]


def test_times_are_stored_to_the_second_so_due_means_due(store: Store) -> None:
    """A time read back from the store compares equal to the stored one in SQL, on both
    backends: a blog due at the time the store gave out is due at that time."""
    source = add(store, "https://blog.example/feed")
    due = datetime(2026, 11, 26, 9, 30, 15, 700_000, tzinfo=UTC)
    store.update_source(source.id, next_due_at=due)
    stored = store.source(source.id).next_due_at
    assert stored == due.replace(microsecond=0)
    assert store.count_due(stored) == 1
    assert [s.id for s in store.claim_due("test", stored, lease=TEN_MINUTES, limit=5)] == [
        source.id
    ]
