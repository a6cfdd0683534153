"""Subscribing by double opt-in, links from emails, and the limits on both."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from mail_helpers import parts
from smtp_sink import SMTPServer, free_port
from townsquare.config import Config
from townsquare.errors import MailError
from townsquare.model import Frequency
from townsquare.notify.subscribe import (
    ADDRESS_LIMIT,
    CLIENT_LIMIT,
    Outcome,
    PreferencesForm,
    SubscriptionForm,
    check_link,
    confirm,
    email_enabled,
    save_preferences,
    subscribe,
    unsubscribe,
)
from townsquare.notify.tokens import Purpose
from townsquare.store import Store

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def categories(store: Store) -> None:
    for name in ("Digital", "Health", "Local government"):
        store.ensure_category(name)


def form(address: str = "ann@example.org", **kw: object) -> SubscriptionForm:
    values: dict[str, object] = {"frequency": "daily", "categories": ["all"], **kw}
    return SubscriptionForm(address=address, **values)  # type: ignore[arg-type]


def ask(
    store: Store,
    config: Config,
    address: str = "ann@example.org",
    *,
    client: str = "203.0.113.9",
    now: datetime = NOW,
    **kw: object,
) -> Outcome:
    return subscribe(store, config, form(address, **kw), client=client, now=now).outcome


def link(smtp: SMTPServer, purpose: str, index: int = -1) -> str:
    """The token of a link of one purpose in a message the server took."""
    text, html = parts(smtp.messages[index].message)
    tokens = re.findall(rf"https://townsquare\.example/email/{purpose}/([\w.-]+)", text)
    assert tokens and f"/email/{purpose}/{tokens[0]}" in html
    return tokens[0]


def test_double_opt_in(
    store: Store, mail_config: Config, smtp: SMTPServer, categories: None
) -> None:
    result = subscribe(
        store, mail_config, form(categories=["health", "digital"]), client="203.0.113.9", now=NOW
    )
    assert result.outcome is Outcome.CHECK_EMAIL
    [received] = smtp.messages
    message = received.message
    assert received.rcpt == ["ann@example.org"]
    assert message["Subject"] == "Confirm your email from Townsquare"
    assert message["List-Unsubscribe"] is None  # nothing to leave yet
    text, html = parts(message)
    assert "it works for 48 hours" in text
    assert '<html lang="en-GB"' in html and "<h1" in html
    token = link(smtp, "confirm")

    # Nothing is sent before the link is followed.
    counts = store.subscriber_counts()
    assert counts.unconfirmed == 1 and counts.confirmed[Frequency.DAILY] == 0

    # Following the link (GET) changes nothing; the button (POST) confirms.
    shown = check_link(store, mail_config, Purpose.CONFIRM, token, now=NOW + timedelta(hours=1))
    assert shown.outcome is Outcome.VALID
    assert store.subscriber_counts().unconfirmed == 1
    done = confirm(store, mail_config, token, now=NOW + timedelta(hours=1))
    assert done.outcome is Outcome.CONFIRMED
    assert done.subscriber is not None and done.subscriber.confirmed_at is not None
    counts = store.subscriber_counts()
    assert counts.confirmed[Frequency.DAILY] == 1 and counts.unconfirmed == 0
    assert counts.by_category["Health"][Frequency.DAILY] == 1
    assert counts.by_category["Local government"][Frequency.DAILY] == 0
    # Confirming twice is harmless.
    assert confirm(store, mail_config, token, now=NOW).outcome is Outcome.CONFIRMED


def test_same_answer_whether_or_not_subscribed(
    store: Store, mail_config: Config, smtp: SMTPServer, categories: None
) -> None:
    first = subscribe(store, mail_config, form(), client="203.0.113.9", now=NOW)
    confirm(store, mail_config, link(smtp, "confirm"), now=NOW)
    again = subscribe(
        store,
        mail_config,
        form("ANN@example.org", frequency="weekly"),
        client="198.51.100.7",
        now=NOW,
    )
    unknown = subscribe(store, mail_config, form("bo@example.org"), client="198.51.100.7", now=NOW)
    assert first == again == unknown
    assert [m.rcpt for m in smtp.messages][1:] == [["ann@example.org"], ["bo@example.org"]]
    # The known address is told it already subscribes, with its own links; its choices stand.
    note = smtp.messages[1].message
    assert note["Subject"] == "You already get emails from Townsquare"
    assert "It already gets the daily email, so nothing has changed." in parts(note)[0]
    link(smtp, "preferences", 1)
    link(smtp, "unsubscribe", 1)
    sub = store.subscriber_by_address("ann@example.org")
    assert sub is not None and sub.frequency is Frequency.DAILY


def test_form_errors(store: Store, mail_config: Config, smtp: SMTPServer, categories: None) -> None:
    result = subscribe(
        store,
        mail_config,
        SubscriptionForm(address="not an address", frequency="hourly", categories=["nope"]),
        client="203.0.113.9",
        now=NOW,
    )
    assert result.outcome is Outcome.INVALID
    assert result.errors == {
        "address": "Enter an email address in the correct format, like name@example.com",
        "frequency": "Choose how often you want emails: daily or weekly",
        "categories": "Choose at least one category, or all categories",
    }
    empty = subscribe(store, mail_config, form(""), client="203.0.113.9", now=NOW)
    assert empty.errors == {"address": "Enter your email address"}
    assert smtp.messages == []


def test_honeypot(store: Store, mail_config: Config, smtp: SMTPServer, categories: None) -> None:
    result = subscribe(
        store, mail_config, form(website="http://spam.example"), client="203.0.113.9", now=NOW
    )
    assert result.outcome is Outcome.CHECK_EMAIL  # a robot learns nothing
    assert smtp.messages == [] and store.subscriber_counts().unconfirmed == 0


def test_rate_limits(store: Store, mail_config: Config, smtp: SMTPServer, categories: None) -> None:
    # One address typed in again and again gets at most ADDRESS_LIMIT emails a day.
    for i in range(ADDRESS_LIMIT + 2):
        outcome = subscribe(store, mail_config, form(), client=f"203.0.113.{i}", now=NOW).outcome
        assert outcome is Outcome.CHECK_EMAIL
    assert len(smtp.messages) == ADDRESS_LIMIT
    next_day = NOW + timedelta(days=1)
    subscribe(store, mail_config, form(), client="203.0.113.1", now=next_day)
    assert len(smtp.messages) == ADDRESS_LIMIT + 1

    # One client (an IPv6 /64 counts as one) may ask CLIENT_LIMIT times an hour.
    smtp.sink.reset()
    for i in range(CLIENT_LIMIT):
        result = subscribe(
            store, mail_config, form(f"p{i}@example.org"), client=f"2001:db8::{i}", now=NOW
        )
        assert result.outcome is Outcome.CHECK_EMAIL
    blocked = subscribe(
        store, mail_config, form("late@example.org"), client="2001:db8::ffff", now=NOW
    )
    assert blocked.outcome is Outcome.TOO_MANY
    assert len(smtp.messages) == CLIENT_LIMIT
    later = subscribe(
        store,
        mail_config,
        form("late@example.org"),
        client="2001:db8::1",
        now=NOW + timedelta(hours=1),
    )
    assert later.outcome is Outcome.CHECK_EMAIL
    # Limits are kept under keyed hashes: no address or IP in clear.
    buckets = " ".join(r["bucket"] for r in store.db.fetchall("SELECT bucket FROM rate_limits"))
    assert "example.org" not in buckets and "2001" not in buckets and "203.0" not in buckets


def test_confirmation_link_expires(
    store: Store, mail_config: Config, smtp: SMTPServer, categories: None
) -> None:
    subscribe(store, mail_config, form(), client="203.0.113.9", now=NOW)
    token = link(smtp, "confirm")
    late = confirm(store, mail_config, token, now=NOW + timedelta(hours=48, seconds=1))
    assert late.outcome is Outcome.EXPIRED
    assert store.subscriber_counts().unconfirmed == 1
    # Asking again sends a fresh link.
    subscribe(store, mail_config, form(), client="203.0.113.9", now=NOW + timedelta(days=3))
    fresh = link(smtp, "confirm")
    assert confirm(store, mail_config, fresh, now=NOW + timedelta(days=3)).outcome is (
        Outcome.CONFIRMED
    )


def test_tampered_links(
    store: Store, mail_config: Config, smtp: SMTPServer, categories: None
) -> None:
    subscribe(store, mail_config, form(), client="203.0.113.9", now=NOW)
    token = link(smtp, "confirm")
    payload, _, signature = token.rpartition(".")
    for bad in (token[:-3], payload + ".x" + signature[2:], "", "a.b.c", token + "x"):
        assert confirm(store, mail_config, bad, now=NOW).outcome is Outcome.BAD_LINK
    # A confirmation token does not work as an unsubscribe or preferences token.
    wrong = check_link(store, mail_config, Purpose.UNSUBSCRIBE, token, now=NOW)
    assert wrong.outcome is Outcome.BAD_LINK
    # A token signed with another secret is refused.
    other = replace(mail_config, secret_key="z" * 40)
    assert confirm(store, other, token, now=NOW).outcome is Outcome.BAD_LINK
    assert store.subscriber_counts().unconfirmed == 1
    # The link as it was sent still works: it was the tampering that was refused.
    assert confirm(store, mail_config, token, now=NOW).outcome is Outcome.CONFIRMED
    counts = store.subscriber_counts()
    assert (counts.unconfirmed, counts.confirmed[Frequency.DAILY]) == (0, 1)


def test_unconfirmed_addresses_forgotten_after_seven_days(
    store: Store, mail_config: Config, smtp: SMTPServer, categories: None
) -> None:
    subscribe(store, mail_config, form(), client="203.0.113.9", now=NOW)
    subscribe(
        store,
        mail_config,
        form("bo@example.org"),
        client="203.0.113.9",
        now=NOW + timedelta(days=6),
    )
    token = link(smtp, "confirm", 0)
    subscribe(
        store,
        mail_config,
        form("cy@example.org"),
        client="203.0.113.9",
        now=NOW + timedelta(days=7, seconds=1),
    )
    assert store.subscriber_by_address("ann@example.org") is None
    assert store.subscriber_by_address("bo@example.org") is not None
    assert confirm(store, mail_config, token, now=NOW).outcome is Outcome.EXPIRED


def test_preferences(store: Store, mail_config: Config, smtp: SMTPServer, categories: None) -> None:
    subscribe(store, mail_config, form(), client="203.0.113.9", now=NOW)
    confirm(store, mail_config, link(smtp, "confirm"), now=NOW)
    subscribe(store, mail_config, form(), client="203.0.113.9", now=NOW)  # the note has the links
    token = link(smtp, "preferences")
    shown = check_link(store, mail_config, Purpose.PREFERENCES, token, now=NOW)
    assert shown.outcome is Outcome.VALID and shown.subscriber is not None
    assert shown.subscriber.category_ids is None

    bad = save_preferences(store, mail_config, token, PreferencesForm("weekly", []), now=NOW)
    assert bad.outcome is Outcome.INVALID and set(bad.errors) == {"categories"}
    saved = save_preferences(
        store, mail_config, token, PreferencesForm("weekly", ["health"]), now=NOW
    )
    assert saved.outcome is Outcome.SAVED and saved.subscriber is not None
    assert saved.subscriber.frequency is Frequency.WEEKLY
    health = store.category_by_slug("health").id
    assert saved.subscriber.category_ids == (health,)
    assert store.subscriber_counts().by_category["Health"][Frequency.WEEKLY] == 1

    unsubscribe_token = link(smtp, "unsubscribe")
    unsubscribe(store, mail_config, unsubscribe_token, now=NOW)
    gone = check_link(store, mail_config, Purpose.PREFERENCES, token, now=NOW)
    assert gone.outcome is Outcome.UNSUBSCRIBED


def test_mail_server_down(store: Store, mail_config: Config, categories: None) -> None:
    down = replace(mail_config, smtp_port=free_port())
    result = subscribe(store, down, form(), client="203.0.113.9", now=NOW)
    assert result.outcome is Outcome.NOT_SENT
    assert email_enabled(down)
    unset = replace(down, smtp_host="")
    assert not email_enabled(unset)
    with pytest.raises(MailError, match=r"email is not set up: set smtp_host"):
        subscribe(store, unset, form(), client="203.0.113.9", now=NOW)
