"""WebSub's state in the store, on SQLite and on PostgreSQL: what a feed says of its hub,
our subscriptions' lives, our hub's deliveries, and the news of new posts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from helpers import Item, rss
from townsquare.config import Config
from townsquare.ingest.pipeline import Ingest
from townsquare.model import FetchOutcome, FetchResult, Source
from townsquare.store import Store
from townsquare.store.websub import SubscriptionState

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
HUB = "https://hub.example/"
FEED = "https://a.example/feed"


def push_body(store: Store, config: Config, source: Source, body: str) -> None:
    """A body through the one path every post takes."""
    result = FetchResult(FEED, FEED, FetchOutcome.OK, status=200, body=body.encode())

    async def run() -> None:
        ingest = Ingest(store, config)
        try:
            await ingest.ingest_result(source, result)
        finally:
            ingest.close()

    asyncio.run(run())


def with_hub(feed: str) -> str:
    link = f'<atom:link xmlns:atom="http://www.w3.org/2005/Atom" rel="hub" href="{HUB}"/>'
    self_link = f'<atom:link xmlns:atom="http://www.w3.org/2005/Atom" rel="self" href="{FEED}"/>'
    return feed.replace("<channel>", "<channel>" + link + self_link)


def blog(store: Store, url: str = FEED, title: str = "A") -> Source:
    return store.add_source(url, title, now=NOW)


def test_a_feed_naming_a_hub_is_wanted_until_subscribed(any_store: Store, config: Config) -> None:
    source = blog(any_store)
    push_body(any_store, config, source, with_hub(rss([Item("One", "https://a.example/1")])))
    learnt = any_store.source(source.id)
    assert (learnt.hub_url, learnt.topic_url, learnt.push_until) == (HUB, FEED, None)
    [wanted] = any_store.wanted_hubs()
    assert (wanted.source_id, wanted.hub, wanted.topic) == (source.id, HUB, FEED)

    sub = any_store.start_subscription(source.id, HUB, FEED, key="k1", secret="s", now=NOW)
    assert sub.state is SubscriptionState.REQUESTED and any_store.wanted_hubs() == []
    assert any_store.subscription_by_key("k1") == sub == any_store.subscription_of(source.id)

    # The feed moves to another hub: wanted again, and a new subscription replaces the old.
    moved_feed = with_hub(rss([Item("One", "https://a.example/1")]))
    push_body(any_store, config, learnt, moved_feed.replace(HUB, "https://other-hub.example/"))
    [moved] = any_store.wanted_hubs()
    assert moved.hub == "https://other-hub.example/" and moved.topic == FEED
    again = any_store.start_subscription(source.id, moved.hub, FEED, key="k2", secret="t", now=NOW)
    assert again.id == sub.id and any_store.subscription_by_key("k1") is None


def test_a_subscription_is_held_by_one_claimer_at_a_time(any_store: Store) -> None:
    source = blog(any_store)
    sub = any_store.start_subscription(source.id, HUB, FEED, key="k", secret="s", now=NOW)
    hold = timedelta(minutes=30)
    assert [s.id for s in any_store.claim_subscriptions(NOW, hold=hold)] == [sub.id]
    assert any_store.claim_subscriptions(NOW, hold=hold) == []
    assert [s.id for s in any_store.claim_subscriptions(NOW + hold, hold=hold)] == [sub.id]
    unwanted = SubscriptionState.UNSUBSCRIBING
    assert any_store.claim_subscriptions(NOW + 2 * hold, hold=hold, state=unwanted) == []


def test_a_confirmed_subscription_pushes_until_it_lapses(any_store: Store) -> None:
    source = blog(any_store)
    sub = any_store.start_subscription(source.id, HUB, FEED, key="k", secret="s", now=NOW)
    any_store.subscription_verified(
        sub, now=NOW, lease_seconds=3600, renew_at=NOW + timedelta(minutes=45),
        push_until=NOW + timedelta(hours=1),
    )  # fmt: skip
    live = any_store.subscription_of(source.id)
    assert live is not None and live.state is SubscriptionState.ACTIVE
    assert live.lease_expires == NOW + timedelta(hours=1)
    assert any_store.source(source.id).push_until == NOW + timedelta(hours=1)

    any_store.push_arrived(live, now=NOW, push_until=NOW + timedelta(minutes=50))
    assert any_store.source(source.id).push_until == NOW + timedelta(minutes=50)
    any_store.subscription_lapsed(live, error="gone", failures=1, retry_at=NOW + timedelta(hours=1))
    lapsed = any_store.subscription_of(source.id)
    assert lapsed is not None and lapsed.state is SubscriptionState.FAILED
    assert lapsed.last_error == "gone" and lapsed.lease_expires is None
    assert any_store.source(source.id).push_until is None


def test_removed_and_disabled_blogs_subscriptions_are_ended(any_store: Store) -> None:
    kept, disabled, removed = (blog(any_store, f"{FEED}/{n}", n) for n in ("k", "d", "r"))
    any_store.db.execute("UPDATE sources SET hub_url = ?, topic_url = url", (HUB,))
    for source in (kept, disabled, removed):
        any_store.start_subscription(
            source.id, HUB, source.url, key=source.title, secret="s", now=NOW
        )
    any_store.update_source(disabled.id, enabled=False)
    any_store.remove_source(removed.id)
    assert any_store.mark_unwanted(NOW) == 2
    states = {s.callback_key: (s.state, s.source_id) for s in any_store.subscriptions()}
    assert states == {
        "k": (SubscriptionState.REQUESTED, kept.id),
        "d": (SubscriptionState.UNSUBSCRIBING, disabled.id),
        "r": (SubscriptionState.UNSUBSCRIBING, None),
    }
    assert any_store.mark_unwanted(NOW) == 0
    assert any_store.mark_unwanted(NOW, every=True) == 1
    for sub in any_store.subscriptions():
        any_store.end_subscription(sub)
    assert any_store.subscriptions() == []


def test_new_posts_are_news_once_and_edits_are_none(any_store: Store, config: Config) -> None:
    a, b = blog(any_store), blog(any_store, "https://b.example/feed", "B")
    assert any_store.take_feed_changes() == []
    push_body(any_store, config, a, rss([Item("One", "https://a.example/1")]))
    push_body(any_store, config, b, rss([Item("Two", "https://b.example/2")]))
    assert any_store.take_feed_changes() == sorted([a.id, b.id])
    assert any_store.take_feed_changes() == []
    edited = rss([Item("One", "https://a.example/1", content="<p>Edited.</p>")])
    push_body(any_store, config, any_store.source(a.id), edited)
    assert any_store.take_feed_changes() == []
    # B republishes A's post: a duplicate, hidden, so no news of B.
    copy = rss([Item("One", "https://a.example/1"), Item("Two", "https://b.example/2")])
    push_body(any_store, config, any_store.source(b.id), copy)
    assert any_store.take_feed_changes() == []


def test_posts_above_one_in_the_river(any_store: Store, config: Config) -> None:
    source = blog(any_store)
    items = [
        Item(f"Post {n}", f"https://a.example/{n}", date=f"Fri, 0{n} Jul 2024 10:00:00 GMT")
        for n in range(1, 5)
    ]
    push_body(any_store, config, source, rss(items))
    river = any_store.river(limit=10)
    assert [any_store.posts_above(p.id) for p in river] == [0, 1, 2, 3]
    assert any_store.posts_above(0) == 4 and any_store.posts_above(0, limit=2) == 2
    assert any_store.posts_above(999_999) is None


def test_deliveries_are_claimed_once_and_never_lose_news(any_store: Store) -> None:
    any_store.hub_subscribe("t1", "https://s.example/1", "s", lease_seconds=3600, now=NOW)
    any_store.hub_subscribe("t1", "https://s.example/1", "new", lease_seconds=60, now=NOW)
    any_store.hub_subscribe("t2", "https://s.example/2", None, lease_seconds=7200, now=NOW)
    one, two = any_store.hub_subscriptions(NOW)
    assert (one.secret, one.lease_seconds, two.secret) == ("new", 60, None)
    assert [s.id for s in any_store.hub_subscriptions(NOW + timedelta(seconds=61))] == [two.id]

    any_store.queue_deliveries([one.id, two.id], NOW)
    lease = timedelta(minutes=5)
    first = any_store.claim_deliveries("me", NOW, lease=lease)
    assert [d.subscription.id for d in first] == [one.id, two.id]
    assert any_store.claim_deliveries("you", NOW, lease=lease) == []
    any_store.queue_deliveries([one.id], NOW)  # news while the first send is under way
    any_store.delivered(first[0])
    any_store.delivered(first[1])
    [again] = any_store.claim_deliveries("me", NOW, lease=lease)  # sent again, newest
    assert again.subscription.id == one.id and again.generation == first[0].generation + 1
    any_store.delivery_failed(again, error="500", retry_at=NOW + timedelta(seconds=10))
    assert any_store.claim_deliveries("me", NOW + timedelta(seconds=9), lease=lease) == []
    [retry] = any_store.claim_deliveries("me", NOW + timedelta(seconds=10), lease=lease)
    assert retry.attempts == 1
    any_store.delivered(retry)
    assert any_store.claim_deliveries("me", NOW + timedelta(days=1), lease=lease) == []

    assert any_store.drop_expired_hub_subscriptions(NOW + timedelta(seconds=61)) == 1
    any_store.hub_unsubscribe("t2", "https://s.example/2")
    assert any_store.hub_subscriptions(NOW) == []
