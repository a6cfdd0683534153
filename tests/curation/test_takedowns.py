"""Takedowns in the store, on SQLite and PostgreSQL: a post hidden by the curator stays
hidden whatever later fetches bring, until the curator undoes it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conftest import FeedServer
from helpers import Item, rss, run_pass
from townsquare.config import Config
from townsquare.errors import NotFoundError, PostGoneError
from townsquare.ingest.clean import canonical_url
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
    with pytest.raises(ValueError, match="reason"):
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
