"""The subscriber store on SQLite and PostgreSQL: one record per subscriber and period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from townsquare.model import DeliveryStatus, Frequency
from townsquare.store import Store

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _confirmed(store: Store, address: str, categories: list[int] | None = None) -> int:
    sub = store.request_subscription(address, address, Frequency.DAILY, categories, T0)
    store.confirm_subscriber(sub.id, T0)
    return sub.id


def _plan(store: Store, period: str, at: datetime) -> int:
    start = at.replace(hour=0, minute=0)
    return store.plan_deliveries(
        Frequency.DAILY, period, period_start=start, until=at, floor=at - 7 * DAY, now=at
    )


def test_requests_and_confirmation(any_store: Store) -> None:
    db = any_store
    health = db.ensure_category("Health")
    first = db.request_subscription("Ann@example.org", "ann@example.org", Frequency.DAILY, None, T0)
    again = db.request_subscription(
        "ann@example.org", "ann@example.org", Frequency.WEEKLY, [health], T0 + DAY
    )
    assert again.id == first.id and again.link_key == first.link_key
    assert (again.frequency, again.category_ids, again.created_at) == (
        Frequency.WEEKLY,
        (health,),
        T0 + DAY,
    )
    db.confirm_subscriber(first.id, T0 + 2 * DAY)
    db.confirm_subscriber(first.id, T0 + 3 * DAY)  # a second confirmation changes nothing
    # Once confirmed, a request changes nothing.
    after = db.request_subscription(
        "ann@example.org", "ann@example.org", Frequency.DAILY, None, T0 + 4 * DAY
    )
    assert after.frequency is Frequency.WEEKLY and after.confirmed_at == T0 + 2 * DAY
    assert after.digest_through == T0 + 2 * DAY

    db.request_subscription("bo@example.org", "bo@example.org", Frequency.DAILY, None, T0)
    assert db.forget_unconfirmed(T0 + DAY) == 1
    assert db.subscriber_by_address("bo@example.org") is None
    assert db.subscriber_by_address("ann@example.org") is not None


def test_a_period_is_planned_once_and_claimed_once(any_store: Store) -> None:
    db = any_store
    ann = _confirmed(db, "ann@example.org")
    bo = _confirmed(db, "bo@example.org")
    at = T0 + DAY
    assert _plan(db, "d1", at) == 2
    assert _plan(db, "d1", at + timedelta(hours=3)) == 0  # a re-run makes nothing new
    first, second = db.open_deliveries("d1")
    assert (first.subscriber.id, first.covers_from, first.covers_until) == (ann, T0, at)
    assert db.claim_delivery(first, at)
    assert not db.claim_delivery(first, at)  # another run cannot take it too
    db.record_sent(first, 3, at)
    assert [d.subscriber.id for d in db.open_deliveries("d1")] == [bo]
    assert db.open_deliveries("d1", after_id=second.id) == []
    sub = db.subscriber(ann)
    assert sub is not None and sub.digest_through == at

    # A run stopped during DATA leaves SENDING: the next run takes it as delivered.
    assert db.claim_delivery(second, at)
    assert db.resolve_interrupted(at + timedelta(hours=1)) == 1
    sub = db.subscriber(bo)
    assert sub is not None and sub.digest_through == at
    assert db.open_deliveries("d1") == []
    assert db.delivery_counts("d1") == {DeliveryStatus.SENT: 1, DeliveryStatus.UNKNOWN: 1}


def test_unsent_digests_are_superseded(any_store: Store) -> None:
    db = any_store
    ann = _confirmed(db, "ann@example.org")
    _plan(db, "d1", T0 + DAY)
    [old] = db.open_deliveries("d1")
    db.record_temporary_failure(old, "451 busy", T0 + DAY)
    assert [d.status for d in db.open_deliveries("d1")] == [DeliveryStatus.TEMP_FAILED]
    _plan(db, "d2", T0 + 2 * DAY)
    assert db.delivery_counts("d1") == {DeliveryStatus.SUPERSEDED: 1}
    [new] = db.open_deliveries("d2")
    assert (new.subscriber.id, new.covers_from) == (ann, T0)  # the missed posts come along


def test_lookback_and_pause(any_store: Store) -> None:
    db = any_store
    ann = _confirmed(db, "ann@example.org")
    late = T0 + 30 * DAY
    _plan(db, "d30", late)
    [delivery] = db.open_deliveries("d30")
    assert delivery.covers_from == late - 7 * DAY  # never more than LOOKBACK back
    for n in range(1, 4):
        paused = db.record_permanent_failure(delivery, "550 no", late, pause_after=3)
        assert paused is (n == 3)
    sub = db.subscriber(ann)
    assert sub is not None and sub.paused_at == late and sub.permanent_failures == 3
    assert _plan(db, "d31", late + DAY) == 0  # paused: no digest planned
    db.set_subscriber_preferences(ann, Frequency.DAILY, None)  # saving choices resumes
    assert _plan(db, "d31", late + DAY) == 1


def test_counts_name_no_one(any_store: Store) -> None:
    db = any_store
    digital = db.ensure_category("Digital")
    health = db.ensure_category("Health")
    _confirmed(db, "a@example.org")
    _confirmed(db, "b@example.org", [health])
    _confirmed(db, "c@example.org", [health, digital])
    weekly = db.request_subscription("d@example.org", "d@example.org", Frequency.WEEKLY, None, T0)
    db.confirm_subscriber(weekly.id, T0)
    db.request_subscription("e@example.org", "e@example.org", Frequency.DAILY, None, T0)
    counts = db.subscriber_counts()
    assert counts.confirmed == {Frequency.DAILY: 3, Frequency.WEEKLY: 1}
    assert counts.all_categories == {Frequency.DAILY: 1, Frequency.WEEKLY: 1}
    assert counts.by_category == {
        "Digital": {Frequency.DAILY: 1, Frequency.WEEKLY: 0},
        "Health": {Frequency.DAILY: 2, Frequency.WEEKLY: 0},
    }
    assert (counts.unconfirmed, counts.paused) == (1, 0)


def test_rate_limit_windows(any_store: Store) -> None:
    db = any_store
    assert [db.count_hit("k", T0) for _ in range(3)] == [1, 2, 3]
    assert db.count_hit("k", T0 + DAY) == 1
    db.prune_subscriber_data(limits_before=T0 + DAY, deliveries_before=T0)
    assert db.count_hit("k", T0) == 1
