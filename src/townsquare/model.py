"""The data that flows through Townsquare, named by the stage that made it.

    Source ──due──▶ FetchResult ──parse──▶ ParsedFeed[ParsedEntry]
                                               │ clean
                                               ▼
                                          CleanPost ──store──▶ Post

A signature tells where a value is: ``parse`` takes a ``FetchResult`` and
gives a ``ParsedFeed``; ``clean`` takes a ``ParsedEntry`` and gives a
``CleanPost``; the store turns a ``CleanPost`` into a ``Post``.  Only
``CleanPost`` and ``Post`` carry HTML that is safe to show.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class SourceStatus(enum.StrEnum):
    """What the last fetch of a source came to, as the curator sees it."""

    NEW = "new"  # never fetched
    OK = "ok"
    ERROR = "error"  # failing; retried with backoff
    GONE = "gone"  # the feed answered 410; disabled


class FetchOutcome(enum.StrEnum):
    """How one fetch ended."""

    OK = "ok"  # a body to parse
    NOT_MODIFIED = "not_modified"  # 304
    GONE = "gone"  # 410
    RETRY_LATER = "retry_later"  # 429 or 503, with or without Retry-After
    ERROR = "error"  # anything else: network, HTTP error, guard, size


@dataclass(frozen=True, slots=True)
class Redirect:
    """One hop of a redirect chain."""

    status: int
    url: str
    location: str


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What ``ingest.fetch`` brought back for one URL."""

    url: str  # the URL asked for
    final_url: str  # after redirects
    outcome: FetchOutcome
    status: int | None = None  # HTTP status of the last response
    body: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    redirects: tuple[Redirect, ...] = ()
    retry_after: datetime | None = None  # from a Retry-After header
    error: str | None = None  # human-readable, for the curator
    hub_links: tuple[str, ...] = ()  # WebSub hubs from the Link header
    self_link: str | None = None  # rel=self from the Link header
    max_age: int | None = None  # Cache-Control max-age, seconds
    expires: datetime | None = None  # the Expires header (ignored when max-age is given)


@dataclass(frozen=True, slots=True)
class ParsedEntry:
    """One entry as the feed gave it; nothing here is trusted yet."""

    guid: str | None
    link: str | None
    title: str | None  # may hold markup or entities
    title_is_html: bool
    author: str | None
    published: datetime | None
    updated: datetime | None
    content: str | None  # HTML (unsanitised)
    summary: str | None  # HTML (unsanitised)
    categories: tuple[str, ...]
    base: str  # the URL relative links in this entry resolve against


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A whole feed, parsed but not cleaned."""

    format: str  # "rss2.0", "rss1.0", "rss0.91", "atom1.0", "atom0.3", "json1.1", ...
    title: str | None
    link: str | None  # the blog's site
    description: str | None
    entries: tuple[ParsedEntry, ...]
    hub_links: tuple[str, ...] = ()
    self_link: str | None = None


@dataclass(frozen=True, slots=True)
class CleanPost:
    """An entry after ``clean``: plain text where text is meant, safe HTML."""

    guid: str | None
    link: str | None  # absolute http(s), or None
    canonical_link: str | None  # normalised link, for cross-source duplicates
    title: str  # plain text, at most 1,000 characters
    author: str | None  # plain text
    published: datetime | None  # None: no usable date; the store uses the time first seen
    updated: datetime | None
    content_html: str  # sanitised
    summary_html: str  # sanitised
    categories: tuple[str, ...]  # plain text tags from the feed
    content_hash: str  # changes when the post is edited


@dataclass(frozen=True, slots=True)
class Source:
    """One blog, as stored."""

    id: int
    url: str  # the feed URL we fetch
    site_url: str | None
    title: str  # the name shown: "Original source – <title>"
    slug: str
    enabled: bool
    excerpts_only: bool
    status: SourceStatus
    http_status: int | None
    last_error: str | None
    consecutive_failures: int
    last_fetched_at: datetime | None
    last_success_at: datetime | None
    next_due_at: datetime | None
    etag: str | None
    last_modified: str | None
    created_at: datetime
    categories: tuple[str, ...] = ()
    redirect_url: str | None = None  # permanent redirect seen on the last fetch
    redirect_count: int = 0
    disabled_reason: str | None = None
    retry_after: datetime | None = None
    activity_since: datetime | None = None  # the blog's rhythm: activity_posts posts since then
    activity_posts: int = 0


@dataclass(frozen=True, slots=True)
class Post:
    """One stored post; its HTML is already clean."""

    id: int
    source_id: int
    source_title: str
    source_slug: str
    source_site_url: str | None
    guid: str | None
    link: str | None
    title: str
    author: str | None
    published: datetime
    updated: datetime | None
    first_seen: datetime
    content_html: str
    summary_html: str
    categories: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Category:
    id: int
    name: str
    slug: str
    position: int
    source_count: int = 0


@dataclass(frozen=True, slots=True)
class FetchState:
    """What one fetch changes on its source: the decision of ``ingest.schedule``."""

    status: SourceStatus
    http_status: int | None
    last_error: str | None
    consecutive_failures: int
    fetched_at: datetime
    last_success_at: datetime | None
    next_due_at: datetime
    retry_after: datetime | None  # a server's Retry-After: holds even for 'fetch --all'
    etag: str | None
    last_modified: str | None
    url: str  # the feed URL from now on (changes after a confirmed permanent redirect)
    redirect_url: str | None
    redirect_count: int
    enabled: bool
    disabled_reason: str | None
    site_url: str | None = None  # learnt from the feed, when the source had none
    activity_since: datetime | None = None  # the blog's rhythm, for its next interval
    activity_posts: int = 0


@dataclass(frozen=True, slots=True)
class SaveCounts:
    """What storing one fetch's posts did."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
