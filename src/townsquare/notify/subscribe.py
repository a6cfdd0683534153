"""Subscribing, confirming, changing choices and leaving: the logic of the email pages.

Each function takes what a form or a link gave and returns a ``Result`` for a
thin web handler to show.  The routes it expects (paths in ``tokens.PATHS``):

    GET  /email/subscribe              the form             (only while email_enabled)
    POST /email/subscribe              subscribe()          (the website checks CSRF)
    GET  /email/<purpose>/TOKEN        check_link()         a page with one button
    POST /email/confirm/TOKEN          confirm()            (the website checks CSRF)
    POST /email/unsubscribe/TOKEN      unsubscribe()        also RFC 8058 one-click:
                                                            no cookie, no CSRF token
    POST /email/preferences/TOKEN      save_preferences()   (the website checks CSRF)

The handlers are in ``web/emails.py``.
GET never changes anything, so a mail scanner that follows every link in an
email cannot confirm or unsubscribe anyone.  ``subscribe`` answers
CHECK_EMAIL whether or not the address is known: a new address gets a
confirmation link, a subscribed one a note with its own links, so the page
tells nobody who subscribes.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ..config import Config
from ..errors import InputError, MailError
from ..model import Frequency, Subscriber
from ..store import Store
from .address import check_address
from .compose import FORGET_UNCONFIRMED_DAYS, Composer
from .mail import Mailer, Sent
from .tokens import Links, LinkState, Purpose, Tokens, same_key

# Requests to subscribe from one client (an IPv4 address or an IPv6 /64) an hour.
CLIENT_LIMIT = 10
# Emails to one address a day, however many times it is typed in: more are not sent.
ADDRESS_LIMIT = 3

ALL = "all"  # the form value for 'all categories'


class Outcome(enum.StrEnum):
    CHECK_EMAIL = "check_email"  # the same answer whether or not the address is known
    INVALID = "invalid"  # see ``errors``: field name -> message
    TOO_MANY = "too_many"  # this client asked too often: try again in an hour
    NOT_SENT = "not_sent"  # the mail server failed: try again later
    VALID = "valid"  # the link is good: show its page (``subscriber`` is set)
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"  # also for a link whose subscription is already gone
    SAVED = "saved"
    EXPIRED = "expired"  # a confirmation link too old, or its request forgotten
    BAD_LINK = "bad_link"  # not a link we made: mistyped, cut short or changed


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    errors: dict[str, str] = field(default_factory=dict)
    subscriber: Subscriber | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionForm:
    address: str = ""
    frequency: str = ""  # 'daily' or 'weekly'
    categories: Sequence[str] = ()  # category slugs, or 'all'
    website: str = ""  # a honeypot: hidden from people, so only robots fill it in


@dataclass(frozen=True, slots=True)
class PreferencesForm:
    frequency: str = ""
    categories: Sequence[str] = ()


def email_enabled(config: Config) -> bool:
    """Whether the site can send email (so whether to offer subscribing at all)."""
    return bool(config.smtp_host and config.smtp_from and config.secret_key)


def links_work(config: Config) -> bool:
    """Whether links in emails already sent can be followed: while ``secret_key`` is set,
    even if sending has stopped, so that anyone can still leave."""
    return bool(config.secret_key)


def leave_token(config: Config, subscriber: Subscriber) -> str:
    """The token of this subscriber's unsubscribe link (for the preferences page)."""
    return Tokens(config.secret_key).make(Purpose.UNSUBSCRIBE, subscriber)


def subscribe(
    store: Store, config: Config, form: SubscriptionForm, *, client: str, now: datetime
) -> Result:
    """Someone asked for emails: check the form, then send a link to confirm.

    Raises ``MailError`` if email is not set up (see ``email_enabled``); a mail
    server that fails is NOT_SENT.
    """
    tokens = Tokens(config.secret_key, clock=lambda: now)
    mailer = Mailer(config)
    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if store.count_hit(_bucket(config, "client", _client_key(client)), hour) > CLIENT_LIMIT:
        return Result(Outcome.TOO_MANY)
    if form.website.strip():
        return Result(Outcome.CHECK_EMAIL)  # a robot is told what a person would be
    errors: dict[str, str] = {}
    address = key = ""
    try:
        address, key = check_address(form.address)
    except InputError as exc:
        errors["address"] = exc.message
    frequency, category_ids = _read_choices(store, form.frequency, form.categories, errors)
    if errors:
        return Result(Outcome.INVALID, errors)
    store.forget_unconfirmed(now - timedelta(days=FORGET_UNCONFIRMED_DAYS))
    day = hour.replace(hour=0)
    if store.count_hit(_bucket(config, "address", key), day) > ADDRESS_LIMIT:
        return Result(Outcome.CHECK_EMAIL)
    sub = store.request_subscription(address, key, frequency, category_ids, now)
    composer = Composer(config, Links(config, tokens))
    if sub.confirmed_at is None:
        message = composer.confirmation(sub, now)
    else:
        message = composer.already_subscribed(sub, now)
    try:
        with mailer:
            sent = mailer.send(message)
    except MailError:
        return Result(Outcome.NOT_SENT)
    return Result(Outcome.CHECK_EMAIL if sent.outcome is Sent.SENT else Outcome.NOT_SENT)


def check_link(
    store: Store, config: Config, purpose: Purpose, token: str, *, now: datetime
) -> Result:
    """What a link from an email leads to, changing nothing: for the page a GET shows."""
    state, sub = _follow(store, config, purpose, token, now)
    if state is LinkState.BAD:
        return Result(Outcome.BAD_LINK)
    if purpose is Purpose.CONFIRM:
        if state is LinkState.EXPIRED or sub is None:
            return Result(Outcome.EXPIRED)
        if sub.confirmed_at is not None:
            return Result(Outcome.CONFIRMED, subscriber=sub)
    elif sub is None:
        return Result(Outcome.UNSUBSCRIBED)
    return Result(Outcome.VALID, subscriber=sub)


def confirm(store: Store, config: Config, token: str, *, now: datetime) -> Result:
    checked = check_link(store, config, Purpose.CONFIRM, token, now=now)
    if checked.outcome is not Outcome.VALID:
        return checked
    assert checked.subscriber is not None
    store.confirm_subscriber(checked.subscriber.id, now)
    return Result(Outcome.CONFIRMED, subscriber=store.subscriber(checked.subscriber.id))


def unsubscribe(store: Store, config: Config, token: str, *, now: datetime) -> Result:
    """Forget the subscriber at once; a second request is answered the same."""
    state, sub = _follow(store, config, Purpose.UNSUBSCRIBE, token, now)
    if state is not LinkState.VALID:
        return Result(Outcome.BAD_LINK)
    if sub is not None:
        store.remove_subscriber(sub.id)
    return Result(Outcome.UNSUBSCRIBED)


def save_preferences(
    store: Store, config: Config, token: str, form: PreferencesForm, *, now: datetime
) -> Result:
    checked = check_link(store, config, Purpose.PREFERENCES, token, now=now)
    if checked.outcome is not Outcome.VALID:
        return checked
    sub = checked.subscriber
    assert sub is not None
    errors: dict[str, str] = {}
    frequency, category_ids = _read_choices(store, form.frequency, form.categories, errors)
    if errors:
        return Result(Outcome.INVALID, errors, subscriber=sub)
    store.set_subscriber_preferences(sub.id, frequency, category_ids)
    return Result(Outcome.SAVED, subscriber=store.subscriber(sub.id))


def _follow(
    store: Store, config: Config, purpose: Purpose, token: str, now: datetime
) -> tuple[LinkState, Subscriber | None]:
    tokens = Tokens(config.secret_key, clock=lambda: now)
    state, subscriber_id, link_key = tokens.read(purpose, token)
    if state is not LinkState.VALID:
        return state, None
    sub = store.subscriber(subscriber_id)
    return state, sub if same_key(sub, link_key) else None


def _read_choices(
    store: Store, frequency: str, categories: Sequence[str], errors: dict[str, str]
) -> tuple[Frequency, list[int] | None]:
    """The frequency and categories chosen (None: all); problems go in ``errors``."""
    try:
        chosen = Frequency(frequency)
    except ValueError:
        errors["frequency"] = "Choose how often you want emails: daily or weekly"
        chosen = Frequency.DAILY
    if ALL in categories:
        return chosen, None
    by_slug = {c.slug: c.id for c in store.categories()}
    ids = [by_slug[slug] for slug in dict.fromkeys(categories) if slug in by_slug]
    if not ids or len(ids) != len(set(categories)):
        errors["categories"] = "Choose at least one category, or all categories"
    return chosen, ids


def _client_key(client: str) -> str:
    """An IPv4 address, or the /64 an IPv6 address is in (one household or server)."""
    try:
        ip = ipaddress.ip_address(client)
    except ValueError:
        return client
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _bucket(config: Config, kind: str, value: str) -> str:
    """A rate-limit key that names no address or IP in clear."""
    digest = hmac.new(config.secret_key.encode(), f"{kind}:{value}".encode(), hashlib.sha256)
    return f"{kind}:{digest.hexdigest()[:32]}"
