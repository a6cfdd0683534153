"""What a page shows of a post, prepared for the templates."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from ..model import Category, Post, Source
from ..publish.paths import FeedFormat, FeedScope
from .content import excerpt, shift_headings
from .index import SiteIndex
from .paths import Paths


@dataclass(frozen=True, slots=True)
class PostView:
    post: Post
    blog: Source
    url: str  # the post's page on this site
    categories: list[Category]  # the blog's categories
    body: Markup | None  # the whole post, or None for a blog that asks for excerpts only
    excerpt: str

    @property
    def original(self) -> str | None:
        return self.post.link or self.blog.site_url


def post_view(post: Post, index: SiteIndex, paths: Paths, *, heading: int) -> PostView:
    """``heading`` is the level of the post's title; its own headings go below it."""
    blog = index.blog(post.source_id)
    full = not blog.excerpts_only
    return PostView(
        post=post,
        blog=blog,
        url=paths.post(post),
        categories=index.categories_of(blog),
        # The stored HTML was sanitised once, at ingest; it is shown as it is.
        body=Markup(shift_headings(post.content_html, heading + 1)) if full else None,
        excerpt="" if full else excerpt(post),
    )


@dataclass(frozen=True, slots=True)
class Pager:
    number: int
    newer: str | None
    older: str | None


@dataclass(frozen=True, slots=True)
class FeedLink:
    """One of our feeds, as a page links to it (in its head and in its text)."""

    title: str  # "Digital – Public sector blogs (Atom)"
    label: str  # "Atom", "RSS", "JSON Feed"
    media_type: str
    href: str


def feed_links(paths: Paths, scope: FeedScope, title: str) -> list[FeedLink]:
    """The feed of the river, a category or a blog in each format; ``title`` is the feed's."""
    return [
        FeedLink(f"{title} ({fmt.label})", fmt.label, fmt.media_type, paths.feed(scope, fmt))
        for fmt in FeedFormat
    ]
