"""WebSub's rules as pure functions: signatures, leases, retries, forms.

The W3C WebSub Recommendation (2018) in the parts Townsquare uses:

- a subscriber asks a hub with a form (``hub.mode``, ``hub.topic``,
  ``hub.callback``, ``hub.secret``, ``hub.lease_seconds``);
- the hub checks with the subscriber's callback (a GET with a
  ``hub.challenge`` the subscriber echoes only for a request it made);
- the hub sends new content to the callback, signed with the secret in
  ``X-Hub-Signature: sha256=<hex>`` (sha1, sha256, sha384 or sha512).
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

from ..errors import InputError

ALGORITHMS = ("sha1", "sha256", "sha384", "sha512")
SIGN_WITH = "sha256"
FORM = "application/x-www-form-urlencoded"
MAX_SECRET = 199  # bytes: "MUST be less than 200 bytes"
MAX_URL = 2000
MAX_FORM = 16_384  # bytes of a subscription request
MIN_LEASE = 60  # seconds our hub gives at least...
MAX_LEASE = 30 * 86_400  # ...and at most
RENEW_AHEAD = timedelta(days=1)  # renew this long before a lease ends, or a quarter of it
VERIFY_WAIT = timedelta(minutes=30)  # a hub that said yes has this long to check with us
PUSH_SILENCE = timedelta(days=7)  # no push for this long: poll as usual again
FIRST_RETRY = timedelta(seconds=10)  # a delivery that failed is sent again after this...
MAX_RETRY = timedelta(hours=1)  # ...doubling up to this...
MAX_ATTEMPTS = 12  # ...and given up after this many tries (about four hours)
_CHALLENGE = re.compile(r"[\x21-\x7e]{1,200}")


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def new_key() -> str:
    """A callback's key: its address cannot be guessed."""
    return secrets.token_urlsafe(18)


def new_challenge() -> str:
    return secrets.token_urlsafe(32)


def sign(secret: str, body: bytes, algorithm: str = SIGN_WITH) -> str:
    """The ``X-Hub-Signature`` value for ``body``."""
    digest = hmac.new(secret.encode("utf-8"), body, algorithm).hexdigest()
    return f"{algorithm}={digest}"


def signature_problem(secret: str, body: bytes, header: str | None) -> str | None:
    """None when ``header`` signs ``body`` with ``secret``; otherwise what is wrong."""
    if not header:
        return "the content was not signed"
    method, equals, digest = header.strip().partition("=")
    algorithm = method.strip().lower()
    if not equals or algorithm not in ALGORITHMS:
        return "the signature's method is not sha1, sha256, sha384 or sha512"
    expected = hmac.new(secret.encode("utf-8"), body, algorithm).hexdigest()
    if not hmac.compare_digest(expected, digest.strip().lower()):
        return "the signature does not match the content"
    return None


def is_challenge(value: str | None) -> bool:
    """A challenge we may echo: printable ASCII, no spaces, at most 200 characters."""
    return value is not None and _CHALLENGE.fullmatch(value) is not None


def is_web_url(value: str | None) -> bool:
    if not value or len(value) > MAX_URL or any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.fragment


def with_query(url: str, params: Mapping[str, str]) -> str:
    """``url`` with ``params`` added to any query it already has (WebSub 5.3)."""
    joiner = "&" if urlsplit(url).query else ("" if url.endswith("?") else "?")
    return url + joiner + urlencode(params)


def read_form(body: bytes) -> dict[str, str]:
    """A url-encoded form's fields (the first of each name)."""
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=20, errors="strict"
        )
    except (UnicodeDecodeError, ValueError):
        raise InputError("the request is not a form Townsquare can read") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def form(fields: Mapping[str, str]) -> bytes:
    return urlencode(fields).encode("ascii")


def lease(value: str | None, default: int, *, low: int = 1, high: int = 10 * 365 * 86_400) -> int:
    """A lease in seconds from a form value, within [low, high]; ``default`` if absent or bad."""
    if value is None or not value.strip().isdigit() or len(value.strip()) > 12:
        return max(low, min(default, high))
    return max(low, min(int(value), high))


def hub_lease(asked: str | None, default: int) -> int:
    """The lease our hub gives: what the subscriber asked for, within our bounds."""
    return lease(asked, default, low=MIN_LEASE, high=MAX_LEASE)


def renew_at(verified_at: datetime, lease_seconds: int) -> datetime:
    """When to renew a lease: a day before it ends, or a quarter of it for short ones."""
    length = timedelta(seconds=lease_seconds)
    return verified_at + length - min(length / 4, RENEW_AHEAD)


def push_until(lease_expires: datetime, heard_at: datetime) -> datetime:
    """Until when a blog counts as pushed: the lease's end, or a week after the last word."""
    return min(lease_expires, heard_at + PUSH_SILENCE)


def delivery_retry(attempts: int) -> timedelta | None:
    """How long to wait after the n-th failed delivery; None: give up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    doubled: timedelta = FIRST_RETRY * 2 ** max(attempts - 1, 0)
    return min(MAX_RETRY, doubled)


@dataclass(frozen=True, slots=True)
class Answer:
    """What our callback or hub says back over HTTP: a status and a line of plain text."""

    status: int
    text: str
