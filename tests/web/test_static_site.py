"""``townsquare build`` of the sample blogs for a site in a sub-folder (``/town/``), hosted by a
plain file server: the same pages as the website, no broken links, and a real browser can
read it, follow its links and load its feeds."""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from lxml import etree
from lxml import html as lxml_html
from playwright.sync_api import Browser

from townsquare.config import Config
from townsquare.publish.static_site import build_site
from townsquare.store import Store

from .browsing import Visitor, needs_browser
from .conftest import LiveSite

BASE = "https://example.org/town/"
PREFIX = "/town/"


@pytest.fixture(scope="module")
def town_config(demo_config: Config) -> Config:
    return replace(demo_config, base_url=BASE)


@pytest.fixture(scope="module")
def built(town_config: Config, demo_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The host's folder; the site is built into its ``town/`` folder."""
    root = tmp_path_factory.mktemp("host")
    build_site(demo_store, town_config, root / "town")
    return root


class FileServer:
    """Python's plain static file server on 127.0.0.1, as any static host would serve files."""

    def __init__(self, root: Path) -> None:
        class Quiet(SimpleHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

        handler = functools.partial(Quiet, directory=str(root))
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture(scope="module")
def host(built: Path) -> Iterator[FileServer]:
    server = FileServer(built)
    yield server
    server.close()


@pytest.fixture(scope="module")
def town_site(town_config: Config, demo_store: Store) -> Iterator[LiveSite]:
    site = LiveSite(town_config, demo_store)
    yield site
    site.close()


def _pages(built: Path) -> dict[str, Path]:
    """Every built HTML page by its address: '/town/blogs/' for town/blogs/index.html."""
    site = built / "town"
    pages = {}
    for file in sorted(site.rglob("*.html")):
        relative = file.relative_to(site).as_posix()
        pages[PREFIX + relative.removesuffix("index.html")] = file
    return pages


LIVE_ONLY = (f"{PREFIX}api/", f"{PREFIX}suggest", f"{PREFIX}takedown", "townsquare-live",
             f"{PREFIX}static/live.")  # fmt: skip


def _less_what_needs_a_server(page: str) -> str:
    """The website's page less what a static build leaves out: the header's search box and
    the lines that link to the JSON API, the public forms and the live river."""
    page = re.sub(r'(?s)\n *<form class="header-search".*?</form>', "", page, count=1)
    lines = page.splitlines(keepends=True)
    return "".join(x for x in lines if not any(part in x for part in LIVE_ONLY))


def test_every_built_page_is_the_websites_page(
    built: Path, town_site: LiveSite, demo_store: Store
) -> None:
    pages = _pages(built)
    status_pages = {p for p in pages if p.endswith("/status/")}
    assert len(pages) > 60 and len(status_pages) == 12
    about = (built / "town/about/index.html").read_text()
    assert "To suggest a blog, ask for a post to be taken down or report a problem" in about
    for address, file in pages.items():
        missing = address.endswith("404.html")
        served = town_site.get(PREFIX + "no-such-page" if missing else address)
        assert served.status == (404 if missing else 200), address
        ours, theirs = file.read_text(), _less_what_needs_a_server(served.text)
        if address in status_pages or address == f"{PREFIX}about/":
            # Status pages give dates, not "ago"; the about page gives the curator's
            # address for what the forms do: compare all but <main>.
            ours, theirs = (re.sub(r"(?s)<main.*</main>", "", page) for page in (ours, theirs))
        assert ours == theirs, address
    for path in ("feed.atom", "feed.json", "categories/digital/feed.rss", "blogs.opml"):
        assert (built / "town" / path).read_bytes() == town_site.get(PREFIX + path).body, path
    [css] = (built / "town" / "static").iterdir()
    assert css.read_bytes() == town_site.get(f"{PREFIX}static/{css.name}").body


def test_a_built_status_page_gives_dates_not_times_ago(built: Path) -> None:
    page = lxml_html.parse(str(built / "town/blogs/hana-okafor-weeknotes/status/index.html"))
    text = [p.text_content() for p in page.getroot().xpath("//main/p")]
    assert text[1].startswith("This page is a copy made when the site was last published")
    assert text[2].startswith("Fetched on ") and text[2].endswith(" UTC, 6 new posts.")
    assert text[3].startswith("Planned for ") and text[3].endswith(" UTC.")
    assert not [t for t in text if " ago" in t or t.startswith("In ")]


def test_no_built_link_is_broken(built: Path) -> None:
    site = built / "town"
    pages = _pages(built)
    ids = {a: set(lxml_html.parse(str(f)).getroot().xpath("//@id")) for a, f in pages.items()}
    linked: set[str] = set()
    checked = 0
    for address, file in pages.items():
        doc = lxml_html.parse(str(file)).getroot()
        for href in doc.xpath("//a/@href | //link/@href | //img/@src"):
            if urlsplit(href).scheme in ("http", "https", "mailto"):
                continue  # the blogs' own links
            path, _, fragment = href.partition("#")
            if path:
                linked.add(path)
            path = path or address
            assert path.startswith(PREFIX), f"{address} links outside the site: {href}"
            target = site / path.removeprefix(PREFIX)
            if path.endswith("/"):
                target = target / "index.html"
            assert target.is_file(), f"{address} links to {href}: no {target}"
            if fragment:
                assert fragment in ids[path], f"{address} links to {href}: no such id"
            checked += 1
    assert checked > 1000
    # No search box: a static host cannot search.
    forms = [a for a, f in pages.items() if lxml_html.parse(str(f)).getroot().xpath("//form")]
    assert forms == []
    # And every file of the build can be reached by following links.
    every = {PREFIX + f.relative_to(site).as_posix() for f in site.rglob("*") if f.is_file()}
    every = {p.removesuffix("index.html") for p in every}
    assert every - linked == {f"{PREFIX}404.html", f"{PREFIX}.townsquare-files"}


# --- in a real browser ----------------------------------------------------------------------


@needs_browser
def test_a_reader_finds_their_way_around_the_built_site(
    browser: Browser, host: FileServer, demo_store: Store
) -> None:
    visitor = Visitor(browser, host.url, 1280)
    try:
        page = visitor.open(PREFIX)
        assert page.inner_text("h1") == "Latest posts"
        assert page.locator("main article").count() == 10
        # The stylesheet loaded from the sub-folder: the skip link is out of sight until focused.
        assert page.evaluate("document.styleSheets[0].cssRules.length") > 10
        assert page.locator(".skip-link").bounding_box()["x"] < 0  # type: ignore[index]

        page.click("nav[aria-label='Main'] >> text=Blogs")
        page.wait_for_url(host.url + "town/blogs/")
        assert page.inner_text("h1") == "Blogs"
        page.click("main h3 >> text=Hana Okafor – weeknotes")
        page.wait_for_url(host.url + "town/blogs/hana-okafor-weeknotes/")
        assert page.inner_text("h1") == "Hana Okafor – weeknotes"
        page.click("text=How fetching this blog is going")
        assert page.inner_text("main p:nth-of-type(3)").startswith("Fetched on ")

        page.click(".site-name")
        page.wait_for_url(host.url + "town/")
        page.click("text=Older posts")
        page.wait_for_url(host.url + "town/page/2/")
        assert page.inner_text("h1").replace("\n", " ") == "Latest posts page 2"
        first = page.locator("main article .permalink a").first
        title = page.locator("main article .post-title").first.inner_text()
        first.click()
        assert page.inner_text("h1") == title
        page.click("nav[aria-label='Main'] >> text=Archive")
        page.click("main a >> nth=0")
        assert page.inner_text("h1").startswith("Posts from ")

        # Feeds and lists load, from the links the pages give.
        hrefs = page.eval_on_selector_all(
            "link[rel='alternate']", "links => links.map(l => l.href)"
        )
        assert hrefs == [host.url + f"town/feed.{f}" for f in ("atom", "rss", "json")]
        atom = page.request.get(hrefs[0])
        assert (
            atom.ok
            and etree.fromstring(atom.body()).findtext("{http://www.w3.org/2005/Atom}title")
            == "Public sector blogs"
        )
        assert len(json.loads(page.request.get(hrefs[2]).body())["items"]) == 50
        opml = etree.fromstring(page.request.get(host.url + "town/blogs.opml").body())
        assert len(opml.xpath("//outline[@xmlUrl]")) >= 12
        missing = page.request.get(host.url + "town/no-such-page/")
        assert missing.status == 404
        assert not [url for kind, url in visitor.requests if kind in ("stylesheet", "font")
                    and not url.startswith(host.url)]  # fmt: skip
    finally:
        visitor.close()


@needs_browser
def test_axe_finds_nothing_on_the_built_site(
    browser: Browser, host: FileServer, axe: Axe, built: Path
) -> None:
    visitor = Visitor(browser, host.url, 375)
    try:
        problems = {}
        for path in ("", "blogs/", "blogs/hana-okafor-weeknotes/status/", "categories/digital/",
                     "404.html"):  # fmt: skip
            results = axe.run(visitor.open(PREFIX + path))
            if results.violations_count:
                problems[path] = results.generate_report()
        assert not problems, "\n\n".join(f"{k}:\n{v}" for k, v in problems.items())
    finally:
        visitor.close()
