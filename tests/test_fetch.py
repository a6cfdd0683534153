"""Fetching one URL politely, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import brotli
import pytest

from conftest import FeedServer, Request, Response
from helpers import Item, rss
from townsquare import __version__
from townsquare.config import Config, load
from townsquare.ingest.fetch import Fetcher, parse_retry_after
from townsquare.model import FetchOutcome, FetchResult

FEED = rss([Item("Hello", link="https://blog.example/hello", guid="hello")])


def fetch(config: Config, url: str, **validators: str) -> FetchResult:
    async def go() -> FetchResult:
        async with Fetcher(config) as fetcher:
            return await fetcher.fetch(url, **validators)

    return asyncio.run(go())


def test_user_agent_names_townsquare_and_the_site(server: FeedServer, tmp_path: Path) -> None:
    config = load(
        {"db": str(tmp_path / "t.db")},
        environ={
            "TOWNSQUARE_ALLOW_NETWORKS": "127.0.0.1/32",
            "TOWNSQUARE_BASE_URL": "https://blogs.example.org",
        },
    )
    url = server.feed("/feed", FEED)
    assert fetch(config, url).outcome is FetchOutcome.OK
    headers = server.hits("/feed")[0].headers
    assert headers["user-agent"] == f"Townsquare/{__version__} (+https://blogs.example.org/)"
    assert "application/rss+xml" in headers["accept"]
    assert "application/atom+xml" in headers["accept"]


def test_first_fetch_is_unconditional_then_validators_are_sent_back(
    server: FeedServer, config: Config
) -> None:
    url = server.feed("/feed", FEED)
    first = fetch(config, url)
    assert first.outcome is FetchOutcome.OK and first.status == 200
    assert first.etag and first.last_modified
    sent = server.hits("/feed")[0].headers
    assert "if-none-match" not in sent and "if-modified-since" not in sent

    second = fetch(config, url, etag=first.etag, last_modified=first.last_modified)
    assert (second.outcome, second.status, second.body) == (FetchOutcome.NOT_MODIFIED, 304, b"")
    sent = server.hits("/feed")[1].headers
    assert sent["if-none-match"] == first.etag
    assert sent["if-modified-since"] == first.last_modified


def _encode(body: bytes, coding: str) -> bytes:
    if coding == "gzip":
        return gzip.compress(body)
    if coding == "deflate":
        return zlib.compress(body)
    if coding == "raw-deflate":  # what some servers send for "deflate"
        squeezer = zlib.compressobj(wbits=-15)
        return squeezer.compress(body) + squeezer.flush()
    assert coding == "br"
    return bytes(brotli.compress(body))


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate", "br"])
def test_compressed_bodies_are_decompressed(
    coding: str, server: FeedServer, config: Config
) -> None:
    header = "deflate" if coding == "raw-deflate" else coding
    body = FEED.encode()
    url = server.respond(
        "/feed",
        Response(
            200,
            _encode(body, coding),
            {"Content-Type": "application/rss+xml", "Content-Encoding": header},
        ),
    )
    result = fetch(config, url)
    assert result.outcome is FetchOutcome.OK, result.error
    assert result.body == body
    accepted = server.hits("/feed")[0].headers["accept-encoding"]
    assert {"gzip", "deflate", "br"} <= {c.strip() for c in accepted.split(",")}


def _chain(server: FeedServer, hops: int, status: int = 302) -> str:
    """/r0 -> /r1 -> ... -> /r{hops} which serves the feed."""
    for i in range(hops):
        server.respond(f"/r{i}", Response(status, headers={"Location": f"/r{i + 1}"}))
    server.feed(f"/r{hops}", FEED)
    return server.url("/r0")


def test_five_redirects_are_followed(server: FeedServer, config: Config) -> None:
    result = fetch(config, _chain(server, 5))
    assert result.outcome is FetchOutcome.OK, result.error
    assert result.final_url == server.url("/r5")
    assert [hop.status for hop in result.redirects] == [302] * 5


def test_a_sixth_redirect_is_refused(server: FeedServer, config: Config) -> None:
    result = fetch(config, _chain(server, 6))
    assert result.outcome is FetchOutcome.ERROR
    assert result.error == "more than 5 redirects in a row"
    assert server.hits("/r6") == []


def test_a_redirect_loop_is_refused(server: FeedServer, config: Config) -> None:
    server.respond("/a", Response(301, headers={"Location": "/b"}))
    url = server.respond("/b", Response(301, headers={"Location": "/a"}))
    result = fetch(config, url)
    assert (result.outcome, result.error) == (FetchOutcome.ERROR, "the feed redirects in a loop")


def test_conditional_headers_follow_redirects(server: FeedServer, config: Config) -> None:
    url = _chain(server, 1, status=301)
    first = fetch(config, url)
    assert first.etag
    second = fetch(config, url, etag=first.etag)
    assert second.outcome is FetchOutcome.NOT_MODIFIED
    assert server.hits("/r1")[-1].headers["if-none-match"] == first.etag


@pytest.mark.parametrize(
    ("status", "outcome", "error"),
    [
        (404, FetchOutcome.ERROR, "the server answered 404 Not Found"),
        (500, FetchOutcome.ERROR, "the server answered 500 Internal Server Error"),
        (410, FetchOutcome.GONE, "the feed is gone: the server answered 410 Gone"),
        (
            429,
            FetchOutcome.RETRY_LATER,
            "the server answered 429 Too Many Requests (asked us to come back later)",
        ),
        (
            503,
            FetchOutcome.RETRY_LATER,
            "the server answered 503 Service Unavailable (asked us to come back later)",
        ),
    ],
)
def test_http_failures_are_results_with_plain_messages(
    status: int, outcome: FetchOutcome, error: str, server: FeedServer, config: Config
) -> None:
    url = server.respond("/feed", Response(status, b"no"))
    result = fetch(config, url)
    assert (result.outcome, result.status, result.error) == (outcome, status, error)


def test_a_refused_connection_is_a_result_with_a_plain_message(config: Config) -> None:
    spare = FeedServer()  # a port that was just in use and is now closed
    url = spare.url("/feed")
    spare.close()
    result = fetch(config, url)
    assert result.outcome is FetchOutcome.ERROR and result.status is None
    assert result.error == "could not connect to 127.0.0.1: the connection was refused"


def test_retry_after_in_seconds_and_as_an_http_date(server: FeedServer, config: Config) -> None:
    def later(request: Request) -> Response:
        return Response(429, headers={"Retry-After": "120"})

    url = server.route("/feed", later)
    before = datetime.now(UTC)
    result = fetch(config, url)
    assert result.retry_after is not None
    assert timedelta(seconds=119) <= result.retry_after - before <= timedelta(seconds=122)

    when = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0)
    url = server.respond(
        "/busy", Response(503, headers={"Retry-After": format_datetime(when, usegmt=True)})
    )
    assert fetch(config, url).retry_after == when


NOW = datetime(2024, 7, 5, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3600", NOW + timedelta(hours=1)),
        (" 60 ", NOW + timedelta(minutes=1)),
        ("Fri, 05 Jul 2024 12:00:00 GMT", NOW + timedelta(hours=2)),
        ("Fri, 05 Jul 2024 13:00:00 +0100", NOW + timedelta(hours=2)),
        ("999999", NOW + timedelta(hours=24)),  # capped
        ("Mon, 08 Jul 2024 10:00:00 GMT", NOW + timedelta(hours=24)),  # capped
        ("Thu, 04 Jul 2024 10:00:00 GMT", NOW),  # in the past: now
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, expected: datetime | None) -> None:
    assert parse_retry_after(header, NOW) == expected


def test_cache_control_and_expires_are_read(server: FeedServer, config: Config) -> None:
    later = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    body = rss([Item("One")]).encode()
    headers = {"Cache-Control": "public, max-age=7200", "Expires": format_datetime(later, True)}
    fetched = fetch(config, server.respond("/both", Response(200, body, headers)))
    assert (fetched.max_age, fetched.expires) == (7200, later)
    bad = fetch(config, server.respond("/bad", Response(200, body, {"Expires": "0"})))
    assert (bad.max_age, bad.expires) == (None, None)  # unreadable: stale already
