"""Our feeds and OPML lists on the website: where they are, their types, validators and
links; and a site served from a sub-folder of its host."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from lxml import etree
from lxml import html as lxml_html

from townsquare.config import Config
from townsquare.publish.feeds import load_feed, render_feed
from townsquare.publish.opml import blogs_opml, category_opml
from townsquare.publish.paths import FeedFormat, FeedScope, post_path
from townsquare.store import Store

from .conftest import LiveSite

ATOM, RSS, JSON_FEED = (f.content_type for f in FeedFormat)
OPML = "text/x-opml; charset=utf-8"
HANA = "hana-okafor-weeknotes"
RIVER_FEEDS = ["/feed.atom", "/feed.rss", "/feed.json"]


def _doc(text: str) -> lxml_html.HtmlElement:
    return lxml_html.fromstring(text)


def _expected(store: Store, config: Config, path: str) -> bytes:
    """What ``publish`` makes for this path (and ``townsquare build`` writes)."""
    if path == "/blogs.opml":
        return blogs_opml(store, config).body
    if path.endswith(".opml"):
        return category_opml(store, config, path.split("/")[2].removesuffix(".opml")).body
    folder, _, name = path.rpartition("/")
    fmt = FeedFormat(name.removeprefix("feed."))
    kind, _, slug = folder.strip("/").partition("/")
    scope = {"": FeedScope.river(), "blogs": FeedScope.blog(slug)}.get(
        kind, FeedScope.category(slug)
    )
    return render_feed(load_feed(store, config, scope), fmt).body


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/feed.atom", ATOM),
        ("/feed.rss", RSS),
        ("/feed.json", JSON_FEED),
        (f"/blogs/{HANA}/feed.atom", ATOM),
        (f"/blogs/{HANA}/feed.json", JSON_FEED),
        ("/categories/digital/feed.rss", RSS),
        ("/blogs.opml", OPML),
        ("/categories/digital.opml", OPML),
    ],
)
def test_feeds_and_lists_are_served_with_their_types(
    demo_site: LiveSite, demo_store: Store, demo_config: Config, path: str, content_type: str
) -> None:
    answer = demo_site.get(path)
    assert answer.status == 200
    assert answer.headers["content-type"] == content_type
    assert answer.body == _expected(demo_store, demo_config, path)
    if content_type == JSON_FEED:
        assert json.loads(answer.body)["items"]
    else:
        assert etree.fromstring(answer.body).tag in ("{http://www.w3.org/2005/Atom}feed", "rss",
                                                     "opml")  # fmt: skip
    assert "content-security-policy" in answer.headers  # the same headers as every answer


def test_feeds_answer_conditional_requests(demo_site: LiveSite) -> None:
    first = demo_site.get("/feed.atom")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    # WebSub: the feed names its hub and itself.
    assert first.headers["link"] == (
        '<https://blogs.example.org/websub/hub>; rel="hub", '
        '<https://blogs.example.org/feed.atom>; rel="self"'
    )
    again = demo_site.get("/feed.atom", {"If-None-Match": etag})
    assert (again.status, again.body, again.headers["etag"]) == (304, b"", etag)
    assert "link" in again.headers
    assert demo_site.get("/feed.atom", {"If-Modified-Since": modified}).status == 304
    earlier = format_datetime(datetime.now(UTC) - timedelta(days=3650), usegmt=True)
    assert demo_site.get("/feed.atom", {"If-Modified-Since": earlier}).status == 200
    assert demo_site.get("/feed.atom", {"If-None-Match": '"another"'}).status == 200
    assert demo_site.get("/feed.rss", {"If-None-Match": etag}).status == 200  # its own tag
    zipped = demo_site.get("/feed.atom", {"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert gzip.decompress(zipped.body) == first.body
    assert demo_site.get("/feed.atom", {"If-None-Match": zipped.headers["etag"]}).status == 304
    assert demo_site.get("/feed.atom", method="HEAD").headers["etag"] == etag


@pytest.mark.parametrize(
    "path",
    [
        "/feed.xml",
        "/feed.",
        "/blogs/no-such-blog/feed.atom",
        f"/blogs/{HANA}/feed.html",
        "/categories/no-such-category/feed.json",
        "/categories/no-such-category.opml",
    ],
)
def test_unknown_feeds_get_the_404_page(demo_site: LiveSite, path: str) -> None:
    answer = demo_site.get(path)
    assert answer.status == 404
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert _doc(answer.text).xpath("//h1")[0].text_content() == "Page not found"


def _alternates(doc: lxml_html.HtmlElement) -> list[tuple[str, str, str]]:
    return [
        (link.get("href"), link.get("type"), link.get("title"))
        for link in doc.xpath("//head/link[@rel='alternate']")
    ]


def test_every_page_names_its_feeds_in_its_head(demo_site: LiveSite, demo_store: Store) -> None:
    river = [
        ("/feed.atom", "application/atom+xml", "Public sector blogs (Atom)"),
        ("/feed.rss", "application/rss+xml", "Public sector blogs (RSS)"),
        ("/feed.json", "application/feed+json", "Public sector blogs (JSON Feed)"),
    ]
    for path in ("/", "/page/2/", "/blogs/", "/archive/", "/archive/2026/11/", "/about/",
                 "/no-such-page"):  # fmt: skip
        assert _alternates(_doc(demo_site.get(path).text)) == river, path
    hana = demo_store.source_by_slug(HANA)
    blog = [
        (f"/blogs/{HANA}/feed.{f.value}", f.media_type, f"{hana.title} – Public sector blogs "
         f"({f.label})") for f in FeedFormat
    ]  # fmt: skip
    # A blog's own feeds come first, for readers that take the first they find.
    for path in (f"/blogs/{HANA}/", f"/blogs/{HANA}/status/"):
        assert _alternates(_doc(demo_site.get(path).text)) == blog + river, path
    post = demo_store.river(limit=1, source_id=hana.id)[0]
    post_page = _doc(demo_site.get(f"/{post_path(post.id, post.title)}").text)
    assert _alternates(post_page) == blog + river  # a post's page: its blog's feeds
    category = _alternates(_doc(demo_site.get("/categories/digital/").text))
    assert [href for href, _, _ in category] == [
        "/categories/digital/feed.atom", "/categories/digital/feed.rss",
        "/categories/digital/feed.json", *RIVER_FEEDS,
    ]  # fmt: skip
    assert category[0][2] == "Digital – Public sector blogs (Atom)"


def test_the_blogs_page_links_the_feeds_and_lists(demo_site: LiveSite) -> None:
    doc = _doc(demo_site.get("/blogs/").text)
    follow = doc.xpath("//main//*[@id='follow']")[0]
    links = follow.xpath(".//a")
    assert [a.get("href") for a in links] == [*RIVER_FEEDS, "/blogs.opml"]
    assert [a.text_content() for a in links] == [
        "Atom feed of the latest posts",
        "RSS feed of the latest posts",
        "JSON Feed of the latest posts",
        "the list of blogs (OPML)",
    ]
    digital = doc.xpath("//section[h2='Digital']")[0]
    assert digital.xpath("./p/a/@href") == [
        "/categories/digital/", "/categories/digital/feed.atom", "/categories/digital/feed.rss",
        "/categories/digital/feed.json", "/categories/digital.opml",
    ]  # fmt: skip
    assert doc.xpath("//footer//a[.='Follow in a feed reader']/@href") == ["/blogs/#follow"]
    for href in [*RIVER_FEEDS, "/blogs.opml", "/categories/digital.opml"]:
        assert demo_site.get(href).status == 200, href


def test_blog_and_category_pages_link_their_feeds(demo_site: LiveSite) -> None:
    blog = _doc(demo_site.get(f"/blogs/{HANA}/").text)
    [feeds] = blog.xpath("//dt[.='Feeds from this site']/following-sibling::dd[1]")
    assert feeds.text_content().startswith("Atom feed of Hana")
    assert feeds.xpath("./a/@href") == [f"/blogs/{HANA}/feed.{f.value}" for f in FeedFormat]
    category = _doc(demo_site.get("/categories/digital/").text)
    hrefs = category.xpath("//main/p[starts-with(., 'Follow Digital')]/a/@href")
    assert hrefs == [*(f"/categories/digital/feed.{f.value}" for f in FeedFormat),
                     "/categories/digital.opml"]  # fmt: skip


def test_an_address_without_its_final_slash_moves_there(demo_site: LiveSite) -> None:
    for path, location in [
        ("/blogs", "/blogs/"),
        (f"/blogs/{HANA}", f"/blogs/{HANA}/"),
        ("/archive/2026/11?x=1", "/archive/2026/11/?x=1"),
        ("/api/posts/", "/api/posts"),
        ("/feed.atom/", "/feed.atom"),
    ]:
        answer = demo_site.get(path)
        assert (answer.status, answer.headers.get("location")) == (301, location), path
    assert demo_site.get("/no-such-page/").status == 404


@pytest.fixture(scope="module")
def sub_folder_site(demo_config: Config, demo_store: Store) -> Iterator[LiveSite]:
    site = LiveSite(replace(demo_config, base_url="https://example.org/town/"), demo_store)
    yield site
    site.close()


def test_a_site_in_a_sub_folder_answers_there_and_links_there(sub_folder_site: LiveSite) -> None:
    site = sub_folder_site
    river = site.get("/town/")
    assert river.status == 200
    doc = _doc(river.text)
    hrefs = doc.xpath("//a/@href | //link/@href")
    local = [h for h in hrefs if not h.startswith(("http://", "https://", "#"))]
    assert local and all(h.startswith("/town/") for h in local), local
    for href in {h.partition("#")[0] for h in local}:
        assert site.get(href).status == 200, href
    assert site.get("/town").headers["location"] == "/town/"
    assert site.get("/about/").status == 404  # only under /town/
    assert site.get("/town/page/1/").headers["location"] == "/town/"
    atom = etree.fromstring(site.get("/town/feed.atom").body)
    self_link = atom.find("{http://www.w3.org/2005/Atom}link[@rel='self']").get("href")
    assert self_link == "https://example.org/town/feed.atom"
    api = site.get("/town/api/nothing")
    assert (api.status, api.headers["content-type"]) == (404, "application/json")
    assert json.loads(site.get("/town/api/posts").body)["next"] == "/town/api/posts?page=2"
