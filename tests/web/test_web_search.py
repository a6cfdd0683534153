"""Search on the website: the page, its feeds and the JSON API, over HTTP on a real server.

Blogs are served by a real HTTP server on 127.0.0.1 and fetched by the ingest
pipeline into the store under test (SQLite, or PostgreSQL with
``TOWNSQUARE_TEST_BACKEND=postgresql``); takedowns are the curator's
``hide_post``.  The header's search box is checked on the sample blogs'
site (``demo_site``).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit
from xml.sax.saxutils import escape

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from lxml import etree
from lxml import html as lxml_html

from conftest import FeedServer
from helpers import Blogs, Entry
from townsquare.config import Config
from townsquare.errors import BusyError
from townsquare.store import Store
from townsquare.store import search as store_search
from townsquare.web.app import ROUTES
from townsquare.web.openapi import document
from townsquare.web.site import Gate

from .conftest import Answer, LiveSite, site_config

ATOM = "{http://www.w3.org/2005/Atom}"
ATOM_RNG = Path(__file__).parent.parent / "data" / "schemas" / "atom.rng"
DOCS = Path(__file__).parent.parent.parent / "docs" / "search.md"
START = datetime(2026, 1, 1, 9, tzinfo=UTC)


@dataclass
class Searchable(Blogs):
    """Blogs on a local server, fetched into the store, and the website over that store."""

    site: LiveSite | None = None

    def serve(self) -> LiveSite:
        self.fetch()
        self.site = LiveSite(self.config, self.store, cache_size=0)
        return self.site

    def post_id(self, title: str) -> int:
        [post] = [p for p in self.store.river(limit=500) if p.title == title]
        return post.id


@pytest.fixture
def searchable(server: FeedServer, store: Store, config: Config) -> Iterator[Searchable]:
    config = site_config(config.db, site_name="Public sector blogs",
                         base_url="https://blogs.example.org/")  # fmt: skip
    made = Searchable(server, store, config)
    yield made
    if made.site is not None:
        made.site.close()


def _doc(answer: Answer) -> lxml_html.HtmlElement:
    return lxml_html.fromstring(answer.text)


def _search(site: LiveSite, query: str, **params: str) -> Answer:
    extra = "".join(f"&{k}={quote(v)}" for k, v in params.items())
    return site.get(f"/search?q={quote(query)}{extra}")


def _titles(doc: lxml_html.HtmlElement) -> list[str]:
    return [a.text_content() for a in doc.xpath("//ol[@class='results']//h2/a")]


def _day(n: int) -> datetime:
    return START + timedelta(days=n)


# --- the header's search box and the empty page --------------------------------------------


@pytest.mark.parametrize("path", ["/", "/blogs/", "/about/", "/archive/", "/no-such-page"])
def test_every_page_has_a_search_box_in_its_header(demo_site: LiveSite, path: str) -> None:
    doc = _doc(demo_site.get(path))
    [form] = doc.xpath("//header//form[@role='search']")
    assert (form.get("method"), form.get("action")) == ("get", "/search")
    [field] = form.xpath(".//input[@name='q']")
    [label] = form.xpath(f".//label[@for='{field.get('id')}']")
    assert label.text_content() == "Search every blog"
    assert form.xpath(".//button")[0].text_content() == "Search"


def test_an_empty_search_shows_the_form_and_what_it_understands(demo_site: LiveSite) -> None:
    for path in ("/search", "/search?q=", "/search?q=%20%20&page=3&sort=date"):
        answer = demo_site.get(path)
        assert answer.status == 200, path
        doc = _doc(answer)
        assert doc.xpath("//h1")[0].text_content() == "Search every blog"
        assert doc.xpath("//main//input[@name='q']/@value") == [""]
        assert not doc.xpath("//header//form")  # the page's own form is the only one
        assert not doc.xpath("//ol[@class='results']")
    guide = [td.text_content() for td in doc.xpath("//main//table//tr/td[1]")]
    # The guide on the page is the table in docs/search.md, row for row.
    documented = re.findall(r"^\| (`[^|]*`(?: or `[^|]*`)?) \|", DOCS.read_text(), re.M)
    assert [row.replace("`", "") for row in documented] == guide
    assert "Traceback" not in answer.text


# --- results -------------------------------------------------------------------------------


def test_results_show_each_post_with_its_matches_marked(searchable: Searchable) -> None:
    searchable.blog(
        "Northshire digital",
        [
            Entry("1", "Weeknotes 12", "<p>We talked about <em>identity</em>.</p>", _day(5)),
            Entry("2", "Digital identity for residents", "<p>Our plans.</p>", _day(2),
                 author="Priya Shah"),
            Entry("3", "Weeknotes 13", "<p>Two identities, one login.</p>", _day(6)),
            Entry("4", "Bins", "<p>Nothing to see here.</p>", _day(7)),
        ],
    )  # fmt: skip
    site = searchable.serve()
    answer = _search(site, "identity")
    assert answer.status == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    doc = _doc(answer)
    assert doc.xpath("//title")[0].text_content() == "identity – Search – Public sector blogs"
    assert doc.xpath("//main//input[@name='q']/@value") == ["identity"]
    assert doc.xpath("//p[@class='count']")[0].text_content() == "3 results"
    assert _titles(doc) == ["Digital identity for residents", "Weeknotes 13", "Weeknotes 12"]
    first = doc.xpath("//li[@class='result']")[0]
    title = first.xpath(".//h2/a")[0]
    post_id = searchable.post_id("Digital identity for residents")
    assert title.get("href") == f"/posts/{post_id}-digital-identity-for-residents/"
    assert [m.text_content() for m in title.xpath("./mark")] == ["identity"]
    meta = first.xpath(".//p[@class='meta']")[0]
    assert meta.xpath("./a/@href") == ["/blogs/northshire-digital/"]
    assert " ".join(meta.text_content().split()) == (
        "Northshire digital · Priya Shah · 3 January 2026"
    )
    snippets = doc.xpath("//p[@class='snippet']")
    assert [m.text_content() for m in snippets[1].xpath("./mark")] == ["identities"]
    assert doc.xpath("//meta[@name='robots']/@content") == ["noindex"]
    # The post's own page is there.
    assert site.get(title.get("href")).status == 200
    # One page: no pager.
    assert not doc.xpath("//nav[@aria-label='Pages of results']")


def test_hostile_titles_and_queries_are_escaped(searchable: Searchable) -> None:
    # A text title is kept as text (cleaning only breaks up "<" before a letter), and a
    # blog's name is as the curator typed it.
    hostile = '<script>alert("t")</script> Identity & <b onmouseover=x>"quotes"</b>'
    url = searchable.server.feed(
        "/hostile.atom",
        f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Evil</title><id>urn:x:evil</id>
<updated>2026-01-02T09:00:00Z</updated><entry><id>urn:x:1</id><link href="https://evil.example/1"/>
<title type="text">{escape(hostile)}</title><updated>2026-01-02T09:00:00Z</updated>
<author><name>&lt;i&gt;Mallory&lt;/i&gt;</name></author>
<content type="html">{
            escape(
                "<p>identity <script>alert(2)</script> (as in script alert 3, "
                "onfocus alert 4 and textarea)</p>"
            )
        }</content></entry></feed>""",
    )
    searchable.store.add_source(url, 'Evil <img src=x onerror=alert(1)> "blog"',
                                now=datetime.now(UTC))  # fmt: skip
    site = searchable.serve()
    query = "\"><script>alert(3)</script> identity ' onfocus=alert(4) </textarea>"
    answer = _search(site, query)
    assert answer.status == 200
    doc = _doc(answer)
    assert not doc.xpath("//script") and not doc.xpath("//main//img")
    assert not doc.xpath("//@onerror | //@onmouseover | //@onfocus")
    assert "<script>" not in answer.text and "<b " not in answer.text
    assert doc.xpath("//main//input[@name='q']/@value") == [query]
    [title] = doc.xpath("//ol[@class='results']//h2/a")
    [post] = searchable.store.river(limit=5)
    assert "<" in post.title and '"' in post.title and "&" in post.title
    assert title.text_content() == post.title
    marked = [m.text_content() for m in title.xpath("./mark")]
    assert "Identity" in marked and set(marked) <= {"script", "alert", "Identity"}
    [meta] = doc.xpath("//p[@class='meta']")
    assert post.author and post.author in meta.text_content()
    assert 'Evil <img src=x onerror=alert(1)> "blog"' in meta.text_content()
    # Control characters cannot break the page or the feed.
    for text in ("identity\x00\x02\x03", "\x1b identity\x7f", "\x02identity\x03"):
        assert _search(site, text).status == 200
        feed = site.get(f"/search/feed.atom?q={quote(text)}")
        assert feed.status == 200 and len(etree.fromstring(feed.body).findall(ATOM + "entry")) == 1


def test_pages_of_results_sort_and_the_last_page(searchable: Searchable) -> None:
    # 45 posts about parking; the oldest three have it in their titles.
    items = [
        Entry(str(n), f"Parking news {n}" if n < 3 else f"Weeknotes {n}",
             f"<p>Week {n}: parking permits again.</p>", _day(n))
        for n in range(45)
    ]  # fmt: skip
    searchable.blog("Harrowmere council", items)
    site = searchable.serve()
    doc = _doc(_search(site, "parking"))
    assert doc.xpath("//p[@class='count']")[0].text_content() == "45 resultsPage 1 of 3"
    assert _titles(doc)[:4] == ["Parking news 2", "Parking news 1", "Parking news 0",
                                "Weeknotes 44"]  # fmt: skip
    assert len(_titles(doc)) == 20
    [pager] = doc.xpath("//nav[@aria-label='Pages of results']")
    assert pager.xpath(".//a/@href") == ["/search?q=parking&page=2"]
    assert pager.xpath(".//a/@rel") == ["next"]

    doc = _doc(site.get("/search?q=parking&page=2"))
    assert doc.xpath("//ol[@class='results']/@start") == ["21"]
    assert _titles(doc)[0] == "Weeknotes 27"
    [pager] = doc.xpath("//nav[@aria-label='Pages of results']")
    assert pager.xpath(".//a/@href") == ["/search?q=parking", "/search?q=parking&page=3"]
    assert " ".join(pager.text_content().split()) == (
        "Previous page of results Page 2 of 3 Next page of results"
    )
    assert doc.xpath("//title")[0].text_content().startswith("parking – Search (page 2)")

    doc = _doc(site.get("/search?q=parking&page=3"))
    assert _titles(doc) == [f"Weeknotes {n}" for n in (7, 6, 5, 4, 3)]

    # Newest first, and the pages keep the order.
    doc = _doc(_search(site, "parking", sort="date"))
    assert _titles(doc)[:2] == ["Weeknotes 44", "Weeknotes 43"]
    sorts = doc.xpath("//ul[@class='sorts']/li")
    assert [li.text_content() for li in sorts] == ["Sort by best match", "Sorted by newest"]
    assert sorts[0].xpath("./a/@href") == ["/search?q=parking&sort=relevance"]
    assert doc.xpath("//nav[@aria-label='Pages of results']//a/@href") == [
        "/search?q=parking&sort=date&page=2"
    ]
    assert doc.xpath("//main//input[@name='sort']/@value") == ["date"]  # a new search keeps it
    assert _titles(_doc(_search(site, "parking sort:date"))) == _titles(doc)

    # Past the last page: 404, saying where the last page is; odd page numbers are page 1.
    past = site.get("/search?q=parking&page=4")
    assert past.status == 404
    assert _doc(past).xpath("//main//a[starts-with(., 'Go to the last page')]/@href") == [
        "/search?q=parking&page=3"
    ]
    assert site.get("/search?q=parking&page=9999999").status == 404
    for odd in ("0", "-1", "x", "01", "1e3", "99999999999"):
        answer = site.get(f"/search?q=parking&page={odd}")
        assert answer.status == 200 and _titles(_doc(answer))[0] == "Parking news 2", odd


def test_hidden_and_taken_down_posts_never_appear(searchable: Searchable) -> None:
    searchable.blog(
        "Kelbrook data",
        [
            Entry("1", "Open data one", "<p>Open data for residents.</p>", _day(1)),
            Entry("2", "Open data two", "<p>Open data, again.</p>", _day(2)),
            Entry("3", "Open data three", "<p>Open data and more.</p>", _day(3)),
        ],
    )
    site = searchable.serve()
    taken = searchable.post_id("Open data two")
    searchable.store.hide_post(taken, "Asked by the author", datetime.now(UTC))

    def seen() -> list[str]:
        page = _titles(_doc(_search(site, '"open data"')))
        feed = etree.fromstring(site.get("/search/feed.atom?q=%22open+data%22").body)
        assert [e.findtext(ATOM + "title") for e in feed.iter(ATOM + "entry")] == sorted(
            page, key=["Open data three", "Open data two", "Open data one"].index
        )
        api = json.loads(site.get("/api/search?q=%22open+data%22").body)
        assert [r["post"]["title"] for r in api["results"]] == page
        assert api["total"] == len(page)
        return page

    assert sorted(seen()) == ["Open data one", "Open data three"]
    assert "Open data two" not in _search(site, "two").text
    searchable.store.show_post(taken)
    assert sorted(seen()) == ["Open data one", "Open data three", "Open data two"]


@pytest.mark.parametrize(
    "query",
    [
        '"',
        "-",
        "blog:",
        "blog:nowhere council",
        "NEAR(data* ^ council:",
        '"digital identity',
        "AND OR NOT",
        "***",
        "title:x",
        "after:2026-13-45 sort:funny",
        "x" * 3000,
        "a " * 400,
        "données ünïcode 数据",
        "%00%ff",
        "\x00",
    ],
)
def test_malformed_queries_never_error(demo_site: LiveSite, query: str) -> None:
    for path in ("/search", "/search/feed.atom", "/search/feed.json", "/api/search"):
        answer = demo_site.get(f"{path}?q={quote(query)}")
        assert answer.status == 200, (path, query)
        assert "Traceback" not in answer.text
    doc = _doc(_search(demo_site, query))
    assert len(doc.xpath("//h1")) == 1


def test_no_results_says_what_to_try(demo_site: LiveSite) -> None:
    answer = _search(demo_site, "zyxwvut blockchain")
    assert answer.status == 200
    doc = _doc(answer)
    assert doc.xpath("//main//h2")[0].text_content() == "No posts match your search"
    assert "check the spelling" in doc.xpath("//main//ul")[0].text_content()
    assert doc.xpath("//main//a[. = 'what you can search for']/@href") == ["/search#guide"]
    assert doc.xpath("//main//input[@name='q']/@value") == ["zyxwvut blockchain"]


def test_a_phrase_of_common_words_says_since_when_it_searched(
    searchable: Searchable, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = [
        Entry(str(n), f"Weeknotes {n}", f"<p>Open data, week {n}.</p>", _day(n)) for n in range(8)
    ]
    searchable.blog("Kelbrook data", items)
    site = searchable.serve()
    monkeypatch.setattr(store_search, "COMMON", 1)
    monkeypatch.setattr(store_search, "PHRASE_POSTS", 3)
    doc = _doc(_search(site, '"open data"'))
    api = json.loads(site.get("/api/search?q=%22open+data%22").body)
    if searchable.store.db.dialect != "sqlite":  # PostgreSQL searches every post
        assert doc.xpath("//p[@class='count']")[0].text_content() == "8 results"
        assert not doc.xpath("//div[@class='inset']") and api["searched_since"] is None
        return
    assert doc.xpath("//p[@class='count']")[0].text_content() == (
        "3 results in posts since 5 January 2026"
    )
    assert _titles(doc) == ["Weeknotes 7", "Weeknotes 6", "Weeknotes 5"]
    [note] = doc.xpath("//div[@class='inset']")
    assert "only posts published since 5 January 2026 were searched" in note.text_content()
    [older] = note.xpath(".//a")
    assert older.text_content() == "Search older posts"
    assert parse_qs(urlsplit(older.get("href")).query) == {"q": ['"open data" before:2026-01-05']}
    assert _titles(_doc(site.get(older.get("href")))) == [f"Weeknotes {n}" for n in (4, 3, 2)]
    assert api["searched_since"] == "2026-01-05T09:00:00+00:00" and api["total"] == 3


# --- the feed ------------------------------------------------------------------------------


def test_a_search_has_a_feed_of_its_newest_posts(searchable: Searchable) -> None:
    items = [
        Entry(str(n), f"Recycling update {n}", f"<p>Recycling news {n}.</p>", _day(n))
        for n in range(60)
    ] + [Entry("x", "Bins", "<p>Nothing here.</p>", _day(70))]
    searchable.blog("Greenacre homes", items)
    site = searchable.serve()
    doc = _doc(_search(site, "recycling"))
    [follow] = doc.xpath("//main//a[. = 'Follow this search']")
    assert follow.get("href") == "/search/feed.atom?q=recycling"
    alternates = doc.xpath("//head/link[@rel='alternate']")
    assert alternates[0].get("href") == "/search/feed.atom?q=recycling"
    assert alternates[0].get("title") == "Search: recycling – Public sector blogs (Atom)"
    assert alternates[0].get("type") == "application/atom+xml"

    answer = site.get(follow.get("href"))
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert "link" not in answer.headers  # no WebSub hub tells of a search's new posts
    root = etree.fromstring(answer.body)
    assert etree.RelaxNG(etree.parse(str(ATOM_RNG))).validate(root)
    assert root.findtext(ATOM + "title") == "Search: recycling – Public sector blogs"
    entries = root.findall(ATOM + "entry")
    assert len(entries) == 50  # feed_items, newest first
    assert [e.findtext(ATOM + "title") for e in entries[:2]] == [
        "Recycling update 59",
        "Recycling update 58",
    ]
    links = {x.get("rel"): x.get("href") for x in root.findall(ATOM + "link")}
    assert links == {
        "self": "https://blogs.example.org/search/feed.atom?q=recycling",
        "alternate": "https://blogs.example.org/search?q=recycling",
    }
    again = site.get(follow.get("href"), {"If-None-Match": answer.headers["etag"]})
    assert again.status == 304

    rss = site.get("/search/feed.rss?q=recycling%20sort:relevance")
    assert len(etree.fromstring(rss.body).findall("channel/item")) == 50
    items_json = json.loads(site.get("/search/feed.json?q=recycling").body)["items"]
    assert items_json[0]["title"] == "Recycling update 59"
    assert site.get("/search/feed.xml?q=recycling").status == 404


# --- the API -------------------------------------------------------------------------------


def _check(schema: str, value: object, config: Config) -> None:
    root = {**document(config), "$ref": f"#/components/schemas/{schema}"}
    Draft202012Validator(root, format_checker=FormatChecker()).validate(value)


def test_the_api_searches_as_documented(searchable: Searchable) -> None:
    items = [
        Entry(str(n), f"Weeknotes {n}", f"<p>Accessibility &amp; audits, week {n}.</p>", _day(n))
        for n in range(25)
    ]
    searchable.blog("Fieldmouse digital", items, categories=("Digital",))
    site = searchable.serve()
    answer = site.get("/api/search?q=accessibility")
    assert answer.headers["content-type"] == "application/json"
    page = json.loads(answer.body)
    _check("SearchPage", page, searchable.config)
    assert (page["total"], page["total_is_exact"], page["pages"]) == (25, True, 2)
    assert (page["query"], page["sort"], page["page"]) == ("accessibility", "relevance", 1)
    assert len(page["results"]) == 20 and page["previous"] is None
    assert page["next"] == "/api/search?q=accessibility&page=2"
    assert page["feed"] == "https://blogs.example.org/search/feed.atom?q=accessibility"
    first = page["results"][0]
    assert first["post"]["title"] == "Weeknotes 24"  # equal matches: newest first
    assert first["post"]["blog"]["slug"] == "fieldmouse-digital"
    assert first["snippet_html"].startswith("<mark>Accessibility</mark> &amp; audits")
    assert first["snippet"].startswith("Accessibility & audits")
    assert first["title_html"] == "Weeknotes 24"

    second = json.loads(site.get(page["next"]).body)
    _check("SearchPage", second, searchable.config)
    assert len(second["results"]) == 5 and second["next"] is None
    assert second["previous"] == "/api/search?q=accessibility&page=1"
    dated = json.loads(site.get("/api/search?q=accessibility&sort=date&page=2").body)
    assert dated["sort"] == "date" and dated["previous"] == (
        "/api/search?q=accessibility&sort=date&page=1"
    )
    assert [r["post"]["title"] for r in dated["results"]][-1] == "Weeknotes 0"
    empty = json.loads(site.get("/api/search?q=").body)
    assert (empty["total"], empty["results"], empty["pages"]) == (0, [], 1)

    for path, status in [
        ("/api/search?q=accessibility&page=0", 400),
        ("/api/search?q=accessibility&page=x", 400),
        ("/api/search?q=accessibility&sort=best", 400),
        ("/api/search?q=accessibility&page=3", 404),
        ("/api/search?q=nothing-matches-this&page=2", 404),
    ]:
        answer = site.get(path)
        assert answer.status == status, path
        error = json.loads(answer.body)
        _check("Error", error, searchable.config)
        assert error["error"]["status"] == status


def test_a_site_in_a_sub_folder_searches_there(demo_config: Config, demo_store: Store) -> None:
    site = LiveSite(replace(demo_config, base_url="https://example.org/town/"), demo_store)
    try:
        doc = _doc(site.get("/town/about/"))
        assert doc.xpath("//header//form[@role='search']/@action") == ["/town/search"]
        page = _doc(site.get("/town/search?q=council"))
        assert page.xpath("//main//a[. = 'Follow this search']/@href") == [
            "/town/search/feed.atom?q=council"
        ]
        assert all(h.startswith("/town/posts/") for h in page.xpath("//ol//h2/a/@href"))
        found = json.loads(site.get("/town/api/search?q=council").body)
        assert found["feed"] == "https://example.org/town/search/feed.atom?q=council"
        assert found["next"] == "/town/api/search?q=council&page=2"
        assert found["results"][0]["post"]["url"].startswith("https://example.org/town/posts/")
        feed = etree.fromstring(site.get("/town/search/feed.atom?q=council").body)
        assert feed.find(ATOM + "link").get("href") == (
            "https://example.org/town/search/feed.atom?q=council"
        )
    finally:
        site.close()


def test_every_api_address_is_in_the_openapi_document(demo_config: Config) -> None:
    documented = set(document(demo_config)["paths"])
    served = {
        re.sub(r"\{(\w+)(?::\w+)?\}", r"{\1}", route.path.removeprefix("/api"))
        for route in ROUTES
        if route.path.startswith("/api/") and route.path != "/api/openapi.json"
    }
    assert served == documented


# --- too many at once ----------------------------------------------------------------------


def test_searches_beyond_the_limit_wait_then_are_turned_away() -> None:
    async def scenario() -> list[str]:
        gate = Gate(limit=1, wait=0.05)
        happened = []
        async with gate.turn():
            try:
                async with gate.turn():
                    happened.append("second ran")
            except BusyError as exc:
                happened.append(str(exc))
        async with gate.turn():  # the turn was given back
            happened.append("third ran")
        return happened

    assert asyncio.run(scenario()) == [
        "too many searches at once: try again in a minute",
        "third ran",
    ]


def test_search_links_keep_the_query_exact() -> None:
    from townsquare.web.paths import Paths

    link = Paths("https://example.org/town/").search('a&b "c" d=e', sort="date", page=2)
    parts = urlsplit(link)
    assert parts.path == "/town/search"
    assert parse_qs(parts.query) == {"q": ['a&b "c" d=e'], "sort": ["date"], "page": ["2"]}
