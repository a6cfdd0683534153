"""The data that flows through Townsquare, named by the stage that made it.

    Source ──due──▶ FetchResult ──parse──▶ ParsedFeed[ParsedEntry]
                                               │ clean, then extract and filter
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
    NOT_MODIFIED = "not_modified"  # 304, or the very feed read last time (not read again)
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


class FilterAction(enum.StrEnum):
    INCLUDE = "include"  # only posts that match are shown
    EXCLUDE = "exclude"  # posts that match are left out


class FilterField(enum.StrEnum):
    TITLE = "title"
    TEXT = "text"  # the title or the post's text
    TAGS = "tags"  # the post's own categories or tags, as the feed gives them


@dataclass(frozen=True, slots=True)
class PostFilter:
    """A curator's rule for which of a blog's posts the site shows."""

    id: int
    source_id: int
    action: FilterAction
    field: FilterField
    words: tuple[str, ...]  # any one of them matches (whole words, any case)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why a filter leaves a post out."""

    filter_id: int
    reason: str  # in plain words, shown on the blog's status page


@dataclass(frozen=True, slots=True)
class CleanPost:
    """An entry after ``clean``: plain text where text is meant, safe HTML.

    ``extract`` may replace the HTML with the whole article from the post's page
    (sanitised the same way); ``filter`` sets ``left_out``.

    The HTML and the text are kept in UTF-8, as the store writes them: posts are
    made in the parsing processes and written by the one writer thread, which sets
    the pace of a first pass, and a string would be decoded when it arrives and
    encoded again to be written (about 4 % of the pass), and would take two bytes
    a character once it holds a curly quote.  ``content_html`` and ``text`` decode
    them for what reads them as text (filters, extraction).
    """

    guid: str | None
    link: str | None  # absolute http(s), or None
    canonical_link: str | None  # normalised link, for cross-source duplicates
    title: str  # plain text, at most 1,000 characters
    author: str | None  # plain text
    published: datetime | None  # None: no usable date; the store uses the time first seen
    updated: datetime | None
    content_utf8: bytes  # the sanitised HTML, in UTF-8
    summary_html: str  # sanitised
    categories: tuple[str, ...]  # plain text tags from the feed
    content_hash: str  # changes when the post is edited (the feed's version, even if extracted)
    text_utf8: bytes  # the HTML as the words a reader sees (what search indexes and filters
    # read), in UTF-8
    left_out: Verdict | None = None  # set by the filter stage: why the site does not show it

    @property
    def content_html(self) -> str:
        return self.content_utf8.decode()

    @property
    def text(self) -> str:
        return self.text_utf8.decode()


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
    hub_url: str | None = None  # the WebSub hub its feed advertises
    topic_url: str | None = None  # the feed's own address, as it names it for the hub
    push_until: datetime | None = None  # a hub pushes its posts until then (polled daily)
    extract_full: bool = False  # fetch each post's page for the whole article
    retired: bool = False  # deleted by the curator with its posts kept: no longer listed
    body_hash: str | None = None  # the feed as last read without fault (``read.body_hash``)


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
    hub_url: str | None = None  # the WebSub hub the feed advertises, if any
    topic_url: str | None = None
    body_hash: str | None = None  # the feed as read now, if it was read without fault


@dataclass(frozen=True, slots=True)
class SaveCounts:
    """What storing one fetch's posts did."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0


class Frequency(enum.StrEnum):
    """How often a subscriber gets a digest."""

    DAILY = "daily"
    WEEKLY = "weekly"


class DeliveryStatus(enum.StrEnum):
    """Where one digest (one subscriber, one period) has got to."""

    PENDING = "pending"  # planned, not tried yet
    SENDING = "sending"  # claimed just before SMTP DATA; left behind only by a crash
    SENT = "sent"
    TEMP_FAILED = "temp_failed"  # a 4xx answer: tried again on the next run
    FAILED = "failed"  # a 5xx answer: counted against the subscriber
    EMPTY = "empty"  # nothing new: nothing sent
    SUPERSEDED = "superseded"  # never sent; a later period's digest took its posts
    UNKNOWN = "unknown"  # a run stopped during DATA: perhaps delivered, never sent again


@dataclass(frozen=True, slots=True)
class Subscriber:
    """Someone who asked for email digests (confirmed or not yet)."""

    id: int
    address: str
    frequency: Frequency
    category_ids: tuple[int, ...] | None  # None: every category
    link_key: str  # random; signed into every link, replaced to revoke old links
    created_at: datetime
    confirmed_at: datetime | None
    paused_at: datetime | None
    paused_reason: str | None
    permanent_failures: int
    digest_through: datetime | None  # posts first seen before this were in a digest


@dataclass(frozen=True, slots=True)
class Delivery:
    """One digest to send: a subscriber, a period and the posts it covers."""

    id: int
    period: str  # '2026-11-24' (daily) or '2026-W48' (weekly)
    status: DeliveryStatus
    covers_from: datetime  # posts first seen from this second ...
    covers_until: datetime  # ... up to but not including this one
    attempts: int
    subscriber: Subscriber


@dataclass(frozen=True, slots=True)
class SubscriberCounts:
    """How many people get digests; never who."""

    confirmed: dict[Frequency, int]
    all_categories: dict[Frequency, int]  # of the confirmed, those who take every category
    by_category: dict[str, dict[Frequency, int]]  # category name -> frequency -> count
    unconfirmed: int
    paused: int
