"""Suggestions and requests: the automatic checks against a real server (through the
guarded fetcher), and the curator's decisions, each emailed through a real SMTP server."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

import pytest

from conftest import FeedServer, Response
from helpers import Item, rss, run_pass
from smtp_sink import SMTPServer
from townsquare.config import Config
from townsquare.curation import moderate
from townsquare.curation.checks import check_blog, check_item
from townsquare.errors import InputError
from townsquare.store import Check, ItemKind, ItemState, Store

NOW = datetime.now(UTC)
RECENT = format_datetime(NOW - timedelta(days=3), usegmt=True)
STALE = format_datetime(NOW - timedelta(days=400), usegmt=True)


def checks(store: Store, config: Config, url: str) -> list[tuple[str, bool]]:
    found, _ = asyncio.run(check_blog(store, config, url, NOW))
    return [(c.name, c.passed) for c in found]


def _site(server: FeedServer, feed_path: str = "/feed") -> str:
    page = f'<html><head><link rel="alternate" type="application/rss+xml" href="{feed_path}">'
    return server.respond(
        "/", Response(200, (page + "</head></html>").encode(), {"Content-Type": "text/html"})
    )


def test_a_good_blog_passes_every_check(server: FeedServer, store: Store, config: Config) -> None:
    server.feed("/feed", rss([Item("Fresh", guid="a", date=RECENT)], title="Good blog"))
    found, feed = asyncio.run(check_blog(store, config, _site(server), NOW))
    assert [(c.name, c.passed) for c in found] == [
        ("Not on the block list", True),
        ("Not already listed", True),
        ("Reachable", True),
        ("Has a feed that parses", True),
        ("Has recent posts", True),
    ]
    assert feed is not None and feed.url == server.url("/feed") and feed.title == "Good blog"


def test_each_check_that_fails_says_why(server: FeedServer, store: Store, config: Config) -> None:
    server.respond("/gone", Response(404, b"no"))
    assert checks(store, config, server.url("/gone"))[-1] == ("Reachable", False)
    server.respond("/page", Response(200, b"<html><p>hi</p></html>", {"Content-Type": "text/html"}))
    assert checks(store, config, server.url("/page"))[-1] == ("Has a feed that parses", False)
    server.feed("/old", rss([Item("Old", guid="o", date=STALE)]))
    found, _ = asyncio.run(check_blog(store, config, server.url("/old"), NOW))
    assert found[-1].name == "Has recent posts" and not found[-1].passed
    assert found[-1].detail.startswith("The latest post was published on ")


def test_blocked_and_listed_sites_are_not_even_fetched(
    server: FeedServer, store: Store, config: Config
) -> None:
    server.feed("/feed", rss([Item("Fresh", guid="a", date=RECENT)]))
    store.block("127.0.0.1", "spam", NOW)
    found, feed = asyncio.run(check_blog(store, config, server.url("/feed"), NOW))
    assert found == [Check("Not on the block list", False, "127.0.0.1 is on the block list: spam.")]
    assert feed is None and server.requests == []
    store.unblock(store.blocklist()[0].id)
    store.add_source(server.url("/feed"), "Listed blog", now=NOW)
    assert checks(store, config, server.url("/feed"))[-1] == ("Not already listed", False)
    # ... also when the address given is the site and its feed is the one listed:
    assert checks(store, config, _site(server))[-1] == ("Not already listed", False)
    assert len(server.hits("/feed")) == 1


def test_block_list_covers_subdomains(store: Store) -> None:
    store.block("spam.example", "", NOW)
    assert store.blocked("blog.spam.example") is not None
    assert store.blocked("SPAM.example.") is not None
    assert store.blocked("notspam.example") is None
    with pytest.raises(InputError, match="already on the block list"):
        store.block("spam.example", "", NOW)


# --- decisions, emailed ----------------------------------------------------------------


@pytest.fixture
def curator_config(mail_config: Config) -> Config:
    """Email to the test SMTP server, from a site with a name and an address of its own."""
    return replace(
        mail_config, site_name="Public sector blogs", base_url="https://blogs.example.org/"
    )


def _sent(smtp: SMTPServer) -> list[EmailMessage]:
    return [r.message for r in smtp.messages]


def test_approving_a_suggestion_lists_the_blog_and_tells_the_suggester(
    server: FeedServer, store: Store, curator_config: Config, smtp: SMTPServer
) -> None:
    config = curator_config
    server.feed("/feed", rss([Item("Fresh", guid="a", date=RECENT)], title="Good blog"))
    item = store.add_item(ItemKind.SUGGESTION, _site(server), "Sam", "sam@example.org", "", NOW)
    asyncio.run(check_item(store, config, item.id))
    item = store.item(item.id)
    assert item.feed is not None
    assert [(c.name, c.passed) for c in item.checks] == [
        ("Not on the block list", True),
        ("Not already listed", True),
        ("Reachable", True),
        ("Has a feed that parses", True),
        ("Has recent posts", True),
    ]
    store.ensure_category("Digital")
    source, emailed = moderate.approve_suggestion(
        store,
        config,
        item,
        "ada",
        title="A good blog",
        categories=["Digital"],
        excerpts_only=True,
        extract_full=False,
        now=NOW,
    )
    assert emailed == "Emailed sam@example.org."
    assert (source.url, source.title, source.categories, source.excerpts_only) == (
        server.url("/feed"),
        "A good blog",
        ("Digital",),
        True,
    )
    decided = store.item(item.id)
    assert (decided.state, decided.decided_by, decided.emailed) == (
        ItemState.APPROVED,
        "ada",
        "Emailed sam@example.org.",
    )
    (sent,) = _sent(smtp)
    assert sent["To"] == "sam@example.org"
    assert sent["Subject"] == "A good blog is now on Public sector blogs"
    text = sent.get_content()
    assert text.startswith("Hello Sam,")
    assert "https://blogs.example.org/blogs/a-good-blog" in text
    with pytest.raises(InputError, match="already been decided"):
        moderate.decline(store, config, decided, "bob", reason="no", block=False, now=NOW)


def test_declining_says_why_and_may_block_the_site(
    store: Store, curator_config: Config, smtp: SMTPServer
) -> None:
    item = store.add_item(
        ItemKind.SUGGESTION, "https://casino.example/", "", "x@example.org", "", NOW
    )
    emailed = moderate.decline(
        store,
        curator_config,
        item,
        "ada",
        reason="It is not about public services.",
        block=True,
        now=NOW,
    )
    assert emailed == "Emailed x@example.org."
    assert store.blocked("casino.example") is not None
    (sent,) = _sent(smtp)
    assert sent["Subject"] == "About your suggestion to Public sector blogs"
    assert "Why: It is not about public services." in sent.get_content()
    assert sent.get_content().startswith("Hello,")


def test_approving_a_takedown_hides_the_post_and_an_excerpts_request_switches_the_blog(
    server: FeedServer, store: Store, curator_config: Config, smtp: SMTPServer
) -> None:
    config = curator_config
    url = server.feed("/feed", rss([Item("Mine", link="https://blog.example/mine", guid="m")]))
    source = store.add_source(url, "Owner's blog", site_url="https://blog.example/", now=NOW)
    run_pass(store, config)
    post = store.river(limit=1)[0]
    asked = store.add_item(
        ItemKind.TAKEDOWN,
        f"https://blogs.example.org/posts/{post.id}-mine",
        "Owner",
        "owner@example.org",
        "It is mine",
        NOW,
    )
    assert [p.post.id for p in moderate.posts_asked_about(store, config, asked.url)] == [post.id]
    assert [
        p.post.id for p in moderate.posts_asked_about(store, config, "https://blog.example/mine/")
    ] == [post.id]
    hidden, emailed = moderate.approve_takedown(
        store,
        config,
        asked,
        "ada",
        post_ids=[post.id],
        reason="Removed at the author's request",
        now=NOW,
    )
    assert hidden[0].hidden_by == "curator" and store.river(limit=5) == []
    assert emailed == "Emailed owner@example.org."

    shorter = store.add_item(
        ItemKind.EXCERPTS,
        "https://blogs.example.org/blogs/owner-s-blog",
        "",
        "owner@example.org",
        "Please",
        NOW,
    )
    for address in (shorter.url, "https://blog.example", url):
        found = moderate.blog_asked_about(store, config, address)
        assert found is not None and found.id == source.id, address
    after, _ = moderate.approve_excerpts(
        store, config, shorter, "ada", source_id=source.id, now=NOW
    )
    assert after.excerpts_only
    subjects = [m["Subject"] for m in _sent(smtp)]
    assert subjects == [
        "We have removed a post from Public sector blogs",
        "Public sector blogs now shows excerpts of Owner's blog",
    ]


def test_a_decision_stands_when_the_email_cannot_be_sent(store: Store, config: Config) -> None:
    item = store.add_item(ItemKind.SUGGESTION, "https://a.example/", "", "a@example.org", "", NOW)
    emailed = moderate.decline(store, config, item, "ada", reason="No", block=False, now=NOW)
    assert (
        emailed == "Email is not set up: set smtp_host (TOWNSQUARE_SMTP_HOST) to your mail server."
    )
    after = store.item(item.id)
    assert after.state is ItemState.DECLINED and after.emailed == emailed
