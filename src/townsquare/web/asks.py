"""The public's forms: "Suggest a blog", and blog owners' "Ask for a post to be removed
(or for excerpts only)".  Both land in the curator's moderation queue.

Each form has a token against cross-site forgery (``forms.py``), a honeypot
field people never see (a bot that fills it is thanked and ignored), and
rate limits (``curation/limits.py``).  A suggestion is checked in the
background once it is stored (``curation/checks.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..curation import limits
from ..curation.checks import check_item
from ..store import ItemKind
from .forms import Errors, Form, client_address, form_page, is_email, read_public_form, web_address
from .responses import Rendered
from .site import Site

HONEYPOT = "homepage"  # hidden from people; bots fill it in
MAX_NOTE = 2000
_log = logging.getLogger(__name__)


def _site(request: Request) -> Site:
    site: Site = request.app.state.site
    return site


def _page(
    site: Site, request: Request, template: str, status: int, errors: Errors, values: dict[str, Any]
) -> Response:
    return form_page(
        site, request, template, status, errors=errors, values=values, honeypot=HONEYPOT
    )


def _over_limit(site: Site, request: Request, now: datetime) -> bool:
    """Whether this client, or everyone together, has sent too many forms lately;
    counts this one when not."""
    store, client = site.store, client_address(request)
    if limits.reached(store, limits.FORM_CLIENT, client, now) or limits.reached(
        store, limits.FORM_ALL, limits.EVERYONE, now
    ):
        return True
    limits.count(store, limits.FORM_CLIENT, client, now)
    limits.count(store, limits.FORM_ALL, limits.EVERYONE, now)
    return False


def _too_many() -> str:
    wait = limits.FORM_CLIENT.wait
    return f"You have sent this form too many times. Wait {wait} and try again"


async def _handle(
    request: Request,
    template: str,
    sent: str,
    read: Callable[[Form, Errors], tuple[ItemKind, dict[str, str]]],
    kind_field: str,
) -> Response:
    site = _site(request)
    if request.method == "GET":
        return await run_in_threadpool(_page, site, request, template, 200, Errors(), {})
    form = await read_public_form(site, request)
    if form.text(HONEYPOT):
        return RedirectResponse(sent, status_code=303)
    errors = Errors()
    kind, values = read(form, errors)
    if errors:
        return await run_in_threadpool(_page, site, request, template, 400, errors, values)
    now = datetime.now(UTC)
    if await run_in_threadpool(_over_limit, site, request, now):
        errors.add(kind_field, _too_many())
        return await run_in_threadpool(_page, site, request, template, 429, errors, values)
    item = await run_in_threadpool(
        site.store.add_item,
        kind,
        values["url"],
        values["name"],
        values["email"],
        values["note"],
        now,
    )
    task = None
    if kind is ItemKind.SUGGESTION:
        task = BackgroundTask(_check_quietly, site, item.id)
    return RedirectResponse(sent, status_code=303, background=task)


async def _check_quietly(site: Site, item_id: int) -> None:
    """Check a suggestion after answering; a failure leaves it for the curator to check."""
    try:
        await check_item(site.store, site.config, item_id)
    except Exception:  # the queue shows it as not checked yet
        _log.exception("checking suggestion %s failed", item_id)


def _address(form: Form, errors: Errors, missing: str) -> str:
    """The form's web address, made whole (https://), or as typed with an error."""
    typed = form.line("url", 2000)
    if not typed:
        errors.add("url", missing)
        return typed
    address = web_address(typed)
    if address is None:
        errors.add("url", "Enter a web address in the correct format, like blog.example.org")
    return address or typed


def _contact(form: Form, errors: Errors, values: dict[str, str]) -> None:
    values["name"] = form.line("name", 200)
    values["email"] = form.line("email", 254)
    values["note"] = form.text("note", MAX_NOTE * 2)
    if not values["email"]:
        errors.add("email", "Enter your email address, so we can tell you what we decide")
    elif not is_email(values["email"]):
        errors.add("email", "Enter an email address in the correct format, like name@example.com")
    if len(values["note"]) > MAX_NOTE:
        errors.add("note", f"Your message must be {MAX_NOTE:,} characters or fewer")


def _read_suggestion(form: Form, errors: Errors) -> tuple[ItemKind, dict[str, str]]:
    values = {"url": _address(form, errors, "Enter the address of the blog or its feed")}
    _contact(form, errors, values)
    return ItemKind.SUGGESTION, values


def _read_takedown(form: Form, errors: Errors) -> tuple[ItemKind, dict[str, str]]:
    choice = form.text("kind", 20)
    if choice not in (ItemKind.TAKEDOWN.value, ItemKind.EXCERPTS.value):
        errors.add("kind", "Select what you would like us to do")
    values = {
        "kind": choice,
        "url": _address(form, errors, "Enter the address of the post or of your blog"),
    }
    _contact(form, errors, values)
    if not values["note"] and not errors.get("note"):
        errors.add("note", "Tell us why, and that it is your post or your blog")
    kind = ItemKind.EXCERPTS if choice == ItemKind.EXCERPTS.value else ItemKind.TAKEDOWN
    return kind, values


async def suggest(request: Request) -> Response:
    sent = _site(request).paths.suggest() + "/sent"
    return await _handle(request, "suggest.html", sent, _read_suggestion, "url")


async def takedown(request: Request) -> Response:
    sent = _site(request).paths.takedown() + "/sent"
    return await _handle(request, "takedown.html", sent, _read_takedown, "kind")


async def sent(request: Request) -> Response:
    """The confirmation after either form."""
    site = _site(request)
    suggestion = request.url.path.endswith("/suggest/sent")

    def build(index: object, modified: datetime) -> Rendered:
        body = site.renderer.html("sent.html", suggestion=suggestion, section=None)
        return Rendered.of(body, last_modified=modified)

    return await site.cached(request, build)
