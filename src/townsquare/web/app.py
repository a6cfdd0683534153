"""The website as an ASGI app: one route table, and one place errors become responses.

    create_app(config, store) ─▶ SecurityHeaders(Starlette(routes, error handlers))

Every route answers under the path of ``base_url`` (``/blogs/about/`` for a
site at ``https://example.org/blogs/``), the same addresses its links use.

Errors: a ``NotFoundError`` (or an unknown address) is the 404 page, a post
taken down (``PostGoneError``) the 410 page; an ``InputError`` is a 400; a
``BusyError`` (too many searches at once) a 503 with ``Retry-After``;
anything else is a plain 500 page (the traceback goes to the server's log,
never to the reader).  Under ``/api/`` the same errors are JSON.  An unknown
address that is a known one with its final ``/`` added or dropped is sent
there with a 301.

The admin area (``/admin``) and the public forms are in the same table;
their handlers are in ``admin/``, ``asks.py`` and ``emails.py`` (email digests).
"""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp

from ..config import Config
from ..errors import BusyError, InputError, NotFoundError, PostGoneError
from ..store import Store
from . import api, asks, emails, feeds, health, live, pages, search, websub
from .admin import auth, blogs, categories, overview, queue, takedowns
from .security import SecurityHeaders
from .site import Site

ROUTES = [
    Route("/", pages.river),
    Route("/page/{page}/", pages.river),
    Route("/posts/{key}/", pages.post),
    Route("/blogs/", pages.blogs),
    Route("/blogs/{slug}/", pages.blog),
    Route("/blogs/{slug}/page/{page}/", pages.blog),
    Route("/blogs/{slug}/status/", pages.blog_status),
    Route("/categories/", pages.categories),
    Route("/categories/{slug}/", pages.category),
    Route("/categories/{slug}/page/{page}/", pages.category),
    Route("/archive/", pages.archive),
    Route("/archive/{year}/{month}/", pages.month),
    Route("/archive/{year}/{month}/page/{page}/", pages.month),
    Route("/about/", pages.about),
    Route("/search", search.page),
    Route("/search/feed.{format}", feeds.search_feed),
    Route("/feed.{format}", feeds.river_feed),
    Route("/blogs/{slug}/feed.{format}", feeds.blog_feed),
    Route("/categories/{slug}/feed.{format}", feeds.category_feed),
    Route("/blogs.opml", feeds.all_blogs),
    Route("/categories/{slug}.opml", feeds.category_blogs),
    Route("/static/{name}", pages.static),
    Route("/events", live.events),
    Route("/websub/callback/{key}", websub.callback, methods=["GET", "POST"]),
    Route("/websub/hub", websub.hub, methods=["POST"]),
    Route("/api/openapi.json", api.openapi),
    Route("/api/posts", api.posts),
    Route("/api/posts/{id:int}", api.post),
    Route("/api/blogs", api.blogs),
    Route("/api/blogs/{slug}", api.blog),
    Route("/api/categories", api.categories),
    Route("/api/search", api.search),
    Route("/healthz", health.healthz),
    Route("/metrics", health.metrics),
    Route("/suggest", asks.suggest, methods=["GET", "POST"]),
    Route("/suggest/sent", asks.sent),
    Route("/takedown", asks.takedown, methods=["GET", "POST"]),
    Route("/takedown/sent", asks.sent),
    Route("/email/subscribe", emails.subscribe, methods=["GET", "POST"]),
    Route("/email/confirm/{token}", emails.confirm, methods=["GET", "POST"]),
    Route("/email/unsubscribe/{token}", emails.unsubscribe, methods=["GET", "POST"]),
    Route("/email/preferences/{token}", emails.preferences, methods=["GET", "POST"]),
    Route("/admin/login", auth.login, methods=["GET", "POST"]),
    Route("/admin/logout", auth.logout, methods=["POST"]),
    Route("/admin", overview.overview),
    Route("/admin/health", overview.health),
    Route("/admin/audit", overview.audit),
    Route("/admin/blogs", blogs.blogs),
    Route("/admin/blogs/add", blogs.add_form, methods=["GET"]),
    Route("/admin/blogs/add", blogs.preview, methods=["POST"]),
    Route("/admin/blogs/add/save", blogs.add, methods=["POST"]),
    Route("/admin/blogs/{id:int}", blogs.blog),
    Route("/admin/blogs/{id:int}/edit", blogs.edit, methods=["POST"]),
    Route("/admin/blogs/{id:int}/fetch", blogs.fetch_now, methods=["POST"]),
    Route("/admin/blogs/{id:int}/disable", blogs.disable, methods=["POST"]),
    Route("/admin/blogs/{id:int}/enable", blogs.enable, methods=["POST"]),
    Route("/admin/blogs/{id:int}/delete", blogs.delete_form, methods=["GET"]),
    Route("/admin/blogs/{id:int}/delete", blogs.delete, methods=["POST"]),
    Route("/admin/blogs/{id:int}/filters", blogs.add_filter, methods=["POST"]),
    Route(
        "/admin/blogs/{id:int}/filters/{filter_id:int}/delete",
        blogs.remove_filter,
        methods=["POST"],
    ),
    Route("/admin/posts/{id:int}/hide", takedowns.hide_form, methods=["GET"]),
    Route("/admin/posts/{id:int}/hide", takedowns.hide, methods=["POST"]),
    Route("/admin/posts/{id:int}/show", takedowns.show, methods=["POST"]),
    Route("/admin/takedowns", takedowns.takedowns),
    Route("/admin/categories", categories.categories, methods=["GET"]),
    Route("/admin/categories", categories.create, methods=["POST"]),
    Route("/admin/categories/{id:int}/rename", categories.rename_form, methods=["GET"]),
    Route("/admin/categories/{id:int}/rename", categories.rename, methods=["POST"]),
    Route("/admin/categories/{id:int}/move", categories.move, methods=["POST"]),
    Route("/admin/categories/{id:int}/delete", categories.delete_form, methods=["GET"]),
    Route("/admin/categories/{id:int}/delete", categories.delete, methods=["POST"]),
    Route("/admin/queue", queue.queue),
    Route("/admin/queue/{id:int}", queue.item),
    Route("/admin/queue/{id:int}/check", queue.check, methods=["POST"]),
    Route("/admin/queue/{id:int}/approve", queue.approve, methods=["POST"]),
    Route("/admin/queue/{id:int}/decline", queue.decline, methods=["POST"]),
    Route("/admin/blocklist", queue.blocklist, methods=["GET"]),
    Route("/admin/blocklist", queue.block, methods=["POST"]),
    Route("/admin/blocklist/{id:int}/delete", queue.unblock, methods=["POST"]),
]

_PAGES = {
    400: ("There is a problem with the address", []),
    404: (
        "Page not found",
        [
            "If you typed the web address, check it is correct.",
            "If you pasted the web address, check you copied the entire address.",
            "A post may have been removed by its author or by the curator.",
        ],
    ),
    403: (
        "This form has expired",
        [
            "Go back, reload the page and try again.",
            "Forms stop working when you sign out, after 12 hours, or if your browser does "
            "not keep this site's cookies.",
        ],
    ),
    405: ("This page cannot be sent that way", ["Only reading pages is possible here."]),
    410: (
        "This post has been removed",
        [
            "The curator has taken this post down. Its blog's status page says why.",
        ],
    ),
    413: ("What you sent is too large", ["Shorten what you typed and try again."]),
    503: ("Too many searches at once", ["Try again in a minute."]),
    500: (
        "Sorry, there is a problem with the service",
        ["Try again later. The curator can find out more in the server's log."],
    ),
}


def error_page(site: Site, status: int, message: str) -> bytes:
    """The error page for ``status`` (also written as ``404.html`` by ``townsquare build``)."""
    heading, paragraphs = _PAGES.get(status, _PAGES[500])
    if status == 400:
        paragraphs = [message[:1].upper() + message[1:] + "."]
    return site.renderer.html(
        "error.html", title=heading, heading=heading, paragraphs=paragraphs, section=None
    )


def _error(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    """The one place an error becomes a response: JSON under /api/, a page elsewhere."""
    site: Site = request.app.state.site
    if request.url.path.startswith(site.paths.api()):
        body = json.dumps({"error": {"status": status, "message": message}})
        return Response(body, status, headers, media_type="application/json")
    html = error_page(site, status, message)
    return Response(html, status, headers, media_type="text/html; charset=utf-8")


def _moved(request: Request) -> Response | None:
    """A 301 to this address with its final '/' added or dropped, if that one exists."""
    path = request.url.path
    if request.method not in ("GET", "HEAD") or path == "/":
        return None
    other = path[:-1] if path.endswith("/") else path + "/"
    probe = {"type": "http", "path": other, "root_path": "", "method": request.method}
    routes: list[BaseRoute] = request.app.router.routes
    if not any(route.matches(probe)[0] is Match.FULL for route in routes):
        return None
    query = request.url.query
    return RedirectResponse(other + ("?" + query if query else ""), status_code=301)


async def _gone(request: Request, exc: Exception) -> Response:
    return _error(request, 410, str(exc))


async def _not_found(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, NotFoundError):  # no route has this address
        moved = _moved(request)
        if moved is not None:
            return moved
    return _error(request, 404, str(exc) if isinstance(exc, NotFoundError) else "no such page")


async def _bad_input(request: Request, exc: Exception) -> Response:
    return _error(request, 400, str(exc))


async def _busy(request: Request, exc: Exception) -> Response:
    return _error(request, 503, str(exc), {"Retry-After": "60", "Cache-Control": "no-store"})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return await _not_found(request, exc)
    return _error(request, exc.status_code, exc.detail)


async def _crash(request: Request, exc: Exception) -> Response:
    # Starlette raises the error again after this answer, so the server logs it.
    return _error(request, 500, "something went wrong on the server")


def _under(prefix: str, routes: list[Route]) -> list[Route]:
    """The routes at the path of ``base_url``: '/about/' becomes '/blogs/about/'."""
    if not prefix:
        return routes
    return [Route(prefix + r.path, r.endpoint, methods=r.methods, name=r.name) for r in routes]


def create_app(config: Config, store: Store, *, cache_size: int = 512) -> ASGIApp:
    """The website over ``store``; ``cache_size`` 0 renders every request afresh."""
    site = Site(config, store, cache_size=cache_size)
    app = Starlette(
        routes=_under(site.paths.prefix, ROUTES),
        exception_handlers={
            PostGoneError: _gone,
            NotFoundError: _not_found,
            InputError: _bad_input,
            BusyError: _busy,
            HTTPException: _http_error,
            Exception: _crash,
        },
    )
    app.router.redirect_slashes = False  # _moved does it, with a 301 rather than a 307
    app.state.site = site
    return SecurityHeaders(app)
