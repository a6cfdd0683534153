"""Takedowns in the store, on SQLite and PostgreSQL: a post hidden by the curator stays
hidden whatever later fetches bring, until the curator undoes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conftest import FeedServer
from helpers import Item, rss, run_pass
from mail_helpers import Item as MailItem
from mail_helpers import add_blog, fetch_all, parts, subscriber
from smtp_sink import SMTPServer
from townsquare.config import Config
from townsquare.errors import InputError, NotFoundError, PostGoneError
from townsquare.ingest.clean import canonical_url
from townsquare.model import Frequency
from townsquare.notify.digest import SETTLE, send_digests
from townsquare.store import Store

REASON = "Removed at the author's request"


@pytest.fixture
def store(any_store: Store) -> Store:
    return any_store


def _feed(extra: str = "") -> str:
    return rss(
        [
            Item("Keep me", link="https://blog.example/keep", guid="keep"),
            Item(
                "Take me down",
                link="https://blog.example/down?utm_source=x",
                guid="down",
                content=f"<p>Something regrettable.{extra}</p>",
            ),
        ]
    )


def test_a_takedown_survives_every_later_fetch_and_can_be_undone(
    server: FeedServer, store: Store, config: Config
) -> None:
    url = server.feed("/feed", _feed())
    source = store.add_source(url, "Blog", now=datetime.now(UTC))
    run_pass(store, config)
    down = next(p for p in store.river(limit=10) if p.title == "Take me down")

    hidden = store.hide_post(down.id, REASON, datetime.now(UTC))
    assert (hidden.hidden_by, hidden.hidden_reason) == ("curator", REASON)
    assert [p.title for p in store.river(limit=10)] == ["Keep me"]
    with pytest.raises(PostGoneError):
        store.post(down.id)

    # The same feed again, then the post edited: matched by identity, still hidden.
    run_pass(store, config, force=True)
    server.feed("/feed", _feed(extra=" Now edited."))
    report = run_pass(store, config, force=True)
    assert report.updated == 1 and report.new == 0
    assert [p.title for p in store.river(limit=10)] == ["Keep me"]
    again = store.any_post(down.id)
    assert (again.hidden_by, again.hidden_reason) == ("curator", REASON)
    assert "Now edited" in again.post.content_html  # kept up to date, not shown
    assert [(p.title, p.hidden_reason) for p in store.left_out_posts(source.id)] == [
        ("Take me down", REASON)
    ]
    assert [h.post.id for h in store.taken_down()] == [down.id]

    shown = store.show_post(down.id)
    assert shown.hidden_by is None and shown.hidden_reason is None
    assert store.post(down.id).title == "Take me down"
    assert store.taken_down() == []


def test_a_takedown_needs_a_post_and_a_reason(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.hide_post(12345, REASON, datetime.now(UTC))
    with pytest.raises(InputError, match="needs a reason"):
        store.hide_post(1, "  ", datetime.now(UTC))


def test_posts_are_found_by_their_original_address_written_any_way(
    server: FeedServer, store: Store, config: Config
) -> None:
    store.add_source(server.feed("/feed", _feed()), "Blog", now=datetime.now(UTC))
    run_pass(store, config)
    typed = "https://www.blog.example/down/"
    found = store.posts_by_link(typed, canonical_url(typed))
    assert [f.post.title for f in found] == ["Take me down"]
    assert store.posts_by_link("https://blog.example/other", None) == []


def test_a_post_taken_down_is_in_no_digest(
    server: FeedServer, store: Store, mail_config: Config, smtp: SMTPServer
) -> None:
    items = [MailItem("Keep me", "keep"), MailItem("Take me down", "down")]
    add_blog(store, server, "/blog", "A blog", items)
    fetch_all(store, mail_config)
    down = next(p for p in store.river(limit=10) if p.title == "Take me down")
    store.hide_post(down.id, REASON, datetime.now(UTC))
    subscriber(store, "ann@example.org")
    soon = datetime.now(UTC) + SETTLE + timedelta(minutes=1)
    assert send_digests(store, mail_config, Frequency.DAILY, now=soon).sent == 1
    text, html = parts(smtp.messages[0].message)
    assert "Keep me" in text and "Keep me" in html
    assert "Take me down" not in text + html and "/down" not in text + html
