"""The email pages: the form to subscribe, and the pages the links in emails lead to.

    GET  /email/subscribe              the form: address, daily or weekly, categories
    POST /email/subscribe              "Check your email", the same for any address
    GET  /email/<purpose>/TOKEN        a page with one button; changes nothing
    POST /email/confirm/TOKEN          "Subscription confirmed"
    POST /email/unsubscribe/TOKEN      "You have unsubscribed"; also RFC 8058 one-click
    POST /email/preferences/TOKEN      the preferences again, saved

Thin: each handler reads the form, calls ``notify/subscribe.py`` and shows
the outcome.  The subscribe, confirm and preferences forms carry the public
forms' token against cross-site forgery (``forms.py``).  Unsubscribing does
not: a mail client's one-click POST (``List-Unsubscribe=One-Click``) comes
with no cookie, so the signed token in the address is the only authority,
and the body is not read at all.  The form needs ``email_enabled``; links
from emails already sent work while ``secret_key`` is set (``links_work``),
so anyone can always leave.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..model import Subscriber
from ..notify import subscribe as logic
from ..notify.compose import FORGET_UNCONFIRMED_DAYS
from ..notify.digest import PAUSE_AFTER
from ..notify.subscribe import ALL, Outcome, PreferencesForm, Result, SubscriptionForm
from ..notify.tokens import CONFIRM_MAX_AGE, Purpose
from .forms import Errors, client_address, form_page, read_public_form
from .site import Site

HOURS = int(CONFIRM_MAX_AGE.total_seconds() // 3600)  # a link to confirm works this long
TOO_MANY = "You have sent this form too many times. Wait an hour and try again"
HONEYPOT = "website"  # SubscriptionForm.website: hidden from people; bots fill it in
_ONE_BUTTON = {  # a link's page before its button is pressed
    Purpose.CONFIRM: "email/confirm.html",
    Purpose.UNSUBSCRIBE: "email/unsubscribe.html",
}
_DONE = {
    Outcome.CONFIRMED: "email/confirmed.html",
    Outcome.UNSUBSCRIBED: "email/unsubscribed.html",
}
_STATUS = {
    Outcome.INVALID: 400,
    Outcome.TOO_MANY: 429,
    Outcome.NOT_SENT: 503,
    Outcome.EXPIRED: 410,
    Outcome.BAD_LINK: 404,
}


def _site(request: Request) -> Site:
    site: Site = request.app.state.site
    return site


def _now() -> datetime:
    return datetime.now(UTC)


async def _page(
    site: Site, request: Request, template: str, status: int = 200, **context: Any
) -> Response:
    return await run_in_threadpool(form_page, site, request, template, status, **context)


def _unavailable(site: Site, request: Request, status: int) -> Response:
    return form_page(site, request, "email/unavailable.html", status, form=False)


def _categories(site: Site) -> list[tuple[str, str, str | None]]:
    """The checkboxes: every category (as ``forms.choices`` takes them), 'all' first."""
    every = (ALL, "All categories", "Including any added later")
    return [every] + [(c.slug, c.name, None) for c in site.store.categories()]


def _errors(result: Result) -> Errors:
    errors = Errors()
    for name, message in result.errors.items():
        errors.add(name, message)
    return errors


# --- subscribing ---------------------------------------------------------------------------


def _subscribe_form(
    site: Site, request: Request, status: int, errors: Errors, values: SubscriptionForm
) -> Response:
    return form_page(
        site, request, "email/subscribe.html", status, form=True,
        errors=errors, values=values, categories=_categories(site), honeypot=HONEYPOT,
    )  # fmt: skip


async def subscribe(request: Request) -> Response:
    site = _site(request)
    if not logic.email_enabled(site.config):
        status = 503 if request.method == "POST" else 200
        return await run_in_threadpool(_unavailable, site, request, status)
    if request.method != "POST":  # GET or HEAD
        empty = SubscriptionForm()
        return await run_in_threadpool(_subscribe_form, site, request, 200, Errors(), empty)
    form = await read_public_form(site, request)
    values = SubscriptionForm(
        address=form.text("address", 1000),
        frequency=form.text("frequency", 20),
        categories=form.values("categories"),
        website=form.text(HONEYPOT, 200),
    )
    result = await run_in_threadpool(
        logic.subscribe, site.store, site.config, values,
        client=client_address(request), now=_now(),
    )  # fmt: skip
    match result.outcome:
        case Outcome.CHECK_EMAIL:
            return await _page(
                site, request, "email/check.html", form=False,
                address=values.address, hours=HOURS, most=logic.ADDRESS_LIMIT,
            )  # fmt: skip
        case Outcome.NOT_SENT:
            return await _page(site, request, "email/not_sent.html", 503, form=False)
        case Outcome.TOO_MANY:
            errors = Errors()
            errors.add("address", TOO_MANY)
        case _:
            errors = _errors(result)
    status = _STATUS[result.outcome]
    return await run_in_threadpool(_subscribe_form, site, request, status, errors, values)


# --- the links in emails -------------------------------------------------------------------


def _outcome(
    site: Site,
    request: Request,
    purpose: Purpose,
    token: str,
    result: Result,
    typed: PreferencesForm | None = None,
) -> Response:
    """The page for what following a link, or pressing its button, came to."""
    sub = result.subscriber
    status = _STATUS.get(result.outcome, 200)
    if result.outcome in (Outcome.VALID, Outcome.SAVED, Outcome.INVALID):
        assert sub is not None
        if purpose is Purpose.PREFERENCES:
            return _preferences(site, request, token, sub, result, typed)
        return form_page(
            site, request, _ONE_BUTTON[purpose], status, form=purpose is Purpose.CONFIRM,
            action=site.paths.email_link(purpose, token), subscriber=sub,
            forget_days=FORGET_UNCONFIRMED_DAYS,
        )  # fmt: skip
    template = _DONE.get(result.outcome, "email/link_problem.html")
    return form_page(
        site, request, template, status, form=False,
        subscriber=sub, purpose=purpose.value, expired=result.outcome is Outcome.EXPIRED,
        hours=HOURS,
    )  # fmt: skip


def _preferences(
    site: Site,
    request: Request,
    token: str,
    sub: Subscriber,
    result: Result,
    typed: PreferencesForm | None,
) -> Response:
    """The preferences form: as the subscriber's choices are now, or as typed with errors."""
    if typed is None:
        if sub.category_ids is None:
            slugs = [ALL]
        else:
            slugs = [c.slug for c in site.store.categories() if c.id in sub.category_ids]
        typed = PreferencesForm(sub.frequency.value, slugs)
    leave = logic.leave_token(site.config, sub)
    return form_page(
        site, request, "email/preferences.html", _STATUS.get(result.outcome, 200), form=True,
        errors=_errors(result), values=typed, categories=_categories(site), subscriber=sub,
        saved=result.outcome is Outcome.SAVED, pause_after=PAUSE_AFTER,
        action=site.paths.email_link(Purpose.PREFERENCES, token),
        leave=site.paths.email_link(Purpose.UNSUBSCRIBE, leave),
    )  # fmt: skip


async def _link(request: Request, purpose: Purpose) -> Response:
    site = _site(request)
    store, config = site.store, site.config
    token: str = request.path_params["token"]
    if not logic.links_work(config):
        return await run_in_threadpool(_unavailable, site, request, 404)
    typed = None
    if request.method != "POST":  # a GET (or HEAD) only looks
        result = await run_in_threadpool(
            logic.check_link, store, config, purpose, token, now=_now()
        )
    elif purpose is Purpose.UNSUBSCRIBE:  # the body is not read: see the module's docstring
        result = await run_in_threadpool(logic.unsubscribe, store, config, token, now=_now())
    else:
        form = await read_public_form(site, request)
        if purpose is Purpose.CONFIRM:
            result = await run_in_threadpool(logic.confirm, store, config, token, now=_now())
        else:
            typed = PreferencesForm(form.text("frequency", 20), form.values("categories"))
            result = await run_in_threadpool(
                logic.save_preferences, store, config, token, typed, now=_now()
            )
            if result.outcome is not Outcome.INVALID:
                typed = None  # show what was saved
    return await run_in_threadpool(_outcome, site, request, purpose, token, result, typed)


async def confirm(request: Request) -> Response:
    return await _link(request, Purpose.CONFIRM)


async def unsubscribe(request: Request) -> Response:
    return await _link(request, Purpose.UNSUBSCRIBE)


async def preferences(request: Request) -> Response:
    return await _link(request, Purpose.PREFERENCES)
