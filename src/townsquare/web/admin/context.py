"""What every admin handler stands on: the session, the CSRF check, rendering, the audit.

    page(handler)    GET:  signed in? → handler(admin) → the page (never cached)
    action(handler)  POST: signed in? → form within limits → the session's CSRF
                     token? → handler(admin) → Done: audit line, message, 303

A handler is a plain function run in a worker thread, so it may call the
store directly; ``admin.wait`` runs a coroutine (a fetch) on the event loop.
An action's success is a ``Done``, which is written to the audit log before
the redirect, so no change goes unrecorded.  Not signed in: a page redirects
to the sign-in page, an action answers 403.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote

import anyio.from_thread
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...config import Config
from ...curation.health import sentence
from ...errors import InputError
from ...model import Category
from ...store import Session, Store
from ..forms import Errors, Form, is_secure, read_form
from ..paths import Paths
from ..site import Site
from ..words import ago, date_and_time, from_now, plural

SESSION_COOKIE = "townsquare_session"
LIFETIME = timedelta(hours=12)
NO_STORE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}

T = TypeVar("T")
Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Done:
    """A change made: ``what`` goes to the audit log, then the browser goes ``to``."""

    what: str
    to: str
    message: str | None = None  # shown on the next page (default: ``what``)


class Admin:
    """One admin request: who is signed in, the form sent, and ways to answer."""

    def __init__(self, request: Request, site: Site, session: Session, form: Form | None):
        self.request = request
        self.site = site
        self.session = session
        self.form = form if form is not None else Form(_EMPTY)
        self.flash: str | None = None

    @property
    def store(self) -> Store:
        return self.site.store

    @property
    def config(self) -> Config:
        return self.site.config

    @property
    def paths(self) -> Paths:
        return self.site.paths

    @property
    def username(self) -> str:
        return self.session.curator.username

    def param(self, name: str) -> int:
        value = self.request.path_params[name]
        assert isinstance(value, int)
        return value

    def query(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default)[:200]

    def now(self) -> datetime:
        return datetime.now(UTC)

    def wait(self, function: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        """Run a coroutine function on the event loop and wait for it (a fetch)."""
        return anyio.from_thread.run(function, *args)

    def render(
        self,
        template: str,
        *,
        status: int | None = None,
        errors: Errors | None = None,
        **context: Any,
    ) -> Response:
        """An admin page, never cached; a form shown with ``errors`` answers 400 unless
        ``status`` says otherwise."""
        if status is None:
            status = 400 if errors else 200
        body = self.site.renderer.html(
            template,
            curator=self.session.curator,
            csrf=self.session.csrf_token,
            flash=self.flash,
            errors=errors or Errors(),
            ago=ago,
            from_now=from_now,
            when=date_and_time,
            plural=plural,
            category_options=category_options,
            **context,
        )
        return Response(body, status, NO_STORE, media_type="text/html; charset=utf-8")


_EMPTY: Any = {}


def category_options(categories: list[Category]) -> list[tuple[str, str, None]]:
    """Categories as checkbox options: (id, name, no hint)."""
    return [(str(c.id), c.name, None) for c in categories]


def _site(request: Request) -> Site:
    site: Site = request.app.state.site
    return site


def session_of(request: Request) -> Session | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 100:
        return None
    return _site(request).store.session(token, datetime.now(UTC))


def set_session_cookie(site: Site, response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(LIFETIME.total_seconds()),
        path=site.paths.admin() or "/",
        secure=is_secure(site),
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(site: Site, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path=site.paths.admin() or "/",
        secure=is_secure(site),
        httponly=True,
        samesite="lax",
    )


def check_token(session: Session, form: Form) -> None:
    if not hmac.compare_digest(form.text("csrf", 100), session.csrf_token):
        raise HTTPException(403, "the form's security token is missing or wrong")


def page(handler: Callable[[Admin], Response]) -> Endpoint:
    """A page of the admin area; sends anyone not signed in to sign in first."""

    async def endpoint(request: Request) -> Response:
        site = _site(request)
        session = await run_in_threadpool(session_of, request)
        if session is None:
            here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(
                site.paths.admin("login") + "?next=" + quote(here, safe="/"), status_code=303
            )
        admin = Admin(request, site, session, None)

        def run() -> Response:
            if session.flash:
                site.store.set_flash(session.token_hash, None)
                admin.flash = session.flash
            return handler(admin)

        return await run_in_threadpool(run)

    return endpoint


def action(handler: Callable[[Admin], Done | Response]) -> Endpoint:
    """A change from the admin area: signed in, with the session's token, and audited."""

    async def endpoint(request: Request) -> Response:
        site = _site(request)
        session = await run_in_threadpool(session_of, request)
        if session is None:
            raise HTTPException(403, "you are not signed in, or your session has ended")
        form = await read_form(request)
        check_token(session, form)
        admin = Admin(request, site, session, form)

        def run() -> Response:
            try:
                result = handler(admin)
            except InputError as exc:  # a problem the curator can fix: say so, change nothing
                return admin.render(
                    "admin/problem.html",
                    title="There is a problem",
                    status=400,
                    message=sentence(str(exc)),
                )
            if not isinstance(result, Done):
                return result
            site.store.audit(session.curator.username, result.what, datetime.now(UTC))
            site.store.set_flash(session.token_hash, result.message or result.what)
            return RedirectResponse(result.to, status_code=303)

        return await run_in_threadpool(run)

    return endpoint
