"""Where each published file lives, relative to the site's base URL.

The website serves these paths and ``townsquare build`` writes them into its
output folder, so links work the same from both (also from a sub-folder)::

    feed.atom  feed.rss  feed.json                  the river
    categories/<slug>/feed.atom|rss|json            one category
    blogs/<slug>/feed.atom|rss|json                 one blog
    blogs.opml                                      every blog, grouped by category
    categories/<slug>.opml                          one category's blogs
    posts/<id>-<slug>                               one post (the website's page)
    websub/hub                                      our WebSub hub (the website only)

A feed's page (its ``rel="alternate"``) is ``""`` (the river),
``categories/<slug>`` or ``blogs/<slug>``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

from ..text import slugify


class FeedFormat(enum.StrEnum):
    """A feed format; its value is the file extension."""

    ATOM = "atom"
    RSS = "rss"
    JSON = "json"

    @property
    def content_type(self) -> str:
        return _CONTENT_TYPES[self]


_CONTENT_TYPES = {
    FeedFormat.ATOM: "application/atom+xml; charset=utf-8",
    FeedFormat.RSS: "application/rss+xml; charset=utf-8",
    FeedFormat.JSON: "application/feed+json; charset=utf-8",
}

OPML_CONTENT_TYPE = "text/x-opml; charset=utf-8"
BLOGS_OPML = "blogs.opml"
HUB_PATH = "websub/hub"


def category_opml_path(slug: str) -> str:
    return f"categories/{slug}.opml"


def post_path(post_id: int, title: str) -> str:
    """The post's own page: 'posts/42-weeknotes-12' (feeds link to it when a post has no link)."""
    return f"posts/{post_id}-{slugify(title, fallback='post')}"


@dataclass(frozen=True, slots=True)
class FeedScope:
    """Which posts a feed holds: the whole river, one category or one blog."""

    kind: Literal["river", "category", "blog"]
    slug: str = ""

    @classmethod
    def river(cls) -> FeedScope:
        return cls("river")

    @classmethod
    def category(cls, slug: str) -> FeedScope:
        return cls("category", slug)

    @classmethod
    def blog(cls, slug: str) -> FeedScope:
        return cls("blog", slug)

    @property
    def page_path(self) -> str:
        """The page the feed stands for: '', 'categories/<slug>' or 'blogs/<slug>'."""
        if self.kind == "river":
            return ""
        return f"{'categories' if self.kind == 'category' else 'blogs'}/{self.slug}"

    def feed_path(self, fmt: FeedFormat) -> str:
        """'feed.atom', 'categories/<slug>/feed.rss', 'blogs/<slug>/feed.json', ..."""
        folder = self.page_path
        return f"{folder}/feed.{fmt.value}" if folder else f"feed.{fmt.value}"


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
