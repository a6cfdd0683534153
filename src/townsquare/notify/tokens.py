"""Signed links in emails: confirm, unsubscribe, change preferences.

A token is ``[subscriber id, link key]`` signed with ``secret_key`` (one
salt per purpose, so a token for one job never does another).  The link key
is random and stored with the subscriber: a new subscription gets a new one,
so a link from an old email never acts on someone who signed up later.
Confirmation tokens carry the time they were made and last
``CONFIRM_MAX_AGE``; unsubscribe and preference links last as long as the
subscription, as links in old emails must keep working.
"""

from __future__ import annotations

import enum
import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from typing import Any
from urllib.parse import quote

from itsdangerous import (
    BadSignature,
    SignatureExpired,
    TimestampSigner,
    URLSafeSerializer,
    URLSafeTimedSerializer,
)

from ..config import Config
from ..errors import MailError
from ..model import Subscriber

CONFIRM_MAX_AGE = timedelta(hours=48)

Clock = Callable[[], datetime]


class Purpose(enum.StrEnum):
    CONFIRM = "confirm"
    UNSUBSCRIBE = "unsubscribe"
    PREFERENCES = "preferences"


# Where each link points; the website routes these paths (GET shows a page with
# one button, POST acts, so a link checker that follows links changes nothing).
PATHS = {
    Purpose.CONFIRM: "email/confirm/",
    Purpose.UNSUBSCRIBE: "email/unsubscribe/",
    Purpose.PREFERENCES: "email/preferences/",
}


class LinkState(enum.StrEnum):
    VALID = "valid"
    EXPIRED = "expired"  # a confirmation link older than CONFIRM_MAX_AGE
    BAD = "bad"  # not a token we made: mistyped, cut short or tampered with


class _ClockSigner(TimestampSigner):
    """A timestamp signer that reads the time from a clock we pass in (tests move it)."""

    def __init__(self, *args: Any, clock: Clock, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock

    def get_timestamp(self) -> int:
        return int(self._clock().timestamp())


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Tokens:
    def __init__(self, secret_key: str, *, clock: Clock = _utcnow) -> None:
        if not secret_key:
            raise MailError(
                "email links cannot be signed: set secret_key (TOWNSQUARE_SECRET_KEY) to at least "
                "32 random characters, for example the output of "
                "'python -c \"import secrets; print(secrets.token_urlsafe(32))\"'"
            )
        self._confirm = URLSafeTimedSerializer(
            secret_key,
            salt="townsquare.email.confirm",
            signer=_ClockSigner,
            signer_kwargs={"clock": clock},
        )
        self._plain = {
            p: URLSafeSerializer(secret_key, salt=f"townsquare.email.{p.value}")
            for p in (Purpose.UNSUBSCRIBE, Purpose.PREFERENCES)
        }

    def make(self, purpose: Purpose, subscriber: Subscriber) -> str:
        payload = [subscriber.id, subscriber.link_key]
        if purpose is Purpose.CONFIRM:
            return str(self._confirm.dumps(payload))
        return str(self._plain[purpose].dumps(payload))

    def read(self, purpose: Purpose, token: str) -> tuple[LinkState, int, str]:
        """The state of a token and, when VALID, the subscriber id and link key in it."""
        try:
            if purpose is Purpose.CONFIRM:
                payload = self._confirm.loads(token, max_age=int(CONFIRM_MAX_AGE.total_seconds()))
            else:
                payload = self._plain[purpose].loads(token)
        except SignatureExpired:
            return LinkState.EXPIRED, 0, ""
        except BadSignature:
            return LinkState.BAD, 0, ""
        match payload:
            case [int() as subscriber_id, str() as link_key]:
                return LinkState.VALID, subscriber_id, link_key
        return LinkState.BAD, 0, ""


def same_key(subscriber: Subscriber | None, link_key: str) -> bool:
    """Whether a link's key is this subscriber's (in constant time)."""
    return subscriber is not None and hmac.compare_digest(subscriber.link_key, link_key)


class Links:
    """The absolute addresses put in emails."""

    def __init__(self, config: Config, tokens: Tokens) -> None:
        self.base_url = config.base_url
        self.tokens = tokens
        self.mailto = config.unsubscribe_address or config.smtp_from

    def url(self, purpose: Purpose, subscriber: Subscriber) -> str:
        return self.base_url + PATHS[purpose] + self.tokens.make(purpose, subscriber)

    def unsubscribe_mailto(self) -> str:
        return "mailto:" + quote(parseaddr(self.mailto)[1], safe="@") + "?subject=unsubscribe"
