"""Output feeds: Atom 1.0, RSS 2.0 and JSON Feed 1.1 of the river, a category, a blog or a
search (the newest posts it finds, so a reader can follow a topic).

    load_feed(store, config, scope)   the newest posts and their blogs, from the store
        │
        ▼
    render_feed(feed, format)         a Document: its bytes and Content-Type

Every item carries the original post's link (our own page for the post when
its feed gave none), title, author (the blog's name when the post gives
none), published and updated dates, the post's clean HTML ending with
"Original source – <blog name>" linked to the post (or, for a blog that asked
for excerpts, a short excerpt and "Continue reading on <blog name>"), and the
blog as its source.  Every feed but a search's names its WebSub hub
(``websub_hub``) in the feed and in its ``Link`` header, so readers can hear
of new posts at once; the hub is told only of the river's, the categories'
and the blogs' feeds.
An item's id is a tag: URI made from the site's host,
the day we first saw the post and its number, so it never changes, even when
the post is edited.

The bytes depend on the store alone (no clock), so a rebuild of an unchanged
store gives the same bytes (and the website the same ETag).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from ..config import Config
from ..ingest.clean import plain_text
from ..model import Post, Source
from ..search import Sort, search
from ..store import Store
from .document import Document, http_date, utc
from .paths import HUB_PATH, FeedFormat, FeedScope, post_path
from .xmlout import add, xml_bytes

ATOM = "http://www.w3.org/2005/Atom"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
DC = "http://purl.org/dc/elements/1.1/"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
GENERATOR = "Townsquare"
EXCERPT_LENGTH = 300
# The updated time of a feed with no posts: fixed, so the bytes stay the same.
EMPTY_FEED_UPDATED = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class FeedContent:
    """What one feed says, whatever its format."""

    scope: FeedScope
    base_url: str  # ends with "/"
    title: str
    description: str
    posts: Sequence[Post]  # newest first
    sources: Mapping[int, Source]  # at least the blogs of ``posts``
    hub: str | None = None  # the WebSub hub that announces its new posts

    def url(self, path: str) -> str:
        return self.base_url + path


@dataclass(frozen=True, slots=True)
class Item:
    """One post as every format shows it."""

    id: str
    link: str  # the original post, or our copy of it when the feed gave no link
    title: str
    author: str
    published: datetime
    updated: datetime
    content_html: str  # clean HTML with the "Original source" line
    summary_html: str  # none for a blog set to excerpts: the excerpt is all we show
    tags: tuple[str, ...]
    source: Source


def load_feed(
    store: Store,
    config: Config,
    scope: FeedScope,
    *,
    sources: Mapping[int, Source] | None = None,
) -> FeedContent:
    """The newest ``config.feed_items`` posts of the scope, and their blogs.

    A search's feed holds the newest of the posts it finds (at most
    ``search.MAX_PER_PAGE``).  Raises ``CategoryNotFoundError`` or
    ``SourceNotFoundError`` for an unknown slug.  Pass ``sources`` (every
    blog, by id) to save a query per feed when building many.
    """
    limit = config.feed_items
    site = config.site_name
    if scope.kind == "category":
        category = store.category_by_slug(scope.slug)
        title = feed_title(site, category.name)
        description = f"The newest posts from the blogs in {category.name}, gathered by {site}."
        posts = store.river(limit=limit, category_id=category.id)
    elif scope.kind == "blog":
        blog = store.source_by_slug(scope.slug)
        title = feed_title(site, blog.title)
        description = f"The newest posts from {blog.title}, gathered by {site}."
        posts = store.river(limit=limit, source_id=blog.id)
    elif scope.kind == "search":
        title = feed_title(site, f"Search: {scope.query}")
        description = f"The newest posts that match {scope.query}, gathered by {site}."
        found = search(store, scope.query, sort=Sort.DATE, per_page=limit)
        posts = [hit.post for hit in found.hits]
    else:
        title, description = site, config.site_description
        posts = store.river(limit=limit)
    known: Mapping[int, Source] = sources or {}
    missing = {p.source_id for p in posts} - known.keys()  # all, or any added since
    if missing:
        known = {**known, **store.sources_by_ids(missing)}
    hub = None if scope.kind == "search" else hub_url(config)
    return FeedContent(scope, config.base_url, title, description, posts, known, hub=hub)


def hub_url(config: Config) -> str | None:
    """The WebSub hub our feeds name: our own, another, or none (``websub_hub``)."""
    if config.websub_hub == "none":
        return None
    if config.websub_hub == "self":
        return config.base_url + HUB_PATH
    return config.websub_hub


def feed_title(site_name: str, name: str | None = None) -> str:
    """The title of the river's feed (the site's name), or of a category's or a blog's."""
    return f"{name} – {site_name}" if name else site_name


def render_feed(feed: FeedContent, fmt: FeedFormat) -> Document:
    """The feed in one format, ready to send or to write."""
    items = [item(post, feed.sources[post.source_id], feed.base_url) for post in feed.posts]
    updated = max((i.updated for i in items), default=EMPTY_FEED_UPDATED)
    render = {FeedFormat.ATOM: _atom, FeedFormat.RSS: _rss, FeedFormat.JSON: _json}[fmt]
    body = render(feed, items, updated)
    link = None
    if feed.hub is not None:
        self_url = feed.url(feed.scope.feed_path(fmt))
        link = f'<{feed.hub}>; rel="hub", <{self_url}>; rel="self"'
    return Document(body, fmt.content_type, link=link)


def item(post: Post, source: Source, base_url: str) -> Item:
    """How a post shows in our feeds: its body, author, dates and id decided."""
    return Item(
        id=post_id(post, base_url),
        link=post.link or base_url + post_path(post.id, post.title),
        title=post.title,
        author=post.author or source.title,
        published=utc(post.published),
        updated=utc(max(post.published, post.updated or post.published)),
        content_html=body_html(post, source),
        summary_html="" if source.excerpts_only else post.summary_html,
        tags=post.categories,
        source=source,
    )


def post_id(post: Post, base_url: str) -> str:
    """A tag: URI (RFC 4151) for the post: 'tag:blogs.example.org,2026-11-24:posts/42'."""
    host = urlsplit(base_url).hostname or "localhost"
    return f"tag:{host},{utc(post.first_seen):%Y-%m-%d}:posts/{post.id}"


def body_html(post: Post, source: Source) -> str:
    """The post's clean HTML and its credit line, or an excerpt for an excerpts-only blog."""
    href = html.escape(post.link or source.site_url or source.url)
    name = html.escape(source.title)
    if source.excerpts_only:
        excerpt = html.escape(
            plain_text(post.summary_html or post.content_html, limit=EXCERPT_LENGTH)
        )
        return f'<p>{excerpt}</p>\n<p><a href="{href}">Continue reading on {name}</a></p>'
    return f'{post.content_html}\n<p>Original source – <a href="{href}">{name}</a></p>'


def rfc3339(moment: datetime) -> str:
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- Atom 1.0 (RFC 4287) ----------------------------------------------------------------


def _atom(feed: FeedContent, items: list[Item], updated: datetime) -> bytes:
    a = f"{{{ATOM}}}"
    root = etree.Element(a + "feed", nsmap={None: ATOM})  # type: ignore[dict-item]  # stubs: no None
    add(root, a + "id", feed.url(feed.scope.page_path))
    add(root, a + "title", feed.title, type="text")
    add(root, a + "subtitle", feed.description, type="text")
    add(root, a + "updated", rfc3339(updated))
    add(
        root,
        a + "link",
        rel="self",
        type=FeedFormat.ATOM.media_type,
        href=feed.url(feed.scope.feed_path(FeedFormat.ATOM)),
    )
    add(root, a + "link", rel="alternate", type="text/html", href=feed.url(feed.scope.page_path))
    if feed.hub is not None:
        add(root, a + "link", rel="hub", href=feed.hub)
    add(root, a + "generator", GENERATOR)
    for i in items:
        entry = add(root, a + "entry")
        add(entry, a + "id", i.id)
        add(entry, a + "title", i.title, type="text")
        add(entry, a + "link", rel="alternate", type="text/html", href=i.link)
        add(entry, a + "published", rfc3339(i.published))
        add(entry, a + "updated", rfc3339(i.updated))
        add(add(entry, a + "author"), a + "name", i.author)
        for tag in i.tags:
            add(entry, a + "category", term=tag)
        if i.summary_html:
            add(entry, a + "summary", i.summary_html, type="html")
        add(entry, a + "content", i.content_html, type="html")
        source = add(entry, a + "source")
        add(source, a + "title", i.source.title, type="text")
        if i.source.site_url:
            add(source, a + "link", rel="alternate", type="text/html", href=i.source.site_url)
        add(source, a + "link", rel="self", href=i.source.url)
    return xml_bytes(root)


# --- RSS 2.0 ----------------------------------------------------------------------------


def _rss(feed: FeedContent, items: list[Item], updated: datetime) -> bytes:
    root = etree.Element("rss", version="2.0", nsmap={"atom": ATOM, "content": CONTENT, "dc": DC})
    channel = add(root, "channel")
    add(channel, "title", feed.title)
    add(channel, "link", feed.url(feed.scope.page_path))
    add(channel, "description", feed.description)
    add(
        channel,
        f"{{{ATOM}}}link",
        rel="self",
        type=FeedFormat.RSS.media_type,
        href=feed.url(feed.scope.feed_path(FeedFormat.RSS)),
    )
    if feed.hub is not None:
        add(channel, f"{{{ATOM}}}link", rel="hub", href=feed.hub)
    if items:
        add(channel, "lastBuildDate", http_date(updated))
    add(channel, "generator", GENERATOR)
    add(channel, "docs", "https://www.rssboard.org/rss-specification")
    for i in items:
        entry = add(channel, "item")
        add(entry, "title", i.title)
        add(entry, "link", i.link)
        add(entry, "guid", i.id, isPermaLink="false")
        add(entry, "pubDate", http_date(i.published))
        add(entry, f"{{{ATOM}}}updated", rfc3339(i.updated))
        add(entry, f"{{{DC}}}creator", i.author)
        for tag in i.tags:
            add(entry, "category", tag)
        add(entry, "source", i.source.title, url=i.source.url)
        if i.summary_html:
            add(entry, "description", i.summary_html)
            add(entry, f"{{{CONTENT}}}encoded", i.content_html)
        else:
            add(entry, "description", i.content_html)
    return xml_bytes(root)


# --- JSON Feed 1.1 ----------------------------------------------------------------------


def _json(feed: FeedContent, items: list[Item], updated: datetime) -> bytes:
    data: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": feed.title,
        "home_page_url": feed.url(feed.scope.page_path),
        "feed_url": feed.url(feed.scope.feed_path(FeedFormat.JSON)),
        "description": feed.description,
    }
    if feed.hub is not None:
        data["hubs"] = [{"type": "WebSub", "url": feed.hub}]
    data["items"] = [_json_item(i) for i in items]
    return json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")


def _json_item(i: Item) -> dict[str, Any]:
    out: dict[str, Any] = {"id": i.id, "url": i.link, "title": i.title}
    out["content_html"] = i.content_html
    if i.summary_html:
        out["summary"] = plain_text(i.summary_html, limit=EXCERPT_LENGTH)
    out["date_published"] = rfc3339(i.published)
    out["date_modified"] = rfc3339(i.updated)
    out["authors"] = [{"name": i.author}]
    if i.tags:
        out["tags"] = list(i.tags)
    source: dict[str, str] = {"title": i.source.title, "feed_url": i.source.url}
    if i.source.site_url:
        source["home_page_url"] = i.source.site_url
    out["_townsquare"] = {"source": source}
    return out
