"""`townsquare digest ...` as a curator runs it, with settings from the environment."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from conftest import SECRET, FeedServer, Result
from mail_helpers import Item, add_blog, fetch_all, subscriber
from smtp_sink import SMTPServer, free_port
from townsquare.config import Config
from townsquare.notify.digest import SETTLE
from townsquare.store import Store

Run = Callable[..., Result]


@pytest.fixture
def mail_env(monkeypatch: pytest.MonkeyPatch, smtp: SMTPServer) -> None:
    for name, value in {
        "TOWNSQUARE_SECRET_KEY": SECRET,
        "TOWNSQUARE_BASE_URL": "https://townsquare.example/",
        "TOWNSQUARE_SMTP_HOST": "127.0.0.1",
        "TOWNSQUARE_SMTP_PORT": str(smtp.port),
        "TOWNSQUARE_SMTP_SECURITY": "none",
        "TOWNSQUARE_SMTP_FROM": "Townsquare <digest@townsquare.example>",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def readers(store: Store, config: Config, server: FeedServer) -> None:
    add_blog(store, server, "/a", "Blog A", [Item("One", "one")], ["Digital"])
    fetch_all(store, config)
    store.db.execute("UPDATE posts SET first_seen = ?", (datetime.now(UTC) - 2 * SETTLE,))
    subscriber(store, "ann@example.org")
    subscriber(store, "bo@example.org", categories=["Digital"])


def test_send_stats_and_unsubscribe(
    run: Run, mail_env: None, smtp: SMTPServer, readers: None
) -> None:
    sent = run("digest", "send", "--frequency", "daily")
    assert sent.code == 0, sent.err
    assert sent.out.startswith("Sent 2 daily digests for ")
    assert sorted(m.rcpt[0] for m in smtp.messages) == ["ann@example.org", "bo@example.org"]

    again = json.loads(run("digest", "send", "--json").out)
    assert [(r["frequency"], r["planned"], r["sent"]) for r in again] == [
        ("daily", 0, 0),
        ("weekly", 0, 0),
    ]

    stats = run("digest", "stats")
    assert stats.out.splitlines()[:4] == [
        "Subscribers       daily   weekly",
        "Everyone              2        0",
        "All categories        1        0",
        "Digital               1        0",
    ]
    assert "@" not in stats.out  # counts, never addresses
    assert json.loads(run("digest", "stats", "--json").out)["categories"] == {
        "Digital": {"daily": 1, "weekly": 0}
    }

    gone = run("digest", "unsubscribe", "Ann@Example.org")
    assert gone.out == "Unsubscribed 'Ann@Example.org': the address is forgotten\n"
    none = run("digest", "unsubscribe", "ann@example.org")
    assert "No subscriber has the address 'ann@example.org'" in none.out
    assert json.loads(run("digest", "stats", "--json").out)["confirmed"]["daily"] == 1


def test_errors_are_one_line(
    run: Run, mail_env: None, readers: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    monkeypatch.setenv("TOWNSQUARE_SMTP_PORT", str(port))
    down = run("digest", "send")
    assert down.code == 1
    assert down.err == (
        f"townsquare: error: cannot reach the mail server 127.0.0.1:{port}: "
        "Connection refused: check smtp_host and smtp_port\n"
    )
    monkeypatch.setenv("TOWNSQUARE_SMTP_HOST", "")
    unset = run("digest", "send")
    assert unset.err == (
        "townsquare: error: email is not set up: set smtp_host (TOWNSQUARE_SMTP_HOST) "
        "to your mail server\n"
    )
    monkeypatch.setenv("TOWNSQUARE_SMTP_SECURITY", "ssl")
    bad = run("digest", "stats")
    assert bad.err == (
        "townsquare: error: bad setting TOWNSQUARE_SMTP_SECURITY='ssl': "
        "expected one of starttls, tls, none\n"
    )
    monkeypatch.setenv("TOWNSQUARE_SMTP_SECURITY", "none")
    monkeypatch.setenv("TOWNSQUARE_SECRET_KEY", "short")
    assert "expected at least 32 random characters" in run("digest", "stats").err
    monkeypatch.setenv("TOWNSQUARE_SECRET_KEY", "")
    assert "set secret_key (TOWNSQUARE_SECRET_KEY)" in run("digest", "send").err
    bad_address = run("digest", "unsubscribe", "nobody")
    assert bad_address.err == "townsquare: error: not an email address: 'nobody'\n"
