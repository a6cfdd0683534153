"""The HTML pages: one small handler each, rendering a template over store queries.

A handler checks its address (page numbers, slugs, dates), then hands the
rendering to ``Site.cached`` (or ``Site.fresh`` for pages that show the
clock).  Anything not found raises ``NotFoundError``; ``app.py`` turns it into
the 404 page.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..errors import NotFoundError
from ..ingest.filter import describe as describe_rule
from ..model import Post, Source
from .index import SiteIndex
from .paths import post_slug
from .responses import Rendered, send
from .site import Site
from .status import describe
from .views import Pager, post_view
from .words import plural

_PAGE = re.compile(r"[1-9][0-9]{0,6}")
_POST_KEY = re.compile(r"([1-9][0-9]{0,17})(?:-([a-z0-9-]*))?")
_YEAR = re.compile(r"[12][0-9]{3}")
_MONTH = re.compile(r"0[1-9]|1[0-2]")


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


@dataclass(frozen=True, slots=True)
class _Listing:
    """One page of a list of posts, and where its neighbours are."""

    posts: list[Post]
    pager: Pager


def _listing(
    site: Site, page: int, url: Callable[[int], str], query: Callable[[int, int], list[Post]]
) -> _Listing:
    size = site.config.page_size
    posts = query(size + 1, (page - 1) * size)
    if not posts and page > 1:
        raise _not_found()
    older = url(page + 1) if len(posts) > size else None
    newer = url(page - 1) if page > 1 else None
    return _Listing(posts[:size], Pager(page, newer, older))


def _list_page(
    site: Site,
    index: SiteIndex,
    last_modified: datetime,
    template: str,
    listing: _Listing,
    **context: Any,
) -> Rendered:
    views = [post_view(p, index, site.paths, heading=2) for p in listing.posts]
    body = site.renderer.html(template, posts=views, pages=listing.pager, **context)
    return Rendered.of(body, last_modified=last_modified)


async def _paged(request: Request, canonical: Callable[[int], str], build: Any) -> Response:
    """Send a listing page; an explicit ``/page/1`` is sent to the list's own address."""
    page = _page_number(request)
    if "page" in request.path_params and page == 1:
        return RedirectResponse(canonical(1), status_code=301)
    site = _site(request)
    return await site.cached(request, lambda index, modified: build(site, index, modified, page))


async def river(request: Request) -> Response:
    paths = _site(request).paths

    def build(site: Site, index: SiteIndex, modified: datetime, page: int) -> Rendered:
        listing = _listing(
            site, page, paths.river, lambda n, o: site.store.river(limit=n, offset=o)
        )
        return _list_page(
            site, index, modified, "river.html", listing,
            title="Latest posts", heading="Latest posts", section="river",
            empty="No posts yet. They appear here once the blogs have been fetched.",
        )  # fmt: skip

    return await _paged(request, paths.river, build)


async def blog(request: Request) -> Response:
    site = _site(request)
    slug = request.path_params["slug"]

    def build(site: Site, index: SiteIndex, modified: datetime, page: int) -> Rendered:
        source = index.blog_by_slug(slug)
        listing = _listing(
            site, page, lambda n: site.paths.blog(slug, n),
            lambda n, o: site.store.river(limit=n, offset=o, source_id=source.id),
        )  # fmt: skip
        return _list_page(
            site, index, modified, "blog.html", listing,
            title=source.title, heading=source.title, section="blogs", blog=source,
            categories=index.categories_of(source),
            empty="No posts from this blog yet. Its status page says why.",
        )  # fmt: skip

    return await _paged(request, lambda n: site.paths.blog(slug, n), build)


async def category(request: Request) -> Response:
    site = _site(request)
    slug = request.path_params["slug"]

    def build(site: Site, index: SiteIndex, modified: datetime, page: int) -> Rendered:
        found = index.category_by_slug(slug)
        listing = _listing(
            site, page, lambda n: site.paths.category(slug, n),
            lambda n, o: site.store.river(limit=n, offset=o, category_id=found.id),
        )  # fmt: skip
        return _list_page(
            site, index, modified, "category.html", listing,
            title=found.name, heading=found.name, section="blogs", category=found,
            blogs=index.blogs_in(found), empty="No posts in this category yet.",
        )  # fmt: skip

    return await _paged(request, lambda n: site.paths.category(slug, n), build)


def _month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return start, end


async def month(request: Request) -> Response:
    site = _site(request)
    raw_year, raw_month = request.path_params["year"], request.path_params["month"]
    if not (_YEAR.fullmatch(raw_year) and _MONTH.fullmatch(raw_month)):
        raise _not_found()
    year, number = int(raw_year), int(raw_month)

    def build(site: Site, index: SiteIndex, modified: datetime, page: int) -> Rendered:
        span = site.store.river_span()
        start, end = _month_bounds(year, number)
        if span is None or end <= _month_bounds(span[0].year, span[0].month)[0] or start > span[1]:
            raise _not_found()
        listing = _listing(
            site, page, lambda n: site.paths.month(year, number, n),
            lambda n, o: site.store.river(limit=n, offset=o, since=start, before=end),
        )  # fmt: skip
        name = f"{calendar.month_name[number]} {year}"
        return _list_page(
            site, index, modified, "list.html", listing,
            title=f"Posts from {name}", heading=f"Posts from {name}", section="archive",
            empty=f"No posts were published in {name}.",
        )  # fmt: skip

    return await _paged(request, lambda n: site.paths.month(year, number, n), build)


@dataclass(frozen=True, slots=True)
class _Month:
    number: int
    name: str


async def archive(request: Request) -> Response:
    def build(index: SiteIndex, modified: datetime) -> Rendered:
        span = site.store.river_span()
        years: list[tuple[int, list[_Month]]] = []
        if span is not None:
            oldest, newest = span
            for year in range(newest.year, oldest.year - 1, -1):
                first = oldest.month if year == oldest.year else 1
                last = newest.month if year == newest.year else 12
                months = [_Month(m, calendar.month_name[m]) for m in range(last, first - 1, -1)]
                years.append((year, months))
        body = site.renderer.html("archive.html", title="Archive", section="archive", years=years)
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
        found = site.store.post(post_id)
        view = post_view(found, index, site.paths, heading=1)
        canonical = found.link or site.config.base_url.rstrip("/") + view.url
        body = site.renderer.html(
            "post.html", v=view, title=found.title, section=None, canonical=canonical,
            description=view.excerpt or f"A post from {view.blog.title}",
        )  # fmt: skip
        return Rendered.of(body, last_modified=modified)

    return await site.cached(request, build, check=check)


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


async def blogs(request: Request) -> Response:
    def build(index: SiteIndex, modified: datetime) -> Rendered:
        def lines(blogs: list[Source]) -> list[_BlogLine]:
            known = index.activity
            return [_BlogLine(b, known[b.id].latest if b.id in known else None) for b in blogs]

        groups = [
            _Group(c.name, c.slug, f"category-{c.slug}", lines(index.blogs_in(c)))
            for c in index.categories
        ]
        groups = [g for g in groups if g.blogs]
        other = index.uncategorised()
        if other:
            groups.append(_Group("Other blogs", None, "other-blogs", lines(other)))
        body = site.renderer.html(
            "blogs.html", title="Blogs", section="blogs", groups=groups,
            blog_count=len(index.listed),
        )  # fmt: skip
        return Rendered.of(body, last_modified=modified)

    site = _site(request)
    return await site.cached(request, build)


async def blog_status(request: Request) -> Response:
    site = _site(request)
    slug = request.path_params["slug"]

    def build(index: SiteIndex, modified: datetime) -> Rendered:
        source = site.store.source(index.blog_by_slug(slug).id)
        history = site.store.fetch_history(source.id)
        left_out = site.store.left_out_posts(source.id)
        status = describe(source, history, left_out, datetime.now(UTC))
        activity = index.activity.get(source.id)
        shown = plural(activity.posts, "post") if activity else "None"
        counts = site.store.left_out_counts(source.id)
        rules = [
            (describe_rule(r), plural(counts.get(r.id, 0), "post"))
            for r in site.store.filters_of(source.id)
        ]
        body = site.renderer.html(
            "status.html", title=f"{source.title}: status", section="blogs", blog=source,
            status=status, shown=shown, rules=rules,
        )  # fmt: skip
        return Rendered.of(body)

    return await site.fresh(request, build)


async def about(request: Request) -> Response:
    def build(index: SiteIndex, modified: datetime) -> Rendered:
        body = site.renderer.html(
            "about.html", title=f"About {site.config.site_name}", section="about",
            blog_count=len(index.listed),
        )  # fmt: skip
        return Rendered.of(body, last_modified=modified)

    site = _site(request)
    return await site.cached(request, build)


async def categories(request: Request) -> Response:
    return RedirectResponse(_site(request).paths.blogs(), status_code=301)


async def static(request: Request) -> Response:
    found = _site(request).assets.get(request.path_params["name"])
    if found is None:
        raise _not_found()
    return send(request, found)
