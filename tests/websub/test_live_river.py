"""The live river: Server-Sent Events over real HTTP from several web processes, and
a real browser watching a post pushed from another Townsquare appear."""

from __future__ import annotations

import json
import queue
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, sync_playwright

from townsquare.config import Config
from townsquare.ingest.pipeline import Ingest
from townsquare.store import Store, open_store
from web.browsing import ARGS, CHROMIUM, Visitor
from web.conftest import LiveSite, site_config

from .conftest import Blog, Instance, in_thread
from .test_websub_subscribe import NEW, chained

Events = queue.Queue[tuple[str, str]]
HTML = "text/html; charset=utf-8"


class Stream:
    """An open event stream, read on a thread of its own; events arrive on ``events``
    as (event, data)."""

    def __init__(self, url: str, path: str) -> None:
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname or "", parts.port or 80), 10)
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
        self.file = self.sock.makefile("rb")
        self.status = int(self.file.readline().split()[1])
        self.headers: dict[str, str] = {}
        while (line := self.file.readline().decode("latin-1").strip()) != "":
            name, _, value = line.partition(":")
            self.headers[name.lower()] = value.strip()
        self.events: Events = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        name = data = ""
        try:
            for raw in self.file:  # chunk sizes and blank lines between them are skipped
                line = raw.decode("utf-8").rstrip("\r\n")
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    data = line[6:]
                elif line == "" and name and data:
                    self.events.put((name, data))
                    name = data = ""
        except (OSError, ValueError):
            pass  # closed by the test

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.file.close()
        self.sock.close()


def fetch(store: Store, config: Config) -> None:
    async def run() -> None:
        ingest = Ingest(store, config)
        try:
            await ingest.run_pass(force=True)
        finally:
            ingest.close()

    in_thread(run)


def test_every_web_process_hears_of_posts_any_process_writes(db_path: str, blog: Blog) -> None:
    db = db_path
    config = site_config(db)
    writer = open_store(db)  # a worker's connection, say
    writer.add_source(blog.url, "Kelbrook news", now=datetime.now(UTC))
    blog.write("Bins on Tuesdays")
    fetch(writer, config)
    top = writer.river(limit=1)[0]
    stores = [open_store(db) for _ in range(2)]
    sites = [LiveSite(config, store) for store in stores]
    try:
        streams = [Stream(site.url, f"/events?after={top.id}") for site in sites]
        for stream in streams:
            assert stream.status == 200
            assert stream.headers["content-type"] == "text/event-stream; charset=utf-8"
            assert stream.headers["cache-control"] == "no-store"
        time.sleep(0.3)
        blog.write(NEW)
        written = time.monotonic()
        fetch(writer, config)
        for stream in streams:
            assert stream.events.get(timeout=5) == ("posts", json.dumps({"above": 1}))
        assert time.monotonic() - written < 3
        for stream in streams:
            stream.close()
    finally:
        for site in sites:
            site.close()
        for store in stores:
            store.close()
        writer.close()


def test_a_stream_for_a_post_that_is_gone_or_malformed_ends(
    instances: Callable[..., Instance],
) -> None:
    site = instances("a")
    assert site.get("/events?after=12345").status == 204  # the browser stops asking
    assert site.get("/events?after=x").status == 400
    assert site.get("/events?after=007").status == 400
    stream = Stream(site.url, "/events?after=0")  # an empty river
    assert stream.status == 200
    with pytest.raises(queue.Empty):
        stream.events.get(timeout=0.3)
    stream.close()


# --- in a browser ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("browser tests need Debian's chromium at /usr/bin/chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.mark.browser
def test_an_open_river_shows_a_pushed_post_announced_and_focus_stays(
    browser: Browser,
    instances: Callable[..., Instance],
    blog: Blog,
    capsys: pytest.CaptureFixture[str],
) -> None:
    a, b = chained(instances, blog)
    visitor = Visitor(browser, b.url, 1280, 400)
    try:
        page = visitor.open("/")
        status = page.locator("main p.live-status")
        assert status.get_attribute("role") == "status"
        assert status.get_attribute("aria-live") == "polite"
        assert status.inner_text() == "" and not status.is_visible()
        page.focus("main article a")
        focused = page.evaluate("document.activeElement.outerHTML")
        page.evaluate("window.scrollTo(0, document.querySelector('main article').offsetTop + 40)")
        where = "document.querySelector('main article').getBoundingClientRect().top"
        reading = page.evaluate(where)
        assert reading < 0  # the reader is part way down the first post
        page.wait_for_timeout(300)  # the stream is open

        blog.write(NEW)
        a.ingest()
        entered = time.monotonic()
        page.wait_for_function(
            "t => document.querySelector('main article .post-title').textContent.includes(t)",
            arg=NEW,
            timeout=5000,
        )
        took = time.monotonic() - entered
        with capsys.disabled():
            print(f"\n  A's post on B's open river page {took * 1000:.0f} ms after it entered A")

        assert status.inner_text() == f"1 new post added at the top: {NEW}."
        assert status.is_visible()
        assert page.evaluate("document.activeElement.outerHTML") == focused
        top = "document.querySelector('main article:nth-of-type(2)').getBoundingClientRect().top"
        assert abs(page.evaluate(top) - reading) < 2  # what the reader sees did not move
        titles = page.locator("main article .post-title").all_inner_texts()
        assert titles[0] == NEW and len(titles) == 2
        assert page.locator("main article[data-post]").count() == 2
        results = Axe().run(page)
        assert results.violations_count == 0, results.generate_report()
        own = [url for _, url in visitor.requests if not url.startswith(visitor.origin)]
        assert own == []
    finally:
        visitor.close()


def river_of_two_pages(instances: Callable[..., Instance], blog: Blog) -> Instance:
    """B of ``chained``, its river eleven posts long: a full first page and a second."""
    for n in range(10):  # chained writes the eleventh
        blog.write(f"Council notice {n + 1}")
    _, b = chained(instances, blog, start=False)
    assert len(b.store.river(limit=20)) == 11 > b.config.page_size
    return b


def live_tags(b: Instance, page: str) -> list[str]:
    """The two tags the live river adds to the river's first page, each found once."""
    top = b.store.river(limit=1)[0]
    tags = [
        f'<meta name="townsquare-live" content="/events?after={top.id}">',
        *re.findall(r'<script src="/static/live\.[^"]*" defer></script>', page),
    ]
    assert len(tags) == 2 and all(page.count(tag) == 1 for tag in tags)
    return tags


def test_only_the_rivers_first_page_is_live(instances: Callable[..., Instance], blog: Blog) -> None:
    b = river_of_two_pages(instances, blog)
    page = b.get("/").text
    live_tags(b, page)
    assert "live-status" not in page and "aria-live" not in page  # live.js adds those
    older = b.get("/page/2/")
    assert older.status == 200 and older.text.count("<article") == 1
    assert "townsquare-live" not in older.text and "<script" not in older.text
    assert "<script" not in b.get("/about/").text


@pytest.mark.browser
def test_a_browser_without_javascript_sees_the_same_page(
    browser: Browser, instances: Callable[..., Instance], blog: Blog
) -> None:
    """The live river adds nothing a reader can see until a post arrives: without script,
    the river's first page looks as it would without its meta and script tags, and with
    script it looks no different."""
    b = river_of_two_pages(instances, blog)
    served = b.get("/").text
    plain = served
    for tag in live_tags(b, served):
        plain = plain.replace(tag + "\n", "")
    assert "townsquare-live" not in plain and "<script" not in plain

    def seen(javascript: bool, body: str | None = None) -> tuple[str, bytes]:
        """The page's text and how it looks, in chromium with or without JavaScript; with
        ``body``, the river's address answers with that instead of the page as served."""
        context = browser.new_context(
            java_script_enabled=javascript, viewport={"width": 1280, "height": 900}
        )
        try:
            if body is not None:
                context.route(b.url, lambda route: route.fulfill(body=body, content_type=HTML))
            page = context.new_page()
            page.goto(b.url, wait_until="load")
            if javascript:  # live.js has put in its (empty) status line
                page.wait_for_selector("main p.live-status", state="attached")
            else:  # the meta is in the page as served, and only there
                live = page.locator('meta[name="townsquare-live"]')
                assert live.count() == (1 if body is None else 0)
            assert page.locator("main article").count() == 10
            return page.inner_text("body"), page.screenshot(full_page=True)
        finally:
            context.close()

    text, looks = seen(javascript=False)
    plain_text, plain_looks = seen(javascript=False, body=plain)
    assert plain_text == text
    same = plain_looks == looks  # compared apart, so a failure does not print two PNGs
    assert same, "without JavaScript, the live river's tags change how the page looks"
    live_text, live_looks = seen(javascript=True)
    assert live_text == text
    same = live_looks == looks
    assert same, "with JavaScript, the page looks different before any post arrives"
