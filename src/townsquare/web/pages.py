"""The HTML pages: how each is made, and one small handler each that serves it.

A page function (``river_page``, ``post_page``, ...) renders a template over
what it is given and returns the bytes; it knows nothing of requests, so
``townsquare build`` makes the same pages with the same functions
(``publish/site_pages.py``).  A handler checks its address (page numbers,
slugs, dates), then hands the rendering to ``Site.cached`` (or ``Site.fresh``
for pages that show the clock).  Anything not found raises
``NotFoundError``; ``app.py`` turns it into the 404 page.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..errors import NotFoundError
from ..ingest.filter import describe as describe_rule
from ..model import Category, Post, Source
from ..publish.feeds import feed_title
from ..publish.paths import FeedScope
from .index import SiteIndex
from .paths import post_slug
from .responses import Rendered, send
from .site import Site
from .status import describe
from .views import FeedLink, Pager, feed_links, post_view
from .words import plural

_PAGE = re.compile(r"[1-9][0-9]{0,6}")
_POST_KEY = re.compile(r"([1-9][0-9]{0,17})(?:-([a-z0-9-]*))?")
_YEAR = re.compile(r"[12][0-9]{3}")
_MONTH = re.compile(r"0[1-9]|1[0-2]")


# --- the pages ----------------------------------------------------------------------------


def article(site: Site, index: SiteIndex, post: Post) -> Markup:
    """A post as every list shows it: rendered once, it can go in each list it is in."""
    return site.renderer.article(post_view(post, index, site.paths, heading=2))


@dataclass(frozen=True, slots=True)
class Listing:
    """One page of a list of posts (as ``article`` renders them), and where its neighbours are."""

    articles: list[Markup]
    pager: Pager
    first: int  # the id of the page's first post (0: none), for the live river


def _list_page(site: Site, template: str, listing: Listing, **context: Any) -> bytes:
    return site.renderer.html(template, articles=listing.articles, pages=listing.pager, **context)


def river_page(site: Site, listing: Listing) -> bytes:
    return _list_page(
        site, "river.html", listing, newest=listing.first,
        title="Latest posts", heading="Latest posts", section="river",
        empty="No posts yet. They appear here once the blogs have been fetched.",
    )  # fmt: skip


def _blog_feeds(site: Site, blog: Source) -> list[FeedLink]:
    return feed_links(
        site.paths, FeedScope.blog(blog.slug), feed_title(site.config.site_name, blog.title)
    )


def _category_feeds(site: Site, category: Category) -> list[FeedLink]:
    return feed_links(
        site.paths, FeedScope.category(category.slug),
        feed_title(site.config.site_name, category.name),
    )  # fmt: skip


def blog_page(site: Site, index: SiteIndex, blog: Source, listing: Listing) -> bytes:
    return _list_page(
        site, "blog.html", listing,
        title=blog.title, heading=blog.title, section="blogs", blog=blog,
        categories=index.categories_of(blog), feeds=_blog_feeds(site, blog),
        empty="No posts from this blog yet. Its status page says why.",
    )  # fmt: skip


def category_page(site: Site, index: SiteIndex, category: Category, listing: Listing) -> bytes:
    return _list_page(
        site, "category.html", listing,
        title=category.name, heading=category.name, section="blogs", category=category,
        blogs=index.blogs_in(category), feeds=_category_feeds(site, category),
        empty="No posts in this category yet.",
    )  # fmt: skip


@dataclass(frozen=True, slots=True, order=True)
class Month:
    year: int
    number: int

    @property
    def name(self) -> str:
        return calendar.month_name[self.number]

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """The month in UTC: its first moment and the next month's."""
        start = datetime(self.year, self.number, 1, tzinfo=UTC)
        end = datetime(self.year + (self.number == 12), self.number % 12 + 1, 1, tzinfo=UTC)
        return start, end

    def previous(self) -> Month:
        return Month(self.year - 1, 12) if self.number == 1 else Month(self.year, self.number - 1)


def month_page(site: Site, month: Month, listing: Listing) -> bytes:
    name = f"{month.name} {month.year}"
    return _list_page(
        site, "list.html", listing,
        title=f"Posts from {name}", heading=f"Posts from {name}", section="archive",
        empty=f"No posts were published in {name}.",
    )  # fmt: skip


def archive_months(span: tuple[datetime, datetime] | None) -> list[Month]:
    """Every month from the newest post's back to the oldest's, empty ones too."""
    if span is None:
        return []
    oldest, newest = (moment.astimezone(UTC) for moment in span)
    months = [Month(newest.year, newest.month)]
    while months[-1] > Month(oldest.year, oldest.month):
        months.append(months[-1].previous())
    return months


def archive_page(site: Site, months: list[Month]) -> bytes:
    years: dict[int, list[Month]] = {}
    for month in months:
        years.setdefault(month.year, []).append(month)
    return site.renderer.html(
        "archive.html", title="Archive", section="archive", years=list(years.items())
    )


def post_page(site: Site, index: SiteIndex, post: Post) -> bytes:
    view = post_view(post, index, site.paths, heading=1)
    canonical = post.link or site.paths.absolute(view.url)
    return site.renderer.html(
        "post.html", v=view, title=post.title, section=None, canonical=canonical,
        description=view.excerpt or f"A post from {view.blog.title}",
        feeds=_blog_feeds(site, view.blog),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _BlogLine:
    blog: Source
    latest: datetime | None


@dataclass(frozen=True, slots=True)
class _Group:
    name: str
    slug: str | None
    anchor: str
    blogs: list[_BlogLine]
    feeds: list[FeedLink]


def blogs_page(site: Site, index: SiteIndex) -> bytes:
    def lines(blogs: list[Source]) -> list[_BlogLine]:
        known = index.activity
        return [_BlogLine(b, known[b.id].latest if b.id in known else None) for b in blogs]

    groups = [
        _Group(
            c.name, c.slug, f"category-{c.slug}", lines(index.blogs_in(c)), _category_feeds(site, c)
        )
        for c in index.categories
    ]
    groups = [g for g in groups if g.blogs]
    other = index.uncategorised()
    if other:
        groups.append(_Group("Other blogs", None, "other-blogs", lines(other), []))
    return site.renderer.html(
        "blogs.html", title="Blogs", section="blogs", groups=groups,
        blog_count=len(index.listed),
    )  # fmt: skip


def status_page(site: Site, index: SiteIndex, blog: Source, now: datetime | None) -> bytes:
    """``now`` None: a snapshot for the static build, with dates rather than 'ago'."""
    source = site.store.source(blog.id)
    history = site.store.fetch_history(source.id)
    left_out = site.store.left_out_posts(source.id)
    status = describe(source, history, left_out, now)
    activity = index.activity.get(source.id)
    shown = plural(activity.posts, "post") if activity else "None"
    counts = site.store.left_out_counts(source.id)
    rules = [
        (describe_rule(r), plural(counts.get(r.id, 0), "post"))
        for r in site.store.filters_of(source.id)
    ]
    return site.renderer.html(
        "status.html", title=f"{source.title}: status", section="blogs", blog=source,
        status=status, shown=shown, rules=rules, feeds=_blog_feeds(site, source),
    )  # fmt: skip


def about_page(site: Site, index: SiteIndex) -> bytes:
    return site.renderer.html(
        "about.html", title=f"About {site.config.site_name}", section="about",
        blog_count=len(index.listed),
    )  # fmt: skip


# --- the handlers -------------------------------------------------------------------------


def _site(request: Request) -> Site:
    site: Site = request.app.state.site
    return site


def _not_found() -> NotFoundError:
    return NotFoundError("no such page")


def _page_number(request: Request) -> int:
    raw = request.path_params.get("page")
    if raw is None:
        return 1
    if not _PAGE.fullmatch(raw):
        raise _not_found()
    return int(raw)


def _listing(
    site: Site,
    index: SiteIndex,
    page: int,
    url: Callable[[int], str],
    query: Callable[[int, int], list[Post]],
) -> Listing:
    size = site.config.page_size
    posts = query(size + 1, (page - 1) * size)
    if not posts and page > 1:
        raise _not_found()
    older = url(page + 1) if len(posts) > size else None
    newer = url(page - 1) if page > 1 else None
    shown = posts[:size]
    articles = [article(site, index, p) for p in shown]
    return Listing(articles, Pager(page, newer, older), shown[0].id if shown else 0)


ListPage = Callable[[Site, SiteIndex, int], bytes]


async def _paged(request: Request, canonical: Callable[[int], str], build: ListPage) -> Response:
    """Send a listing page; an explicit ``/page/1/`` is sent to the list's own address."""
    page = _page_number(request)
    if "page" in request.path_params and page == 1:
        return RedirectResponse(canonical(1), status_code=301)
    site = _site(request)

    def render(index: SiteIndex, modified: datetime) -> Rendered:
        return Rendered.of(build(site, index, page), last_modified=modified)

    return await site.cached(request, render)


async def river(request: Request) -> Response:
    paths = _site(request).paths

    def build(site: Site, index: SiteIndex, page: int) -> bytes:
        query = site.store.river
        listing = _listing(site, index, page, paths.river, lambda n, o: query(limit=n, offset=o))
        return river_page(site, listing)

    return await _paged(request, paths.river, build)


async def blog(request: Request) -> Response:
    site = _site(request)
    slug = request.path_params["slug"]

    def build(site: Site, index: SiteIndex, page: int) -> bytes:
        source = index.blog_by_slug(slug)
        listing = _listing(
            site, index, page, lambda n: site.paths.blog(slug, n),
            lambda n, o: site.store.river(limit=n, offset=o, source_id=source.id),
        )  # fmt: skip
        return blog_page(site, index, source, listing)

    return await _paged(request, lambda n: site.paths.blog(slug, n), build)


async def category(request: Request) -> Response:
    site = _site(request)
    slug = request.path_params["slug"]

    def build(site: Site, index: SiteIndex, page: int) -> bytes:
        found = index.category_by_slug(slug)
        listing = _listing(
            site, index, page, lambda n: site.paths.category(slug, n),
            lambda n, o: site.store.river(limit=n, offset=o, category_id=found.id),
        )  # fmt: skip
        return category_page(site, index, found, listing)

    return await _paged(request, lambda n: site.paths.category(slug, n), build)


async def month(request: Request) -> Response:
    site = _site(request)
    raw_year, raw_month = request.path_params["year"], request.path_params["month"]
    if not (_YEAR.fullmatch(raw_year) and _MONTH.fullmatch(raw_month)):
        raise _not_found()
    wanted = Month(int(raw_year), int(raw_month))

    def build(site: Site, index: SiteIndex, page: int) -> bytes:
        if wanted not in archive_months(site.store.river_span()):
            raise _not_found()
        start, end = wanted.bounds
        listing = _listing(
            site, index, page, lambda n: site.paths.month(wanted.year, wanted.number, n),
            lambda n, o: site.store.river(limit=n, offset=o, since=start, before=end),
        )  # fmt: skip
        return month_page(site, wanted, listing)

    return await _paged(request, lambda n: site.paths.month(wanted.year, wanted.number, n), build)


async def archive(request: Request) -> Response:
    def build(index: SiteIndex, modified: datetime) -> Rendered:
        body = archive_page(site, archive_months(site.store.river_span()))
        return Rendered.of(body, last_modified=modified)

    site = _site(request)
    return await site.cached(request, build)


async def post(request: Request) -> Response:
    site = _site(request)
    match = _POST_KEY.fullmatch(request.path_params["key"])
    if match is None:
        raise _not_found()
    post_id = int(match.group(1))

    def check() -> Response | None:
        found = site.store.post(post_id)
        if match.group(2) != post_slug(found.title):
            return RedirectResponse(site.paths.post(found), status_code=301)
        return None

    def build(index: SiteIndex, modified: datetime) -> Rendered:
        body = post_page(site, index, site.store.post(post_id))
        return Rendered.of(body, last_modified=modified)

    return await site.cached(request, build, check=check)


async def blogs(request: Request) -> Response:
    def build(index: SiteIndex, modified: datetime) -> Rendered:
        return Rendered.of(blogs_page(site, index), last_modified=modified)

    site = _site(request)
    return await site.cached(request, build)


async def blog_status(request: Request) -> Response:
    site = _site(request)
    slug = request.path_params["slug"]

    def build(index: SiteIndex, modified: datetime) -> Rendered:
        return Rendered.of(status_page(site, index, index.blog_by_slug(slug), datetime.now(UTC)))

    return await site.fresh(request, build)


async def about(request: Request) -> Response:
    def build(index: SiteIndex, modified: datetime) -> Rendered:
        return Rendered.of(about_page(site, index), last_modified=modified)

    site = _site(request)
    return await site.cached(request, build)


async def categories(request: Request) -> Response:
    return RedirectResponse(_site(request).paths.blogs(), status_code=301)


async def static(request: Request) -> Response:
    found = _site(request).assets.get(request.path_params["name"])
    if found is None:
        raise _not_found()
    return send(request, found)
