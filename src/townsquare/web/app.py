"""The website as an ASGI app: one route table, and one place errors become responses.

    create_app(config, store) ─▶ SecurityHeaders(Starlette(routes, error handlers))

Every route answers under the path of ``base_url`` (``/blogs/about/`` for a
site at ``https://example.org/blogs/``), the same addresses its links use.

Errors: a ``NotFoundError`` (or an unknown address) is the 404 page; an
``InputError`` is a 400; anything else is a plain 500 page (the traceback
goes to the server's log, never to the reader).  Under ``/api/`` the same
errors are JSON.  An unknown address that is a known one with its final
``/`` added or dropped is sent there with a 301.
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
from ..errors import InputError, NotFoundError
from ..store import Store
from . import api, feeds, pages
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
    Route("/feed.{format}", feeds.river_feed),
    Route("/blogs/{slug}/feed.{format}", feeds.blog_feed),
    Route("/categories/{slug}/feed.{format}", feeds.category_feed),
    Route("/blogs.opml", feeds.all_blogs),
    Route("/categories/{slug}.opml", feeds.category_blogs),
    Route("/static/{name}", pages.static),
    Route("/api/openapi.json", api.openapi),
    Route("/api/posts", api.posts),
    Route("/api/posts/{id:int}", api.post),
    Route("/api/blogs", api.blogs),
    Route("/api/blogs/{slug}", api.blog),
    Route("/api/categories", api.categories),
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
    405: ("This page cannot be sent that way", ["Only reading pages is possible here."]),
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


def _error(request: Request, status: int, message: str) -> Response:
    """The one place an error becomes a response: JSON under /api/, a page elsewhere."""
    site: Site = request.app.state.site
    if request.url.path.startswith(site.paths.api()):
        body = json.dumps({"error": {"status": status, "message": message}})
        return Response(body, status, media_type="application/json")
    html = error_page(site, status, message)
    return Response(html, status, media_type="text/html; charset=utf-8")


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


async def _not_found(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, NotFoundError):  # no route has this address
        moved = _moved(request)
        if moved is not None:
            return moved
    return _error(request, 404, str(exc) if isinstance(exc, NotFoundError) else "no such page")


async def _bad_input(request: Request, exc: Exception) -> Response:
    return _error(request, 400, str(exc))


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
            NotFoundError: _not_found,
            InputError: _bad_input,
            HTTPException: _http_error,
            Exception: _crash,
        },
    )
    app.router.redirect_slashes = False  # _moved does it, with a 301 rather than a 307
    app.state.site = site
    return SecurityHeaders(app)
