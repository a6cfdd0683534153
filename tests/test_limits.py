"""Size and time: bodies over the cap, decompression bombs, lying lengths, servers that drip
or never answer, and bodies made to be slow to read.  Each is cut off with a clear stored
error, quickly, and no other source in the pass waits for it."""

from __future__ import annotations

import asyncio
import functools
import gzip
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import brotli
import pytest

import helpers
from conftest import FeedServer, Request, Response, Result
from hostile import add, item, rss, run_pass, small_feed, within
from rawserver import RawServer, read_request
from townsquare.config import load
from townsquare.ingest.parse import parse_feed
from townsquare.ingest.pipeline import WINDOW
from townsquare.store import Store

CAP = 1_000_000
TOO_BIG = "the feed is larger than the 1 MB limit"
FEED = small_feed("slow")


@pytest.fixture(autouse=True)
def limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 1 MB cap and a 1 second deadline, so that the tests are quick."""
    monkeypatch.setenv("TOWNSQUARE_MAX_BODY_BYTES", str(CAP))
    monkeypatch.setenv("TOWNSQUARE_FETCH_TIMEOUT", "1")


@pytest.fixture
def raw() -> Iterator[Callable[..., RawServer]]:
    servers: list[RawServer] = []

    def start(handler: Callable[[socket.socket], None]) -> RawServer:
        servers.append(RawServer(handler))
        return servers[-1]

    yield start
    for srv in servers:
        srv.close()


# --- size -----------------------------------------------------------------------------------


def test_body_over_the_cap_is_refused(
    server: FeedServer, store: Store, run: Callable[..., Result]
) -> None:
    add(store, server.feed("/big.xml", rss(item(1, content="x" * (CAP + 10)))), "Big")
    add(store, server.feed("/small.xml", small_feed("small")), "Small")
    outcome = run_pass(run)
    assert outcome.source("Big")["last_error"] == TOO_BIG
    assert outcome.posts_of("Big") == []
    assert len(outcome.posts_of("Small")) == 2


def test_cap_is_configurable(
    server: FeedServer, store: Store, run: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOWNSQUARE_MAX_BODY_BYTES", "2500")
    add(store, server.feed("/feed.xml", rss(item(1, content="x" * 3000))), "Blog")
    assert (
        run_pass(run).source("Blog")["last_error"] == "the feed is larger than the 0.0025 MB limit"
    )


@pytest.mark.parametrize("chunked", [False, True], ids=["until-close", "chunked"])
def test_endless_body_is_cut_off_while_streaming(
    raw: Callable[..., RawServer], store: Store, run: Callable[..., Result], chunked: bool
) -> None:
    sent = [0]

    def endless(conn: socket.socket) -> None:
        read_request(conn)
        framing = "Transfer-Encoding: chunked" if chunked else "Connection: close"
        conn.sendall(
            f"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n{framing}\r\n\r\n".encode()
        )
        block = b"<rss><channel>" + b"<item><title>x</title></item>" * 2000
        if chunked:
            block = f"{len(block):x}\r\n".encode() + block + b"\r\n"
        while True:  # until the client hangs up
            conn.sendall(block)
            sent[0] += len(block)

    add(store, raw(endless).url("/feed.xml"), "Endless")
    outcome = within(10, lambda: run_pass(run))
    assert outcome.source("Endless")["last_error"] == TOO_BIG
    # Stopped near the cap: what was sent is the cap plus what the sockets' buffers hold.
    assert sent[0] < CAP + 16_000_000


@functools.cache
def _bomb(encoding: str) -> bytes:
    zeros = b"\0" * (50 * CAP)
    if encoding == "gzip":
        return gzip.compress(zeros, compresslevel=9)
    if encoding == "deflate":
        return zlib.compress(zeros, 9)
    if encoding == "br":
        return brotli.compress(zeros, quality=5)
    if encoding == "gzip, gzip":
        return gzip.compress(gzip.compress(zeros, compresslevel=9), compresslevel=9)
    raise AssertionError(encoding)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "gzip, gzip"])
def test_decompression_bomb_is_capped(
    server: FeedServer, store: Store, run: Callable[..., Result], encoding: str
) -> None:
    body = _bomb(encoding)
    assert len(body) < CAP // 10  # small on the wire, 50 MB once inflated
    bomb = Response(200, body, {"Content-Encoding": encoding, "Content-Type": "application/xml"})
    add(store, server.respond("/bomb.xml", bomb), "Bomb")
    outcome = within(10, lambda: run_pass(run))
    # aiohttp undoes one layer of compression; a second layer stays packed and unreadable.
    assert outcome.source("Bomb")["last_error"] in (
        TOO_BIG,
        "the feed is not readable XML: Start tag expected, '<' not found (line 1)",
    )


def test_compressed_feed_under_the_cap_is_read(
    server: FeedServer, store: Store, run: Callable[..., Result]
) -> None:
    body = rss("".join(item(n, content="<p>" + "word " * 1000 + "</p>") for n in range(150)))
    assert CAP // 2 < len(body) < CAP
    zipped = Response(200, gzip.compress(body), {"Content-Encoding": "gzip"})
    add(store, server.respond("/feed.xml", zipped), "Zipped")
    assert len(run_pass(run).posts_of("Zipped")) == 150


# --- Content-Length that lies ----------------------------------------------------------------


def test_content_length_longer_than_the_body(
    raw: Callable[..., RawServer], store: Store, run: Callable[..., Result]
) -> None:
    def short_then_close(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + FEED[:100])
        conn.shutdown(socket.SHUT_WR)

    def short_then_silence(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + FEED[:100])
        time.sleep(3)

    add(store, raw(short_then_close).url("/feed.xml"), "Closes")
    add(store, raw(short_then_silence).url("/feed.xml"), "Silent")
    outcome = within(10, lambda: run_pass(run))
    assert outcome.source("Closes")["last_error"] == (
        "the connection closed before the whole body arrived"
    )
    assert outcome.source("Silent")["last_error"] == "no complete answer within 1 second"


def test_content_length_shorter_than_the_body(
    server: FeedServer, store: Store, run: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The body is cut at the stated length, or refused when aiohttp sees the extra bytes
    (it depends on how they arrive); either way they must not spoil the next answer on the
    same connection."""
    monkeypatch.setenv("TOWNSQUARE_FETCH_PER_HOST", "1")  # one connection, reused
    cut = FEED.index(b"<item>", FEED.index(b"<item>") + 1)  # keep the first item only
    add(
        store,
        server.respond("/liar.xml", Response(200, FEED, {"Content-Length": str(cut)})),
        "Liar",
    )
    for n in range(3):
        add(store, server.feed(f"/honest{n}.xml", small_feed(f"honest{n}")), f"Honest {n}")
    outcome = within(10, lambda: run_pass(run))
    liar = outcome.source("Liar")
    if liar["status"] == "ok":
        assert [p["title"] for p in outcome.posts_of("Liar")] == ["Post 1"]
    else:
        assert liar["last_error"] == "the server's answer was not valid HTTP (bad status line)"
    for n in range(3):
        assert outcome.source(f"Honest {n}")["status"] == "ok"
        assert len(outcome.posts_of(f"Honest {n}")) == 2


# --- time -----------------------------------------------------------------------------------


def _drip_body(conn: socket.socket) -> None:
    read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
    for byte in FEED * 100:
        conn.sendall(bytes([byte]))
        time.sleep(0.05)


def _drip_headers(conn: socket.socket) -> None:
    read_request(conn)
    for byte in b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"y" * 1000:
        conn.sendall(bytes([byte]))
        time.sleep(0.05)


def _never_answer(conn: socket.socket) -> None:
    read_request(conn)
    time.sleep(5)


def _never_read(conn: socket.socket) -> None:
    time.sleep(5)


@pytest.mark.parametrize(
    "handler",
    [_drip_body, _drip_headers, _never_answer, _never_read],
    ids=["drips the body", "drips the headers", "never answers", "never reads"],
)
def test_slow_server_is_cut_off_by_the_deadline(
    raw: Callable[..., RawServer],
    store: Store,
    run: Callable[..., Result],
    handler: Callable[[socket.socket], None],
) -> None:
    add(store, raw(handler).url("/feed.xml"), "Slow")
    began = time.monotonic()
    outcome = within(10, lambda: run_pass(run))
    assert outcome.source("Slow")["last_error"] == "no complete answer within 1 second"
    assert time.monotonic() - began < 4


def test_slow_hosts_do_not_hold_up_other_sources(
    raw: Callable[..., RawServer],
    server: FeedServer,
    store: Store,
    run: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """More hostile sources than there are fetch slots, all on one host: the good sources
    on another host are fetched at once, and every hostile one is really tried."""
    monkeypatch.setenv("TOWNSQUARE_FETCH_TIMEOUT", "2")
    monkeypatch.setenv("TOWNSQUARE_FETCH_CONCURRENCY", "3")
    monkeypatch.setenv("TOWNSQUARE_FETCH_PER_HOST", "2")
    hostile = raw(_never_answer)
    for n in range(4):
        add(store, hostile.url(f"/feed{n}.xml"), f"Hostile {n}")
    arrivals: list[float] = []
    lock = threading.Lock()

    def good(request: Request) -> Response:
        with lock:
            arrivals.append(time.monotonic())
        return Response(
            200, small_feed(request.path[1:-4]), {"Content-Type": "application/rss+xml"}
        )

    for n in range(6):
        add(store, server.route(f"/good{n}.xml", good), f"Good {n}")

    began = time.monotonic()
    outcome = within(15, lambda: run_pass(run))
    took = time.monotonic() - began

    assert len(arrivals) == 6 and max(arrivals) - began < 1.8  # before any deadline passed
    for n in range(6):
        assert outcome.source(f"Good {n}")["status"] == "ok"
    for n in range(4):
        assert outcome.source(f"Hostile {n}")["last_error"] == "no complete answer within 2 seconds"
    assert hostile.connections == 4  # none timed out waiting for its turn
    assert took < 7  # two rounds of two on the hostile host (4 s), not one at a time (8 s)


def test_a_large_pass_has_only_a_window_of_sources_under_way(
    server: FeedServer, store: Store
) -> None:
    """Sources start as others finish: a pass of 300 holds the state of a few, not of
    every one, so its memory does not grow with the number of blogs."""
    config = load(
        {"db": store.db.url, "fetch_concurrency": "4", "fetch_per_host": "4"},
        environ={"TOWNSQUARE_ALLOW_NETWORKS": "127.0.0.1/32"},
    )
    for n in range(300):
        url = server.feed(f"/many{n}.xml", small_feed(f"many{n}"))
        add(store, url, f"Blog {n}")
    most = 0

    def progress(done: int, total: int) -> None:  # called in the pass's event loop
        nonlocal most
        most = max(most, len(asyncio.all_tasks()))

    report = helpers.run_pass(store, config, progress=progress)
    assert len(report.sources) == 300 and report.failed == 0
    assert most <= 4 * WINDOW + 4, most  # the pass itself, and a few of aiohttp's


# --- bodies made to be slow to read ---------------------------------------------------------

JSON_FEED = b'{"version": "https://jsonfeed.org/version/1.1", "items": ['
SLOW_BODIES = [
    ("unclosed DOCTYPEs", b"<rss><channel>" + b"<!DOCTYPE" * 100_000),
    ("a title of '<'", rss(f"<item><title>{'&lt;' * 200_000}</title><guid>1</guid></item>")),
    ("a title of '<a'", rss(f"<item><title><![CDATA[{'<a' * 400_000}]]></title></item>")),
    ("'<img' without end", rss(item(1, content="<img " * 180_000))),
    ("a date of a megabyte", rss(f"<item><pubDate>1 Jan 2024 {'1' * 900_000}</pubDate></item>")),
    ("JSON nested deeply", b"[" * 900_000),
    ("JSON nested a little too deeply", b"[" * 5_000),
    ("JSON of 300,000 objects", JSON_FEED + b"{}," * 300_000 + b"{}]}"),
    ("JSON Feed nested deeply", JSON_FEED + b"[" * 900_000),
    ("XML nested deeply", rss("<item><guid>1</guid>" + "<div>" * 150_000)),
]


@pytest.mark.parametrize(("body"), [b for _, b in SLOW_BODIES], ids=[n for n, _ in SLOW_BODIES])
def test_body_made_to_be_slow_is_read_quickly(
    server: FeedServer, store: Store, run: Callable[..., Result], body: bytes
) -> None:
    assert len(body) <= CAP
    add(store, server.feed("/feed.xml", body), "Slow to read")
    add(store, server.feed("/other.xml", small_feed("other")), "Other")
    outcome = within(8, lambda: run_pass(run))
    assert len(outcome.posts_of("Other")) == 2
    source = outcome.source("Slow to read")
    if source["status"] == "ok":
        assert all(len(p["title"]) <= 1000 for p in outcome.posts_of("Slow to read"))
    else:
        assert source["last_error"].startswith(
            ("this RSS feed", "the feed is not readable", "this is not a feed")
        ), source["last_error"]


def test_at_most_ten_thousand_entries_are_read(
    server: FeedServer, store: Store, run: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOWNSQUARE_MAX_BODY_BYTES", "10000000")
    body = rss("".join(f"<item><guid>{n}</guid><title>P{n}</title></item>" for n in range(20_000)))
    add(store, server.feed("/feed.xml", body), "Huge")
    outcome = within(30, lambda: run_pass(run))
    titles = {p["title"] for p in outcome.posts_of("Huge")}
    assert len(titles) == 10_000 and "P0" in titles and "P9999" in titles and "P10000" not in titles


def test_a_flood_of_entries_costs_a_parsing_process_little_memory(tmp_path: Path) -> None:
    """Only the first 10,000 entries are read, so the rest are not parsed either: a 10 MB
    feed of 300,000 items made a tree of 150 MB, and its parsing process peaked at 181 MB
    (297 MB before a broken feed's first tree was let go)."""
    items = "".join(f"<item><guid>{n}</guid></item>" for n in range(400_000))
    flood = tmp_path / "flood.xml"
    flood.write_bytes(rss(items)[:10_000_000])  # cut off at the size cap, as it would be
    # The peak is read from /proc (VmHWM): getrusage's would be this process's, which the
    # child is forked from.
    code = f"""
import re
from pathlib import Path
from townsquare.ingest.parse import parse_feed
feed = parse_feed(Path({str(flood)!r}).read_bytes(), "https://flood.example/feed.xml")
peak = re.search(r"VmHWM:\\s*(\\d+) kB", Path("/proc/self/status").read_text())
print(len(feed.entries), feed.entries[-1].guid, peak.group(1))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    entries, last, peak_kb = int(out[0]), out[1], int(out[2])
    assert (entries, last) == (10_000, "9999")
    assert peak_kb < 100_000, f"parsing the flood peaked at {peak_kb // 1024} MB"


def test_markup_shown_in_posts_is_not_taken_for_entries() -> None:
    """A post may show markup, in a CDATA section or a comment, a great deal of it: it is
    text, and no part of the feed is left unread for it."""
    shown = "<item><title>An example</title></item><entry/>" * 300
    body = rss(
        "".join(
            f"<item><guid>{n}</guid><title>Post {n}</title><!-- <item>{shown} -->"
            f"<description><![CDATA[<pre>{shown}</pre>]]></description></item>"
            for n in range(60)
        )
    )
    assert len(body) > 1_000_000 and body.count(b"<item>") > 30_000
    feed = parse_feed(body, "https://example.org/feed.xml")
    assert [e.title for e in feed.entries] == [f"Post {n}" for n in range(60)]
    assert feed.entries[59].summary == f"<pre>{shown}</pre>"


@pytest.mark.parametrize(
    "html", ["<img>" * 1_900_000, "<b>" * 3_000_000, "<p>" + "word " * 1_900_000 + "</p>"],
    ids=["empty images", "unclosed tags", "long text"],
)  # fmt: skip
def test_post_html_is_cut_before_it_is_sanitised(
    server: FeedServer,
    store: Store,
    run: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
    html: str,
) -> None:
    """Ten megabytes of tags that sanitise to seventy-four (each <img> gains two attributes),
    or that take seconds and most of a gigabyte to sanitise, are cut first."""
    monkeypatch.setenv("TOWNSQUARE_MAX_BODY_BYTES", "10000000")
    add(store, server.feed("/feed.xml", rss(item(1, site="cut", content=html))), "Cut")
    outcome = within(8, lambda: run_pass(run))
    (post,) = outcome.posts_of("Cut")
    assert 0 < len(post["content_html"]) <= 1_000_100
