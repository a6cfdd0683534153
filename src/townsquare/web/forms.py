"""Forms: reading them within limits, checking what people typed, and tokens against
cross-site request forgery for the forms anyone may send.

The admin area's forms carry the session's own token (``admin/context.py``).
The public forms (sign in, suggest a blog, ask for a takedown, get posts by
email) have no session, so they use a signed double-submit token: a random
value in a ``SameSite=Strict`` cookie, and in the form its HMAC under a key
the site keeps in the store.  A page on another site can neither read the
cookie nor make the HMAC, so it cannot send a form that passes.
``form_page`` shows a public form with its token; ``read_public_form`` reads
one back only when the token is right.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..ingest.clean import plain_text
from .site import Site

MAX_BODY = 64 * 1024  # bytes in a form; more is refused with 413
MAX_FIELDS = 200
NO_STORE = {"Cache-Control": "no-store"}
FORM_COOKIE = "townsquare_form"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>.]+")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Form:
    """A form's fields, read with care: text trimmed and capped, no control characters."""

    def __init__(self, data: FormData) -> None:
        self._data = data

    def text(self, name: str, limit: int = 1000) -> str:
        value = self._data.get(name)
        if not isinstance(value, str):
            return ""
        return _CONTROL.sub("", value).strip()[:limit]

    def line(self, name: str, limit: int = 200) -> str:
        """One line of plain text: runs of space (newlines too) become one space."""
        return plain_text(self.text(name, limit * 2), is_html=False, limit=limit)

    def secret(self, name: str, limit: int = 1000) -> str:
        """A password, exactly as typed."""
        value = self._data.get(name)
        return value[:limit] if isinstance(value, str) else ""

    def values(self, name: str) -> list[str]:
        return [v for v in self._data.getlist(name) if isinstance(v, str)]

    def checked(self, name: str) -> bool:
        return self._data.get(name) not in (None, "")


async def read_form(request: Request) -> Form:
    """The request's form; 413 when it is larger than a form should be."""
    length = request.headers.get("content-length", "")
    if not length.isdigit() or int(length) > MAX_BODY:
        raise HTTPException(413, "the form is too large")
    data = await request.form(max_files=0, max_fields=MAX_FIELDS, max_part_size=MAX_BODY)
    return Form(data)


@dataclass
class Errors:
    """What is wrong with a form, by field, in the order the fields appear."""

    by_field: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        self.by_field.setdefault(name, message)

    def get(self, name: str) -> str | None:
        return self.by_field.get(name)

    def __bool__(self) -> bool:
        return bool(self.by_field)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.by_field.items())


def web_address(text: str) -> str | None:
    """An http(s) address from what someone typed ('blog.example' means https://…)."""
    text = text.strip()
    if not text or any(c.isspace() for c in text):
        return None
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host or "." not in host.strip("."):
        return None
    return text


def is_email(text: str) -> bool:
    return len(text) <= 254 and bool(_EMAIL.fullmatch(text))


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def is_secure(site: Site) -> bool:
    return site.config.base_url.startswith("https://")


# --- the public forms' token ----------------------------------------------------------


def _sign(site: Site, value: str) -> str:
    key = site.form_key().encode("ascii")
    return hmac.new(key, b"form:" + value.encode("ascii"), hashlib.sha256).hexdigest()


def _cookie(request: Request) -> str | None:
    value = request.cookies.get(FORM_COOKIE, "")
    return value if _TOKEN.fullmatch(value) else None


def _public_token(site: Site, request: Request) -> tuple[str, str | None]:
    """The token for a public form, and a new cookie value to set (None: keep the cookie)."""
    current = _cookie(request)
    if current is not None:
        return _sign(site, current), None
    fresh = secrets.token_urlsafe(32)
    return _sign(site, fresh), fresh


def _set_form_cookie(site: Site, response: Response, value: str | None) -> None:
    if value is not None:
        response.set_cookie(
            FORM_COOKIE,
            value,
            path=site.paths.prefix + "/",
            secure=is_secure(site),
            httponly=True,
            samesite="strict",
        )


def _check_public_token(site: Site, request: Request, form: Form) -> None:
    """403 unless the form's token is the signature of the browser's cookie."""
    cookie = _cookie(request)
    sent = form.text("csrf", 100)
    if cookie is None or not hmac.compare_digest(sent, _sign(site, cookie)):
        raise HTTPException(403, "the form's security token is missing or wrong")


def form_page(
    site: Site,
    request: Request,
    template: str,
    status: int = 200,
    *,
    form: bool = True,
    headers: Mapping[str, str] = NO_STORE,
    **context: Any,
) -> Response:
    """A public page, never cached.  ``form``: it has a public form, whose token the page
    carries (and the browser is given the token's cookie if it has none yet)."""
    token, cookie = _public_token(site, request) if form else ("", None)
    body = site.renderer.html(template, csrf=token, section=None, **context)
    response = Response(body, status, dict(headers), media_type="text/html; charset=utf-8")
    _set_form_cookie(site, response, cookie)
    return response


async def read_public_form(site: Site, request: Request) -> Form:
    """A public form's fields; 403 unless its token is right, 413 if it is too large."""
    form = await read_form(request)
    await run_in_threadpool(_check_public_token, site, request, form)
    return form
