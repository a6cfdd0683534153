"""Our feeds and OPML lists, served: the same bytes ``townsquare build`` writes.

``publish.feeds`` and ``publish.opml`` make them; here they go through the
website's cache and its one path for answers (``responses.send``), so they
get the same strong ETag, Last-Modified (the store's last change), 304s and
gzip as the pages; a feed's ``Link`` header names its WebSub hub and itself.
An unknown slug or format is the 404 page (``load_feed`` and
``category_opml`` raise ``NotFoundError``s).  A search's feed
(``/search/feed.atom?q=…``) is made afresh for each request, like the search
page, and names no WebSub hub.
"""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response

from ..errors import NotFoundError
from ..publish.document import Document
from ..publish.feeds import load_feed, render_feed
from ..publish.opml import blogs_opml, category_opml
from ..publish.paths import FeedFormat, FeedScope
from .index import SiteIndex
from .responses import Rendered
from .search import searching, tidy
from .site import Site


def _site(request: Request) -> Site:
    site: Site = request.app.state.site
    return site


def _format(request: Request) -> FeedFormat:
    try:
        return FeedFormat(request.path_params["format"])
    except ValueError:
        raise NotFoundError("no such feed") from None


def _rendered(document: Document, modified: datetime) -> Rendered:
    return Rendered.of(
        document.body, document.content_type, last_modified=modified, link=document.link
    )


async def _feed(request: Request, scope: FeedScope) -> Response:
    site, fmt = _site(request), _format(request)

    def build(index: SiteIndex, modified: datetime) -> Rendered:
        by_id = {b.id: b for b in index.blogs}
        feed = load_feed(site.store, site.config, scope, sources=by_id)
        return _rendered(render_feed(feed, fmt), modified)

    return await site.cached(request, build)


async def river_feed(request: Request) -> Response:
    return await _feed(request, FeedScope.river())


async def blog_feed(request: Request) -> Response:
    return await _feed(request, FeedScope.blog(request.path_params["slug"]))


async def category_feed(request: Request) -> Response:
    return await _feed(request, FeedScope.category(request.path_params["slug"]))


async def search_feed(request: Request) -> Response:
    site, fmt = _site(request), _format(request)
    scope = FeedScope.search(tidy(request.query_params.get("q", "")))

    def build(index: SiteIndex, modified: datetime) -> Rendered:
        by_id = {b.id: b for b in index.blogs}
        feed = load_feed(site.store, site.config, scope, sources=by_id)
        return _rendered(render_feed(feed, fmt), modified)

    return await searching(request, build)


async def all_blogs(request: Request) -> Response:
    site = _site(request)

    def build(index: SiteIndex, modified: datetime) -> Rendered:
        return _rendered(blogs_opml(site.store, site.config), modified)

    return await site.cached(request, build)


async def category_blogs(request: Request) -> Response:
    site = _site(request)
    slug = request.path_params["slug"]

    def build(index: SiteIndex, modified: datetime) -> Rendered:
        return _rendered(category_opml(site.store, site.config, slug), modified)

    return await site.cached(request, build)
