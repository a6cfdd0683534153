"""Discover: from a blog's address to its feed, checked before anything is saved.

A feed URL is taken as it is.  A web page is searched for
``<link rel="alternate">`` feeds; each candidate is fetched and parsed, and
a feed with full content is preferred over one with summaries, Atom and RSS
over JSON Feed, and a blog's posts over its comments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple
from urllib.parse import urljoin

import lxml.html
from lxml import etree

from ..errors import FetchError, NoFeedFoundError, ParseError
from ..model import CleanPost, FetchOutcome, ParsedFeed
from .clean import clean_feed, feed_site, feed_title, safe_url
from .fetch import Fetcher
from .parse import parse_feed

MAX_CANDIDATES = 4
_TYPES = {
    "application/atom+xml": 0,
    "application/rss+xml": 1,
    "application/rdf+xml": 2,
    "application/feed+json": 3,
    "application/json": 4,
}


@dataclass(frozen=True, slots=True)
class Discovery:
    feed_url: str
    title: str
    site_url: str | None
    format: str
    posts: list[CleanPost]  # newest first


class FeedLink(NamedTuple):
    url: str
    comments: bool  # a comments feed, not the blog's posts


def feed_links(page: bytes, base: str) -> list[FeedLink]:
    """Feeds a page advertises, best first (comments feeds last)."""
    try:
        doc = lxml.html.document_fromstring(page)
    except (etree.ParserError, ValueError):
        return []
    found: list[tuple[int, int, FeedLink]] = []
    for i, link in enumerate(doc.iter("link")):
        rels = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        href = safe_url(link.get("href"), base)
        if "alternate" not in rels or kind not in _TYPES or href is None:
            continue
        comments = "comment" in (link.get("title") or "").lower() or "comments" in href.lower()
        found.append((_TYPES[kind] + (10 if comments else 0), i, FeedLink(href, comments)))
    seen: dict[str, FeedLink] = {}
    for _, _, feed_link in sorted(found):
        seen.setdefault(feed_link.url, feed_link)
    return list(seen.values())


def _full_content(feed: ParsedFeed) -> bool:
    return any(e.content for e in feed.entries)


async def discover(fetcher: Fetcher, url: str) -> Discovery:
    """Find and check the feed for a site or feed URL; raise a ``FeedError`` if none."""
    result = await fetcher.fetch(url)
    if result.outcome is not FetchOutcome.OK:
        raise FetchError(f"could not fetch {url!r}: {result.error}")
    try:
        feed = parse_feed(result.body, result.final_url, result.content_type)
        return _discovery(result.final_url, feed)
    except ParseError as not_a_feed:
        candidates = feed_links(result.body, result.final_url)
        if not candidates:
            raise NoFeedFoundError(
                f"no feed found at {url!r}: the page links to no RSS, Atom or JSON feed "
                f"({not_a_feed}); give the feed's own address instead"
            ) from None
    # best: the blog's posts over its comments, then full content over summaries, then the
    # page's own order of preference (Atom and RSS before JSON Feed)
    parsed: list[tuple[tuple[bool, bool, int], str, ParsedFeed]] = []
    errors: list[str] = []
    for rank, candidate in enumerate(candidates[:MAX_CANDIDATES]):
        got = await fetcher.fetch(candidate.url)
        if got.outcome is not FetchOutcome.OK:
            errors.append(f"{candidate.url}: {got.error}")
            continue
        try:
            feed = parse_feed(got.body, got.final_url, got.content_type)
        except ParseError as exc:
            errors.append(f"{candidate.url}: {exc}")
            continue
        key = (candidate.comments, not _full_content(feed), rank)
        parsed.append((key, got.final_url, feed))
    if not parsed:
        raise NoFeedFoundError(f"no working feed found at {url!r}: " + "; ".join(errors))
    _, feed_url, feed = min(parsed, key=lambda p: p[0])
    return _discovery(feed_url, feed)


def _discovery(feed_url: str, feed: ParsedFeed) -> Discovery:
    now = datetime.now(UTC)
    posts = clean_feed(feed, now)
    posts.sort(key=lambda p: p.published or now, reverse=True)
    site = feed_site(feed, feed_url)
    fallback = site or urljoin(feed_url, "/")
    return Discovery(
        feed_url=feed_url,
        title=feed_title(feed, fallback),
        site_url=site,
        format=feed.format,
        posts=posts,
    )
