"""HTTP oddities: redirect loops, error pages served as feeds, wrong types and charsets,
UTF-16, NUL bytes, huge feeds and titles, broken headers and broken HTTP.  Each gives a
stored post set or a clear stored error, and never ends the pass."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from conftest import FeedServer, Response, Result
from hostile import add, item, rss, run_pass, small_feed, within
from rawserver import RawServer, read_request
from townsquare.store import Store

WEB_PAGE = "this is a web page, not a feed"


@pytest.fixture
def raw() -> Iterator[Callable[..., RawServer]]:
    servers: list[RawServer] = []

    def start(handler: Callable[[socket.socket], None]) -> RawServer:
        servers.append(RawServer(handler))
        return servers[-1]

    yield start
    for srv in servers:
        srv.close()


def redirect(to: str, status: int = 302) -> Response:
    return Response(status, headers={"Location": to})


# --- redirects ------------------------------------------------------------------------------


def test_redirect_loops_and_chains(
    server: FeedServer, store: Store, run: Callable[..., Result]
) -> None:
    server.respond("/self", redirect("/self"))
    server.respond("/a", redirect("/b"))
    server.respond("/b", redirect("/a", 301))
    for n in range(1, 6):  # five hops, then the feed
        server.respond(f"/five/{n}", redirect(f"/five/{n + 1}"))
    server.feed("/five/6", small_feed("five"))
    for n in range(1, 7):  # six hops is too many
        server.respond(f"/six/{n}", redirect(f"/six/{n + 1}"))
    server.feed("/six/7", small_feed("six"))
    for n in range(50):  # a chain that never ends, each hop new
        server.respond(f"/endless/{n}", redirect(f"/endless/{n + 1}", 307))
    server.respond("/nowhere", Response(301))  # no Location
    server.respond("/bad", redirect("http://[::1/feed"))
    server.respond("/badport", redirect("http://127.0.0.1:99999/feed"))
    for path in ("/self", "/a", "/five/1", "/six/1", "/endless/0", "/nowhere", "/bad", "/badport"):
        add(store, server.url(path), path)

    outcome = within(10, lambda: run_pass(run))

    errors = {p: outcome.source(p)["last_error"] for p in outcome.sources}
    assert errors == {
        "/self": "the feed redirects in a loop",
        "/a": "the feed redirects in a loop",
        "/five/1": None,
        "/six/1": "more than 5 redirects in a row",
        "/endless/0": "more than 5 redirects in a row",
        "/nowhere": "the server answered 301 Moved Permanently",
        "/bad": "the server redirected to an address that is not valid: 'http://[::1/feed'",
        "/badport": "not a valid web address: 'http://127.0.0.1:99999/feed'",
    }
    assert len(outcome.posts_of("/five/1")) == 2
    assert [len(server.hits(f"/endless/{n}")) for n in range(8)] == [1] * 6 + [0] * 2


# --- not a feed -----------------------------------------------------------------------------

ERROR_PAGES = [
    b"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>Not found</title></head>"
    b"<body><h1>Oops</h1><br><p>Gone</body></html>",
    b"<!doctype html>\n<title>Error</title>\n<h1>Service unavailable</h1><p>Try later",
    b"<html><body>Checking your browser &nbsp; <script>if (a < b && c) {}</script></body></html>",
    b"<HTML><HEAD><TITLE>404</TITLE></HEAD><BODY>Not here</BODY></HTML>",
    b"\n\n<!-- cache -->\n<h1>Error 500</h1>",
    b"<p>Down for maintenance",
]


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "application/rss+xml"])
def test_html_error_page_served_with_200(
    server: FeedServer, store: Store, run: Callable[..., Result], content_type: str
) -> None:
    for n, page in enumerate(ERROR_PAGES):
        add(store, server.feed(f"/{n}", page, content_type), f"Page {n}")
    outcome = run_pass(run)
    for n in range(len(ERROR_PAGES)):
        assert outcome.source(f"Page {n}")["last_error"] == WEB_PAGE


def test_plain_text_served_as_html_is_a_web_page(
    server: FeedServer, store: Store, run: Callable[..., Result]
) -> None:
    add(store, server.feed("/feed", b"Service Unavailable", "text/html"), "Text")
    assert run_pass(run).source("Text")["last_error"] == WEB_PAGE


@pytest.mark.parametrize(
    "content_type",
    ["text/html", "text/plain", "application/octet-stream", "application/json", "image/png", ""],
)
def test_feed_with_the_wrong_content_type_is_read(
    server: FeedServer, store: Store, run: Callable[..., Result], content_type: str
) -> None:
    add(store, server.feed("/feed", small_feed("typed"), content_type), "Typed")
    assert len(run_pass(run).posts_of("Typed")) == 2


# --- encodings ------------------------------------------------------------------------------

CAFE = "Café in Łódź — “quoted” ☕"


def _feed_text(declared: str | None) -> str:
    decl = f'<?xml version="1.0" encoding="{declared}"?>' if declared else ""
    return (
        f'{decl}<rss version="2.0"><channel><title>{CAFE}</title><link>https://enc.example/</link>'
        f"<item><title>{CAFE}</title><guid>1</guid><link>https://enc.example/1</link></item>"
        "</channel></rss>"
    )


LATIN = _feed_text("utf-8").encode().replace("é".encode(), b"\xe9")  # one Latin-1 byte


@pytest.mark.parametrize(
    ("body", "header", "title"),
    [
        (_feed_text("utf-8").encode(), "text/xml; charset=iso-8859-1", CAFE),
        (
            _feed_text("windows-1252").encode("windows-1252", "replace"),
            "text/xml; charset=utf-8",
            "Café in ?ód? — “quoted” ?",  # what Windows-1252 can hold
        ),
        (_feed_text(None).encode(), "text/xml; charset=utf-8", CAFE),
        (_feed_text("utf-8").encode(), "application/rss+xml; charset=utf-16", CAFE),
        (_feed_text("UTF-16").encode("utf-16-le"), "text/xml", CAFE),  # no BOM, but "<\0"
        (b"\xff\xfe" + _feed_text("UTF-16").encode("utf-16-le"), "text/xml", CAFE),
        (b"\xfe\xff" + _feed_text("UTF-16").encode("utf-16-be"), "text/xml; charset=utf-8", CAFE),
        (b"\xef\xbb\xbf" + _feed_text("utf-8").encode(), "text/xml; charset=windows-1252", CAFE),
        (LATIN, "text/xml", "Café in Å\ufffdÃ³dÅº â€” â€œquotedâ€\ufffd â˜•"),  # Windows-1252
    ],
    ids=[
        "utf-8 declared, latin-1 in header",
        "windows-1252 declared, utf-8 in header",
        "nothing declared, utf-8 in header",
        "utf-8 declared, utf-16 in header",
        "utf-16 without BOM",
        "utf-16 LE with BOM",
        "utf-16 BE with BOM, utf-8 in header",
        "utf-8 BOM, windows-1252 in header",
        "utf-8 declared, one latin-1 byte",
    ],
)
def test_charset_disagreements(
    server: FeedServer,
    store: Store,
    run: Callable[..., Result],
    body: bytes,
    header: str,
    title: str,
) -> None:
    add(store, server.feed("/feed", body, header), "Encoded")
    outcome = run_pass(run)
    (post,) = outcome.posts_of("Encoded")
    assert post["title"] == title


def test_nul_bytes_and_control_characters(
    server: FeedServer, store: Store, run: Callable[..., Result]
) -> None:
    body = rss(
        "<item><title>Nul\x00 in\x01 the\x1b title</title><guid>1</guid>"
        "<link>https://nul.example/1</link>"
        "<description>Body\x00 text\x0b here</description></item>",
        title="Nul\x00 blog",
    )
    add(store, server.feed("/feed", body), "Nul")
    add(store, server.feed("/all-nul", b"\x00" * 5000), "All nul")
    outcome = run_pass(run)
    (post,) = outcome.posts_of("Nul")
    assert post["title"] == "Nul in the title"
    assert "\x00" not in post["content_html"] and "Body text here" in post["content_html"]
    assert outcome.source("All nul")["last_error"].startswith("the feed is not readable XML")


# --- size of a feed -------------------------------------------------------------------------


def test_ten_thousand_items_are_stored_quickly(
    server: FeedServer, store: Store, run: Callable[..., Result]
) -> None:
    items = "".join(
        item(n, site="big", content=f"<p>Post number {n} of a very long feed.</p>")
        for n in range(10_000)
    )
    add(store, server.feed("/feed", rss(items)), "Big")
    outcome = within(60, lambda: run_pass(run))  # a bound against hangs; speed is for bench/
    assert len(outcome.posts_of("Big")) == 10_000
    assert "10000 new" in outcome.fetch.out
    again = within(60, lambda: run_pass(run, "--all"))  # unchanged: a 304
    assert "0 new, 0 updated" in again.fetch.out


def test_huge_titles_are_cut(server: FeedServer, store: Store, run: Callable[..., Result]) -> None:
    huge = "Word " * 20_000  # 100 KB
    body = rss(
        f"<item><title>{huge}</title><guid>1</guid><link>https://huge.example/1</link>"
        f"<author>x@huge.example ({huge})</author><category>{huge}</category></item>",
        title=huge,
    )
    add(store, server.feed("/feed", body), "Huge")
    outcome = run_pass(run)
    (post,) = outcome.posts_of("Huge")
    assert len(post["title"]) <= 1000 and post["title"].endswith("…")
    assert len(post["author"]) <= 200
    assert all(len(c) <= 100 for c in post["categories"])


def test_huge_blog_name_is_cut_when_found(server: FeedServer, run: Callable[..., Result]) -> None:
    server.feed("/feed", rss(item(1, site="named"), title="Name " * 20_000))
    added = run("add", server.url("/feed"))
    assert added.code == 0, added.err
    sources = run_pass(run).sources
    (title,) = sources
    assert len(title) <= 200


# --- broken headers and broken HTTP ---------------------------------------------------------


def test_odd_headers_do_not_end_the_pass(
    server: FeedServer, store: Store, run: Callable[..., Result]
) -> None:
    cases = {
        "retry": Response(503, headers={"Retry-After": "9" * 5000}),
        "retry-date": Response(429, headers={"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}),
        "retry-odd": Response(503, headers={"Retry-After": "\u00b2"}),
        "max-age": Response(200, small_feed("age"), {"Cache-Control": "max-age=" + "9" * 5000}),
        "link": Response(200, small_feed("link"), {"Link": "<http://[::1>; rel=hub"}),
        "type": Response(200, small_feed("type"), {"Content-Type": "text/xml; charset=\xff"}),
        "etag": Response(200, small_feed("etag"), {"ETag": "x" * 4000, "Last-Modified": "never"}),
    }
    for name, response in cases.items():
        add(store, server.respond(f"/{name}", response), name)
    began = datetime.now(UTC)
    outcome = within(10, lambda: run_pass(run))
    ended = datetime.now(UTC)
    later = "(asked us to come back later)"
    assert {name: outcome.source(name)["last_error"] for name in cases if "retry" in name} == {
        "retry": f"the server answered 503 Service Unavailable {later}",
        "retry-date": f"the server answered 429 Too Many Requests {later}",
        "retry-odd": f"the server answered 503 Service Unavailable {later}",
    }
    for name in ("max-age", "link", "type", "etag"):
        assert outcome.source(name)["status"] == "ok", name
        assert len(outcome.posts_of(name)) == 2

    def wait(name: str) -> tuple[timedelta, timedelta]:
        """The shortest and the longest the wait for the next attempt can be: the pass
        began and ended at moments we know, and the store keeps whole seconds."""
        due = datetime.fromisoformat(outcome.source(name)["next_due_at"])
        return due - ended, due - began + timedelta(seconds=1)

    # The next attempt is a day away, however far the server asked: no further, and
    # no sooner (the server's wish is kept up to the cap).
    for name in ("retry", "retry-date"):
        shortest, longest = wait(name)
        assert shortest <= timedelta(hours=24) <= longest, (name, shortest, longest)
    # A Retry-After that is neither seconds nor a date is not read: the first failure's
    # usual wait stands (ten minutes, give or take a tenth).
    shortest, longest = wait("retry-odd")
    assert longest >= timedelta(minutes=9), longest
    assert shortest <= timedelta(minutes=11), shortest
    # and a conditional request with those odd validators works
    assert "0 failed" in run_pass(run, "--all", "--source", "etag").fetch.out


RAW_ANSWERS = {
    "garbage": b"this is not HTTP at all\r\n\r\n",
    "bad status": b"HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n",
    "bad length": b"HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n<rss/>",
    "two lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n<rss/>",
    "huge header": b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n",
    "many headers": b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 50_000 + b"\r\n",
    "status 999": b"HTTP/1.1 999 Whatever\r\nContent-Length: 6\r\n\r\n<rss/>",
    "bad chunks": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n",
    "nothing": b"",
}


def test_broken_http_gives_clear_errors(
    raw: Callable[..., RawServer], server: FeedServer, store: Store, run: Callable[..., Result]
) -> None:
    for name, answer in RAW_ANSWERS.items():

        def handler(conn: socket.socket, answer: bytes = answer) -> None:
            read_request(conn)
            conn.sendall(answer)
            conn.shutdown(socket.SHUT_WR)

        add(store, raw(handler).url("/feed"), name)
    add(store, server.feed("/fine", small_feed("fine")), "fine")
    outcome = within(15, lambda: run_pass(run))
    assert len(outcome.posts_of("fine")) == 2
    errors = {name: outcome.source(name)["last_error"] for name in RAW_ANSWERS}
    invalid = "the server's answer was not valid HTTP"
    assert errors == {
        "garbage": f"{invalid} (bad status line)",
        "bad status": f"{invalid} (bad status line)",
        "bad length": f"{invalid} (invalid character in Content-Length)",
        "two lengths": f"{invalid} (duplicate Content-Length)",
        "huge header": f"{invalid} (got more than 8190 bytes when reading)",
        "many headers": f"{invalid} (too many headers received)",
        "status 999": "the server answered 999 Whatever",
        "bad chunks": f"{invalid} (invalid character in chunk size)",
        "nothing": "the connection failed: the server closed it without answering",
    }
