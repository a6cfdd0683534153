"""Output feeds: valid Atom, RSS and JSON Feed, read back by feedparser, with every field."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import feedparser
import jsonschema
import pytest
from lxml import etree

from conftest import DATA, FeedServer
from publish_site import ATOM_TITLE, JSON_TITLE, RSS_TITLE, Site, make_site, repo_root
from townsquare.config import Config, load
from townsquare.errors import CategoryNotFoundError, ConfigError, SourceNotFoundError
from townsquare.publish.document import Document
from townsquare.publish.feeds import load_feed, render_feed
from townsquare.publish.paths import FeedFormat, FeedScope
from townsquare.publish.xmlout import xml_text
from townsquare.store import Store, open_store

A = "{http://www.w3.org/2005/Atom}"
ATOM_RNG = Path(__file__).parent / "data" / "schemas" / "atom.rng"  # RFC 4287, appendix B
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)\Z")
RFC822 = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d\d:\d\d:\d\d GMT\Z"
)


@pytest.fixture
def site(server: FeedServer, store: Store, config: Config) -> Site:
    return make_site(server, store, config)


def scopes(site: Site) -> list[FeedScope]:
    return [
        FeedScope.river(),
        FeedScope.category("local-government"),
        FeedScope.category("digital"),
        FeedScope.blog(site.rss.slug),
        FeedScope.blog(site.json.slug),
    ]


def render(site: Site, scope: FeedScope, fmt: FeedFormat) -> Document:
    return render_feed(load_feed(site.store, site.config, scope), fmt)


# --- Atom: the RFC 4287 grammar, then the rules it leaves to prose ------------------------


def atom_prose_errors(root: etree._Element) -> list[str]:
    """RFC 4287's rules that its RELAX NG grammar cannot say."""
    errors = []
    feed_has_author = root.find(A + "author") is not None
    for element in [root, *root.iter(A + "entry")]:
        name = "feed" if element is root else f"entry {element.findtext(A + 'id')}"
        for child in ("id", "title", "updated"):
            if len(element.findall(A + child)) != 1:
                errors.append(f"{name}: must have exactly one atom:{child}")
        alternates = [
            (link.get("type"), link.get("hreflang"))
            for link in element.findall(A + "link")
            if link.get("rel", "alternate") == "alternate"
        ]
        if len(alternates) != len(set(alternates)):
            errors.append(f"{name}: two alternate links of the same type and language")
        if element is not root:
            source_author = element.find(f"{A}source/{A}author") is not None
            if element.find(A + "author") is None and not (feed_has_author or source_author):
                errors.append(f"{name}: no atom:author")
    if root.find(A + "link[@rel='self']") is None:
        errors.append("feed: no self link")
    ids = [e.findtext(A + "id") for e in root.iter(A + "entry")]
    if len(ids) != len(set(ids)):
        errors.append("entries share an atom:id")
    for date in root.iter(A + "updated", A + "published"):
        if not RFC3339.match(date.text or ""):
            errors.append(f"date is not RFC 3339: {date.text!r}")
    for uri in [*root.iter(A + "id"), *(link.get("href") for link in root.iter(A + "link"))]:
        text = uri if isinstance(uri, str) else uri.text
        if not re.match(r"[a-z][a-z0-9+.-]*:\S+\Z", text or ""):
            errors.append(f"not an absolute IRI: {text!r}")
    return errors


def test_atom_feeds_follow_rfc_4287(site: Site) -> None:
    grammar = etree.RelaxNG(etree.parse(str(ATOM_RNG)))
    for scope in scopes(site):
        doc = render(site, scope, FeedFormat.ATOM)
        root = etree.fromstring(doc.body)
        assert grammar.validate(root), (scope, grammar.error_log)
        assert atom_prose_errors(root) == [], scope
        assert doc.content_type == "application/atom+xml; charset=utf-8"


def test_the_atom_checks_catch_broken_feeds() -> None:
    """The prose checks fail where they should, so passing them means something."""
    broken = etree.fromstring(
        b"""<feed xmlns="http://www.w3.org/2005/Atom"><id>urn:x</id><title>t</title>
        <entry><id>urn:1</id><title>a</title><updated>2026-11-24T10:00:00</updated></entry>
        <entry><id>urn:1</id><title>b</title><updated>2026-11-24T10:00:00Z</updated>
        <author><name>n</name></author><link href="relative"/><link href="/also"/></entry>
        </feed>"""
    )
    assert atom_prose_errors(broken) == [
        "feed: must have exactly one atom:updated",
        "entry urn:1: no atom:author",
        "entry urn:1: two alternate links of the same type and language",
        "feed: no self link",
        "entries share an atom:id",
        "date is not RFC 3339: '2026-11-24T10:00:00'",
        "not an absolute IRI: 'relative'",
        "not an absolute IRI: '/also'",
    ]
    grammar = etree.RelaxNG(etree.parse(str(ATOM_RNG)))
    assert not grammar.validate(broken)  # no atom:updated on the feed


# --- RSS 2.0 ----------------------------------------------------------------------------


def test_rss_feeds_have_the_required_elements_and_rfc_822_dates(site: Site) -> None:
    for scope in scopes(site):
        doc = render(site, scope, FeedFormat.RSS)
        assert doc.content_type == "application/rss+xml; charset=utf-8"
        root = etree.fromstring(doc.body)
        assert root.tag == "rss" and root.get("version") == "2.0"
        channels = root.findall("channel")
        assert len(channels) == 1
        channel = channels[0]
        for required in ("title", "link", "description"):
            assert (channel.findtext(required) or "").strip(), (scope, required)
        assert channel.find(f"{A}link[@rel='self']").get("href") == (
            site.config.base_url + scope.feed_path(FeedFormat.RSS)
        )
        items = channel.findall("item")
        assert items
        assert RFC822.match(channel.findtext("lastBuildDate"))
        guids = [item.findtext("guid") for item in items]
        assert len(guids) == len(set(guids))
        for item in items:
            assert item.findtext("title") or item.findtext("description")
            assert RFC822.match(item.findtext("pubDate")), item.findtext("pubDate")
            parsedate_to_datetime(item.findtext("pubDate"))
            assert item.find("guid").get("isPermaLink") == "false"
            assert item.find("source").get("url").startswith("http://127.0.0.1:")


# --- JSON Feed 1.1 ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def json_feed_schema() -> jsonschema.Draft7Validator:
    schema = json.loads((DATA / "schemas" / "jsonfeed-1.1.schema.json").read_text())
    checker = jsonschema.Draft7Validator.FORMAT_CHECKER
    # Without these, jsonschema skips the formats silently.
    assert {"uri", "date-time"} <= set(checker.checkers)
    return jsonschema.Draft7Validator(schema, format_checker=checker)


def test_json_feeds_match_the_json_feed_schema(
    site: Site, json_feed_schema: jsonschema.Draft7Validator
) -> None:
    for scope in scopes(site):
        doc = render(site, scope, FeedFormat.JSON)
        assert doc.content_type == "application/feed+json; charset=utf-8"
        data = json.loads(doc.body)
        json_feed_schema.validate(data)
        assert data["version"] == "https://jsonfeed.org/version/1.1"
        assert data["feed_url"] == site.config.base_url + scope.feed_path(FeedFormat.JSON)
        ids = [item["id"] for item in data["items"]]
        assert ids and len(ids) == len(set(ids))


def test_the_json_feed_schema_checks_formats(json_feed_schema: jsonschema.Draft7Validator) -> None:
    bad = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "t",
        "items": [{"id": "1", "content_html": "x", "date_published": "24 November 2026"}],
    }
    with pytest.raises(jsonschema.ValidationError, match="is not a 'date-time'"):
        json_feed_schema.validate(bad)
    bad["items"] = [{"id": "1", "content_html": "x", "url": "no scheme"}]
    with pytest.raises(jsonschema.ValidationError, match="is not a 'uri'"):
        json_feed_schema.validate(bad)


# --- read back by a real client -------------------------------------------------------


def test_feedparser_reads_every_feed_cleanly(site: Site) -> None:
    for scope in scopes(site):
        feed = load_feed(site.store, site.config, scope)
        for fmt in FeedFormat:
            if fmt is FeedFormat.JSON:
                continue  # feedparser reads no JSON Feed; the second Townsquare does
            parsed = feedparser.parse(render_feed(feed, fmt).body)
            assert not parsed.bozo, (scope, fmt, parsed.get("bozo_exception"))
            assert [e.title for e in parsed.entries] == [p.title for p in feed.posts]
            assert [e.link for e in parsed.entries] == [
                p.link or f"{site.config.base_url}posts/{p.id}-week-6/" for p in feed.posts
            ]
            for entry, post in zip(parsed.entries, feed.posts, strict=True):
                assert entry.author == post.author or entry.author == post.source_title
                assert datetime(*entry.published_parsed[:6], tzinfo=UTC) == post.published
                assert post.source_title in entry.source.title


# --- what each item says ----------------------------------------------------------------


def atom_entry(site: Site, scope: FeedScope, title: str) -> etree._Element:
    root = etree.fromstring(render(site, scope, FeedFormat.ATOM).body)
    [entry] = [e for e in root.iter(A + "entry") if e.findtext(A + "title") == title]
    return entry


def test_an_entry_carries_the_post_and_credits_its_blog(site: Site) -> None:
    entry = atom_entry(site, FeedScope.river(), 'Bins & recycling ]]> "day"')
    assert entry.find(A + "link").get("href") == "https://fish.example/bins"
    assert entry.findtext(f"{A}author/{A}name") == "Ann Lee"
    assert entry.findtext(A + "published") == "2026-11-24T10:00:00Z"
    assert [c.get("term") for c in entry.findall(A + "category")] == [
        "Waste & recycling",
        "Bins",
    ]
    content = entry.findtext(A + "content")
    assert "<script" not in content  # cleaned once, on the way in
    assert content.endswith(
        '<p>Original source – <a href="https://fish.example/bins">'
        "Fish &amp; Chips &lt; Council &gt; &quot;News&quot;</a></p>"
    )
    assert entry.findtext(A + "summary") == "Collections change."
    source = entry.find(A + "source")
    assert source.findtext(A + "title") == RSS_TITLE
    assert source.find(A + "link[@rel='alternate']").get("href") == "https://fish.example/"
    assert source.find(A + "link[@rel='self']").get("href") == site.rss.url
    assert re.fullmatch(
        r"tag:blogs\.example\.org,\d{4}-\d\d-\d\d:posts/\d+", entry.findtext(A + "id")
    )


def test_an_edited_post_keeps_its_id_and_shows_both_dates(site: Site) -> None:
    entry = atom_entry(site, FeedScope.blog(site.atom.slug), "Weeknotes 12 <3 ✨")
    assert entry.findtext(A + "published") == "2026-11-22T09:00:00Z"
    assert entry.findtext(A + "updated") == "2026-11-25T12:00:00Z"
    assert entry.findtext(f"{A}source/{A}title") == ATOM_TITLE
    rss = etree.fromstring(render(site, FeedScope.blog(site.atom.slug), FeedFormat.RSS).body)
    assert rss.findtext(f"channel/item/{A}updated") == "2026-11-25T12:00:00Z"
    assert rss.findtext("channel/item/guid") == entry.findtext(A + "id")


def test_a_post_without_an_author_is_credited_to_its_blog(site: Site) -> None:
    entry = atom_entry(site, FeedScope.river(), "Parks open late")
    assert entry.findtext(f"{A}author/{A}name") == RSS_TITLE
    data = json.loads(render(site, FeedScope.river(), FeedFormat.JSON).body)
    [item] = [i for i in data["items"] if i["title"] == "Parks open late"]
    assert item["authors"] == [{"name": RSS_TITLE}]
    assert item["_townsquare"]["source"] == {
        "title": RSS_TITLE,
        "feed_url": site.rss.url,
        "home_page_url": "https://fish.example/",
    }


def test_a_blog_set_to_excerpts_gives_an_excerpt_and_a_link(site: Site) -> None:
    entry = atom_entry(site, FeedScope.blog(site.json.slug), "Week 7")
    content = entry.findtext(A + "content")
    assert content.endswith(
        f'…</p>\n<p><a href="https://hana.example/w7">Continue reading on {JSON_TITLE}</a></p>'
    )
    assert len(content) < 500 and "Original source" not in content
    # A post with no link of its own links to our page for it, and credits the blog's site.
    entry = atom_entry(site, FeedScope.blog(site.json.slug), "Week 6")
    assert re.fullmatch(
        r"https://blogs\.example\.org/town/posts/\d+-week-6/", entry.find(A + "link").get("href")
    )
    assert 'href="https://hana.example/"' in entry.findtext(A + "content")
    # A summary could hold the whole post: a blog set to excerpts shows none.
    site.store.update_source(site.rss.id, excerpts_only=True)
    entry = atom_entry(site, FeedScope.river(), 'Bins & recycling ]]> "day"')
    assert entry.find(A + "summary") is None
    assert entry.findtext(A + "content") == (
        "<p>Collections change.</p>\n"
        '<p><a href="https://fish.example/bins">'
        "Continue reading on Fish &amp; Chips &lt; Council &gt; &quot;News&quot;</a></p>"
    )


def test_characters_xml_cannot_carry_are_dropped(site: Site) -> None:
    site = replace(site, json=site.store.update_source(site.json.id, excerpts_only=False))
    entry = atom_entry(site, FeedScope.blog(site.json.slug), "Week 7")
    assert entry.findtext(A + "content").startswith("<p>Bell and tab and  gone")
    assert xml_text("a\x00b\x07c\x0bd\ufffee\U0001f600\t\n") == "abcde\U0001f600\t\n"


def test_feeds_hold_the_newest_posts_up_to_the_setting(site: Site) -> None:
    config = replace(site.config, feed_items=2)
    feed = load_feed(site.store, config, FeedScope.river())
    root = etree.fromstring(render_feed(feed, FeedFormat.ATOM).body)
    assert [e.findtext(A + "title") for e in root.iter(A + "entry")] == [
        'Bins & recycling ]]> "day"',
        "Parks open late",
    ]
    # The feed's own updated time is its newest change, not the time it was made.
    assert root.findtext(A + "updated") == "2026-11-24T10:00:00Z"


def test_feeds_name_their_scope(site: Site) -> None:
    root = etree.fromstring(render(site, FeedScope.category("health-care"), FeedFormat.ATOM).body)
    assert root.findtext(A + "title") == "Health & care – Town & Gown"
    assert root.findtext(A + "id") == "https://blogs.example.org/town/categories/health-care/"
    assert root.find(A + "link[@rel='self']").get("href") == (
        "https://blogs.example.org/town/categories/health-care/feed.atom"
    )
    root = etree.fromstring(render(site, FeedScope.blog(site.atom.slug), FeedFormat.ATOM).body)
    assert root.findtext(A + "title") == f"{ATOM_TITLE} – Town & Gown"
    assert root.find(A + "link[@rel='alternate']").get("href") == (
        f"https://blogs.example.org/town/blogs/{site.atom.slug}/"
    )


def test_unknown_slugs_are_not_found(site: Site) -> None:
    with pytest.raises(CategoryNotFoundError, match="no such category: 'nope'"):
        load_feed(site.store, site.config, FeedScope.category("nope"))
    with pytest.raises(SourceNotFoundError):
        load_feed(site.store, site.config, FeedScope.blog("nope"))


# --- bytes and HTTP validators ----------------------------------------------------------


def test_blogs_known_in_advance_give_the_same_feed(site: Site) -> None:
    """The build passes every blog it knows; one added since is looked up."""
    alone = load_feed(site.store, site.config, FeedScope.river())
    some = load_feed(site.store, site.config, FeedScope.river(), sources={site.rss.id: site.rss})
    assert some == alone
    for fmt in FeedFormat:
        assert render_feed(some, fmt).body == render_feed(alone, fmt).body


def test_the_same_store_gives_the_same_bytes(site: Site) -> None:
    for fmt in FeedFormat:
        first, second = (render(site, FeedScope.river(), fmt) for _ in range(2))
        assert first.body == second.body


def test_an_empty_feed_is_still_valid(store: Store, config: Config) -> None:
    feed = load_feed(store, config, FeedScope.river())
    atom = render_feed(feed, FeedFormat.ATOM)
    root = etree.fromstring(atom.body)
    assert etree.RelaxNG(etree.parse(str(ATOM_RNG))).validate(root)
    assert root.findtext(A + "updated") == "1970-01-01T00:00:00Z"
    assert json.loads(render_feed(feed, FeedFormat.JSON).body)["items"] == []
    assert etree.fromstring(render_feed(feed, FeedFormat.RSS).body).find("channel/item") is None


def test_paths_the_website_serves() -> None:
    assert [FeedScope.river().feed_path(f) for f in FeedFormat] == [
        "feed.atom",
        "feed.rss",
        "feed.json",
    ]
    assert FeedScope.category("digital").feed_path(FeedFormat.RSS) == "categories/digital/feed.rss"
    assert FeedScope.blog("hana").feed_path(FeedFormat.JSON) == "blogs/hana/feed.json"
    assert FeedScope.blog("hana").page_path == "blogs/hana/"
    assert FeedScope.river().page_path == ""


# --- the same on PostgreSQL -------------------------------------------------------------


@pytest.fixture
def postgres_url(pg_url: str) -> str:
    """A fresh schema on the local PostgreSQL (cheaper to drop than a database)."""
    return pg_url


def test_feeds_read_the_same_from_postgresql(
    server: FeedServer, config: Config, postgres_url: str
) -> None:
    with open_store(postgres_url) as store:
        site = make_site(server, store, replace(config, db=postgres_url))
        grammar = etree.RelaxNG(etree.parse(str(ATOM_RNG)))
        for scope in scopes(site):
            root = etree.fromstring(render(site, scope, FeedFormat.ATOM).body)
            assert grammar.validate(root) and atom_prose_errors(root) == []
        river = etree.fromstring(render(site, FeedScope.river(), FeedFormat.ATOM).body)
        assert [e.findtext(A + "title") for e in river.iter(A + "entry")] == [
            'Bins & recycling ]]> "day"',
            "Parks open late",
            "Weeknotes 12 <3 ✨",
            "Week 7",
            "Week 6",
        ]
        found = store.sources_by_ids([site.rss.id, site.json.id, 999_999])
        assert found == {site.rss.id: site.rss, site.json.id: site.json}


def test_the_number_of_feed_items_is_a_setting() -> None:
    assert load(environ={}).feed_items == 50
    assert load(environ={"TOWNSQUARE_FEED_ITEMS": "7"}).feed_items == 7
    with pytest.raises(ConfigError) as error:
        load(environ={"TOWNSQUARE_FEED_ITEMS": "0"})
    assert str(error.value) == (
        "bad setting TOWNSQUARE_FEED_ITEMS='0': expected a whole number of 1 or more"
    )
    docs = (repo_root() / "docs" / "configuration.md").read_text()
    assert "| `feed_items` | `TOWNSQUARE_FEED_ITEMS` | `50` |" in docs
