"""Where each published file lives, relative to the site's base URL.

The website serves these paths and ``townsquare build`` writes them into its
output folder, so links work the same from both (also from a sub-folder)::

    feed.atom  feed.rss  feed.json                  the river
    categories/<slug>/feed.atom|rss|json            one category
    blogs/<slug>/feed.atom|rss|json                 one blog
    search/feed.atom|rss|json?q=<query>             the newest posts a search finds (the
                                                    website only)
    blogs.opml                                      every blog, grouped by category
    categories/<slug>.opml                          one category's blogs
    posts/<id>-<slug>/                              one post (the website's page)
    websub/hub                                      our WebSub hub (the website only)

A feed's page (its ``rel="alternate"``) is ``""`` (the river),
``categories/<slug>/``, ``blogs/<slug>/`` or ``search?q=<query>``.  Pages end with ``/``: a static
build writes each as ``index.html`` in a folder of that name, which every
static host serves at that address without a redirect.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlencode

from ..text import slugify


class FeedFormat(enum.StrEnum):
    """A feed format; its value is the file extension."""

    ATOM = "atom"
    RSS = "rss"
    JSON = "json"

    @property
    def content_type(self) -> str:
        return _CONTENT_TYPES[self]

    @property
    def media_type(self) -> str:
        """The content type without its charset, for ``type`` attributes."""
        return _CONTENT_TYPES[self].split(";")[0]

    @property
    def label(self) -> str:
        """The format's name as readers know it: 'Atom', 'RSS', 'JSON Feed'."""
        return _LABELS[self]


_CONTENT_TYPES = {
    FeedFormat.ATOM: "application/atom+xml; charset=utf-8",
    FeedFormat.RSS: "application/rss+xml; charset=utf-8",
    FeedFormat.JSON: "application/feed+json; charset=utf-8",
}

_LABELS = {FeedFormat.ATOM: "Atom", FeedFormat.RSS: "RSS", FeedFormat.JSON: "JSON Feed"}

OPML_CONTENT_TYPE = "text/x-opml; charset=utf-8"
BLOGS_OPML = "blogs.opml"
HUB_PATH = "websub/hub"
SEARCH_PATH = "search"


def category_opml_path(slug: str) -> str:
    return f"categories/{slug}.opml"


def post_slug(title: str) -> str:
    return slugify(title, fallback="post")


def post_path(post_id: int, title: str) -> str:
    """The post's own page: 'posts/42-weeknotes-12/' (feeds link to it when a post has no link)."""
    return f"posts/{post_id}-{post_slug(title)}/"


@dataclass(frozen=True, slots=True)
class FeedScope:
    """Which posts a feed holds: the whole river, one category, one blog or a search's."""

    kind: Literal["river", "category", "blog", "search"]
    slug: str = ""
    query: str = ""  # what was searched for (kind "search")

    @classmethod
    def river(cls) -> FeedScope:
        return cls("river")

    @classmethod
    def category(cls, slug: str) -> FeedScope:
        return cls("category", slug)

    @classmethod
    def blog(cls, slug: str) -> FeedScope:
        return cls("blog", slug)

    @classmethod
    def search(cls, query: str) -> FeedScope:
        return cls("search", query=query)

    @property
    def _search_query(self) -> str:
        return "?" + urlencode({"q": self.query})

    @property
    def page_path(self) -> str:
        """The page the feed stands for: '', 'categories/<slug>/', 'blogs/<slug>/' or
        'search?q=<query>'."""
        if self.kind == "river":
            return ""
        if self.kind == "search":
            return SEARCH_PATH + self._search_query
        return f"{'categories' if self.kind == 'category' else 'blogs'}/{self.slug}/"

    def feed_path(self, fmt: FeedFormat) -> str:
        """'feed.atom', 'categories/<slug>/feed.rss', 'blogs/<slug>/feed.json',
        'search/feed.atom?q=<query>', ..."""
        if self.kind == "search":
            return f"{SEARCH_PATH}/feed.{fmt.value}{self._search_query}"
        return f"{self.page_path}feed.{fmt.value}"


def feed_at(path: str) -> tuple[FeedScope, FeedFormat] | None:
    """Which feed lives at ``path`` (as ``FeedScope.feed_path`` gives it), if any."""
    folder, _, name = path.rpartition("/")
    stem, dot, ext = name.partition(".")
    if stem != "feed" or not dot or ext not in {f.value for f in FeedFormat}:
        return None
    fmt = FeedFormat(ext)
    if not folder:
        return FeedScope.river(), fmt
    kind, _, slug = folder.partition("/")
    if not slug or "/" in slug or slug != slugify(slug, fallback=""):
        return None
    if kind == "blogs":
        return FeedScope.blog(slug), fmt
    if kind == "categories":
        return FeedScope.category(slug), fmt
    return None
