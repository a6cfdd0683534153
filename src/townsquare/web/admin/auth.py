"""Signing in and out.

Sign-in failures are counted per username and per client, in the store
(``curation/limits.py``); past a limit even the right password is refused
until the window passes.  Every sign-in, failed sign-in and sign-out is in
the audit log.  A new session (and a new cookie) is made at every sign-in.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...curation import limits
from ...curation.passwords import hash_password, needs_rehash, verify
from ..forms import Errors, client_address, form_page, read_form, read_public_form
from ..site import Site
from .context import (
    LIFETIME,
    NO_STORE,
    check_token,
    clear_session_cookie,
    session_of,
    set_session_cookie,
)

NOBODY = "(not signed in)"


def _site(request: Request) -> Site:
    site: Site = request.app.state.site
    return site


def _next(site: Site, request: Request) -> str:
    """Where to go after signing in: a page of the admin area, nowhere else."""
    wanted = request.query_params.get("next", "")
    home = site.paths.admin()
    if (
        wanted.startswith(home + "/")
        and "//" not in wanted
        and "\\" not in wanted
        and not wanted.startswith(site.paths.admin("login"))
    ):
        return wanted
    return home


def _form(
    site: Site,
    request: Request,
    *,
    status: int = 200,
    errors: Errors | None = None,
    username: str = "",
    message: str | None = None,
) -> Response:
    wanted = request.query_params.get("next", "")
    return form_page(
        site,
        request,
        "admin/login.html",
        status,
        headers=NO_STORE,
        errors=errors or Errors(),
        username=username,
        next=wanted if _next(site, request) == wanted else "",
        message=message,
    )


def _sign_in(site: Site, request: Request, username: str, password: str) -> Response:
    store, now, client = site.store, datetime.now(UTC), client_address(request)
    name = username.casefold()
    if limits.reached(store, limits.SIGN_IN_NAME, name, now) or limits.reached(
        store, limits.SIGN_IN_CLIENT, client, now
    ):
        errors = Errors()
        errors.add(
            "username",
            f"Too many failed attempts to sign in. Wait {limits.SIGN_IN_NAME.wait} and try again",
        )
        return _form(site, request, status=429, errors=errors, username=username)
    curator = store.curator(username)
    if not verify(curator, password) or curator is None:
        limits.count(store, limits.SIGN_IN_NAME, name, now)
        limits.count(store, limits.SIGN_IN_CLIENT, client, now)
        store.audit(NOBODY, f"Failed sign-in as {username!r} from {client}", now)
        errors = Errors()
        errors.add("username", "Enter a correct username and password")
        return _form(site, request, status=400, errors=errors, username=username)
    store.clear_events(limits.SIGN_IN_NAME.bucket, name)
    if needs_rehash(curator):
        store.set_password(curator.username, hash_password(password))
    token = store.start_session(curator, now, LIFETIME)
    store.audit(curator.username, f"Signed in from {client}", now)
    response = RedirectResponse(_next(site, request), status_code=303)
    set_session_cookie(site, response, token)
    return response


async def login(request: Request) -> Response:
    site = _site(request)
    if request.method == "GET":
        if await run_in_threadpool(session_of, request) is not None:
            return RedirectResponse(_next(site, request), status_code=303)
        out = "You have signed out." if request.query_params.get("out") else None
        return await run_in_threadpool(lambda: _form(site, request, message=out))
    form = await read_public_form(site, request)
    username = form.line("username", 100)
    password = form.secret("password")
    errors = Errors()
    if not username:
        errors.add("username", "Enter your username")
    if not password:
        errors.add("password", "Enter your password")
    if errors:
        return await run_in_threadpool(
            lambda: _form(site, request, status=400, errors=errors, username=username)
        )
    return await run_in_threadpool(_sign_in, site, request, username, password)


async def logout(request: Request) -> Response:
    site = _site(request)
    session = await run_in_threadpool(session_of, request)
    if session is None:
        raise HTTPException(403, "you are not signed in, or your session has ended")
    check_token(session, await read_form(request))

    def end() -> None:
        site.store.end_session(session.token_hash)
        site.store.audit(session.curator.username, "Signed out", datetime.now(UTC))

    await run_in_threadpool(end)
    response = RedirectResponse(site.paths.admin("login") + "?out=1", status_code=303)
    clear_session_cookie(site, response)
    return response
