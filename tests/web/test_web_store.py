"""The store queries behind the website, on SQLite and on PostgreSQL, fed through the
ingest pipeline from a real local server; and what the pages make of them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import html as lxml_html

from conftest import BACKEND
from townsquare.config import Config
from townsquare.ingest.pipeline import Ingest
from townsquare.model import Source
from townsquare.store import Store, open_store

from .conftest import LiveSite, site_config


@pytest.fixture(params=["sqlite", "postgresql"] if BACKEND == "sqlite" else ["postgresql"])
def web_config(request: pytest.FixtureRequest, tmp_path: Path) -> Config:
    """Settings for a fresh SQLite file, then for a fresh PostgreSQL schema (only the
    latter when the whole suite runs on PostgreSQL)."""
    if request.param == "sqlite":
        return site_config(str(tmp_path / "web.db"))
    return site_config(request.getfixturevalue("pg_url"))


@pytest.fixture
def web_store(web_config: Config) -> Iterator[Store]:
    with open_store(web_config.db) as store:
        yield store


def _rss(title: str, items: list[tuple[str, str, str, str]]) -> str:
    body = "".join(
        f"<item><title>{t}</title><link>{link}</link><guid>{link}</guid>"
        f"<pubDate>{date}</pubDate><description><![CDATA[{html}]]></description></item>"
        for t, link, date, html in items
    )
    channel = f"<channel><title>{title}</title>{body}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'


def _fetch(store: Store, config: Config, *sources: Source) -> None:
    ingest = Ingest(store, config)
    try:
        asyncio.run(ingest.run_pass(source_ids=[s.id for s in sources], force=True))
    finally:
        ingest.close()


NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SHARED = "https://shared.example/2026/11/joint-post"
ALPHA_ITEMS = [
    ("Fish &amp; chips &quot;5 &gt; 3&quot;", "https://alpha.example/fish",
     "Tue, 24 Nov 2026 10:00:00 GMT", "<h1>Big heading</h1><p>Text</p><h2>Smaller</h2><p>More</p>"),
    ("Joint post", SHARED, "Mon, 23 Nov 2026 10:00:00 GMT", "<p>Written together.</p>"),
    ("October news", "https://alpha.example/october", "Fri, 30 Oct 2026 10:00:00 GMT",
     "<p>Old.</p>"),
]  # fmt: skip


@pytest.fixture
def blogs(server, web_store: Store, web_config: Config) -> tuple[Source, Source]:  # type: ignore[no-untyped-def]
    alpha_url = server.feed("/alpha.xml", _rss("Alpha", ALPHA_ITEMS))
    beta_url = server.feed(
        "/beta.xml",
        _rss("Beta", [("Joint post", SHARED, "Mon, 23 Nov 2026 11:00:00 GMT", "<p>Same.</p>")]),
    )
    alpha = web_store.add_source(
        alpha_url, "Alpha <b>&amp;</b> co", site_url="https://alpha.example/",
        categories=["Local government"], now=NOW,
    )  # fmt: skip
    beta = web_store.add_source(beta_url, "Beta", categories=["Health"], now=NOW)
    _fetch(web_store, web_config, alpha)
    _fetch(web_store, web_config, beta)
    return alpha, beta


def test_store_queries(web_store: Store, blogs: tuple[Source, Source]) -> None:
    alpha, beta = blogs
    assert [p.title for p in web_store.river()] == ['Fish & chips "5 > 3"', "Joint post",
                                                    "October news"]  # fmt: skip
    november = web_store.river(
        since=datetime(2026, 11, 1, tzinfo=UTC), before=datetime(2026, 12, 1, tzinfo=UTC)
    )
    assert [p.title for p in november] == ['Fish & chips "5 > 3"', "Joint post"]
    assert [p.title for p in web_store.river(limit=1, offset=2)] == ["October news"]
    assert web_store.river_span() == (
        datetime(2026, 10, 30, 10, tzinfo=UTC),
        datetime(2026, 11, 24, 10, tzinfo=UTC),
    )
    activity = web_store.blog_activity()
    assert activity[alpha.id].posts == 3
    assert activity[alpha.id].latest == datetime(2026, 11, 24, 10, tzinfo=UTC)
    assert beta.id not in activity  # its one post is a duplicate
    [left_out] = web_store.left_out_posts(beta.id)
    assert (left_out.title, left_out.duplicate_source_title) == ("Joint post", alpha.title)
    assert web_store.left_out_posts(alpha.id) == []
    [fetch] = web_store.fetch_history(alpha.id)
    assert (fetch.outcome, fetch.http_status, fetch.new_posts) == ("ok", 200, 3)


def test_the_revision_moves_with_what_the_site_shows(
    web_store: Store, web_config: Config, blogs: tuple[Source, Source]
) -> None:
    alpha, beta = blogs
    before = web_store.revision().value
    _fetch(web_store, web_config, alpha)  # a 304: only fetch state changes
    assert web_store.revision().value == before
    web_store.update_source(alpha.id, title="Alpha again")
    assert web_store.revision().value > before
    moved = web_store.revision().value
    web_store.set_source_categories(beta.id, ["Digital"])
    assert web_store.revision().value > moved


def test_pages_over_the_store(
    server,
    web_store: Store,
    web_config: Config,
    blogs: tuple[Source, Source],  # type: ignore[no-untyped-def]
) -> None:
    alpha, beta = blogs
    site = LiveSite(web_config, web_store)
    try:
        river = site.get("/")
        # everything that is not the post's own clean HTML is escaped
        assert "Fish &amp; chips &#34;5 &gt; 3&#34;" in river.text
        assert "Alpha &lt;b&gt;&amp;amp;&lt;/b&gt; co" in river.text
        doc = lxml_html.fromstring(river.text)
        first = doc.xpath("//article")[0]
        # the post's own h1 and h2 sit below the h2 title
        assert [h.tag for h in first.iter("h1", "h2", "h3", "h4")] == ["h2", "h3", "h4"]
        post = lxml_html.fromstring(
            site.get(first.xpath(".//p[@class='permalink']/a/@href")[0]).text
        )
        assert [h.tag for h in post.iter("h1", "h2", "h3")] == ["h1", "h2", "h3"]

        status = lxml_html.fromstring(site.get(f"/blogs/{beta.slug}/status/").text)
        items = [li.text_content() for li in status.xpath("//ul[@class='left-out']/li")]
        assert len(items) == 1
        assert "Joint post" in items[0]
        assert f"The same post is already shown from {alpha.title}." in items[0]

        archive = lxml_html.fromstring(site.get("/archive/").text)
        assert archive.xpath("//main//a/@href") == ["/archive/2026/11/", "/archive/2026/10/"]
        october = lxml_html.fromstring(site.get("/archive/2026/10/").text)
        assert [a.text_content() for a in october.xpath("//article//h2")] == ["October news"]
        assert site.get("/archive/2026/09/").status == 404
        assert site.get("/archive/2026/12/").status == 404

        # a new post shows at once: the cached page is dropped when the store changes
        etag = river.headers["etag"]
        server.feed("/alpha.xml", _rss("Alpha", [
            ("Brand new", "https://alpha.example/new", "Wed, 25 Nov 2026 10:00:00 GMT", "<p>x</p>"),
            *ALPHA_ITEMS,
        ]))  # fmt: skip
        _fetch(web_store, web_config, alpha)
        again = site.get("/", {"If-None-Match": etag})
        assert again.status == 200 and again.headers["etag"] != etag
        assert "Brand new" in again.text
    finally:
        site.close()


def test_a_failure_is_a_plain_500_page(db_path: str) -> None:
    config = site_config(db_path)
    store = open_store(config.db)
    site = LiveSite(config, store)
    try:
        store.close()  # every query now fails
        answer = site.get("/")
        assert answer.status == 500
        doc = lxml_html.fromstring(answer.text)
        assert doc.xpath("//h1")[0].text_content() == "Sorry, there is a problem with the service"
        assert "Traceback" not in answer.text and "sqlite" not in answer.text.lower()
        assert answer.headers["x-content-type-options"] == "nosniff"
        api = site.get("/api/posts")
        assert api.status == 500 and api.headers["content-type"] == "application/json"
    finally:
        site.close()
