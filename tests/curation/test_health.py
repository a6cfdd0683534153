"""Blog health: the five states, the two lists that need the curator, and the weekly email
sent through a real SMTP server by `townsquare health-email`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from conftest import FeedServer, Response, Result
from helpers import Item, rss, run_pass
from smtp_sink import SMTPServer
from townsquare.config import Config
from townsquare.curation.health import Health, assess, health_of, needs_attention
from townsquare.curation.health_email import compose
from townsquare.model import Source, SourceStatus
from townsquare.store import ItemKind, Store

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
BLOG = Source(
    id=1,
    url="https://a.example/feed",
    site_url=None,
    title="A",
    slug="a",
    enabled=True,
    excerpts_only=False,
    status=SourceStatus.OK,
    http_status=200,
    last_error=None,
    consecutive_failures=0,
    last_fetched_at=NOW,
    last_success_at=NOW,
    next_due_at=NOW,
    etag=None,
    last_modified=None,
    created_at=NOW - timedelta(days=400),
)


def failing(days: int, failures: int = 5) -> Source:
    return replace(
        BLOG,
        status=SourceStatus.ERROR,
        consecutive_failures=failures,
        last_success_at=NOW - timedelta(days=days),
        last_error="the server answered 404 Not Found",
    )


@pytest.mark.parametrize(
    ("blog", "health"),
    [
        (BLOG, Health.HEALTHY),
        (replace(BLOG, status=SourceStatus.NEW, last_success_at=None), Health.HEALTHY),
        (failing(1, failures=1), Health.WARNING),
        (failing(1, failures=3), Health.FAILING),
        (replace(BLOG, status=SourceStatus.GONE, enabled=False), Health.GONE),
        (replace(BLOG, enabled=False, disabled_reason="disabled by the curator"), Health.DISABLED),
        (replace(failing(9), enabled=False), Health.DISABLED),
    ],
)
def test_the_five_states(blog: Source, health: Health) -> None:
    assert health_of(blog) is health


def test_the_problem_in_plain_words() -> None:
    assert assess(failing(2), NOW, NOW).problem == "The server answered 404 Not Found."
    assert assess(BLOG, NOW, NOW).problem is None
    disabled = replace(BLOG, enabled=False, disabled_reason="retired by the curator")
    assert assess(disabled, NOW, NOW).problem == "Not fetched: retired by the curator."


def test_failing_for_a_week_and_silent_for_six_months() -> None:
    week = assess(failing(8), NOW, NOW)
    days = assess(failing(6), NOW, NOW)
    never = assess(replace(failing(0), last_success_at=None), None, NOW)  # added 400 days ago
    silent = assess(BLOG, NOW - timedelta(days=200), NOW)
    quiet = assess(BLOG, NOW - timedelta(days=150), NOW)
    new = assess(replace(BLOG, created_at=NOW - timedelta(days=3)), None, NOW)
    paused = assess(replace(BLOG, enabled=False), NOW - timedelta(days=300), NOW)
    retired = assess(replace(failing(30), retired=True), None, NOW)
    failing_long, silent_long = needs_attention(
        [week, days, never, silent, quiet, new, paused, retired]
    )
    assert failing_long == [never, week]  # longest first
    assert silent_long == [never, silent]


# --- the weekly email --------------------------------------------------------------------


def _feed(server: FeedServer, path: str, date: str) -> str:
    return server.feed(path, rss([Item("Old news", guid=path, date=date)], title=path))


def test_the_email_names_what_needs_the_curator(
    server: FeedServer, store: Store, config: Config
) -> None:
    now = datetime.now(UTC)
    store.add_source(_feed(server, "/fine", "Mon, 02 Nov 2026 10:00:00 GMT"), "Fine", now=now)
    silent = store.add_source(
        _feed(server, "/silent", "Mon, 05 Jan 2026 10:00:00 GMT"), "Silent blog", now=now
    )
    broken = store.add_source(server.url("/broken"), "Broken blog", now=now)
    server.respond("/broken", Response(404, b"no"))
    run_pass(store, config)
    # Failing since a week and a half ago: move the last success back, as time would.
    store.db.execute(
        "UPDATE sources SET consecutive_failures = 9, created_at = ? WHERE id = ?",
        (now - timedelta(days=10), broken.id),
    )
    store.add_item(ItemKind.SUGGESTION, "https://new.example/", "", "a@example.org", "", now)
    email = compose(store, replace(config, site_name="Public sector blogs"), now)
    assert email.subject == (
        "Public sector blogs: 1 failing for over a week, 1 silent for 6 months, 1 waiting for you"
    )
    body = email.body
    assert "3 blogs: 2 healthy, 0 warning, 1 failing, 0 gone, 0 disabled." in body
    failing_part = body.split("Failing for more than 7 days (1)")[1].split("Silent")[0]
    assert "* Broken blog (no success since" in failing_part
    assert "The server answered 404 Not Found." in failing_part
    assert f"{config.base_url}admin/blogs/{broken.id}" in failing_part
    silent_part = body.split("Silent for more than 6 months (1)")[1]
    assert "* Silent blog (latest post 5 January 2026)" in silent_part
    assert f"admin/blogs/{silent.id}" in silent_part
    assert "1 suggested blog, 0 takedown requests, 0 requests for excerpts only." in body


def test_a_quiet_week(store: Store, config: Config) -> None:
    email = compose(store, config, datetime.now(UTC))
    assert email.subject == "Townsquare: all blogs healthy"
    assert "Nothing needs you this week." in email.body


def test_the_command_sends_it_through_the_mail_server(
    run: Callable[..., Result], smtp: SMTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOWNSQUARE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("TOWNSQUARE_SMTP_PORT", str(smtp.port))
    monkeypatch.setenv("TOWNSQUARE_SMTP_SECURITY", "none")
    monkeypatch.setenv("TOWNSQUARE_SMTP_FROM", "Townsquare <site@blogs.example.org>")
    monkeypatch.setenv("TOWNSQUARE_CONTACT", "curator@blogs.example.org")
    result = run("health-email")
    assert result.code == 0, result.err
    assert result.out == (
        "Sent the health email to curator@blogs.example.org: Townsquare: all blogs healthy\n"
    )
    (sent,) = [r.message for r in smtp.messages]
    assert sent["To"] == "curator@blogs.example.org"
    assert sent["From"] == "Townsquare <site@blogs.example.org>"
    assert sent["Subject"] == "Townsquare: all blogs healthy"
    assert "Nothing needs you this week." in sent.get_content()

    other = run("health-email", "--to", "deputy@example.org")
    assert other.code == 0
    assert smtp.messages[1].message["To"] == "deputy@example.org"


def test_the_command_says_what_is_missing(
    run: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOWNSQUARE_CONTACT", raising=False)
    nowhere = run("health-email")
    assert nowhere.code == 1
    assert "no address to send the health email to: set curator_email" in nowhere.err
    no_server = run("health-email", "--to", "a@example.org")
    assert no_server.code == 1
    assert "email is not set up: set smtp_host" in no_server.err
    printed = run("health-email", "--print")
    assert printed.code == 0
    assert printed.out.startswith("Subject: Townsquare: all blogs healthy\n\nBlog health for")
