"""WebSub in the store: our subscriptions to blogs' hubs, and our own hub's.

Subscriber side (``websub_subscriptions``): one row per blog whose feed names
a hub, keyed for the hub by a random callback key.  Its state is one of
``SubscriptionState``; ``next_action_at`` says when the maintenance pass
looks at it again (to ask, renew, retry or unsubscribe).  A removed blog
leaves its row behind, with no source, until the hub has been told.

Hub side (``hub_subscriptions``, ``hub_deliveries``): who subscribed to which
of our feeds, and, per subscription, at most one delivery waiting to be sent
(its ``generation`` moves when new posts arrive while it is being sent, so
none is lost).  ``feed_changes`` lists the blogs with new posts since the hub
last looked; a trigger fills it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from .db import Database, Row


class SubscriptionState(enum.StrEnum):
    REQUESTED = "requested"  # asked the hub; waiting for it to check with us
    ACTIVE = "active"  # the hub checked; it pushes until the lease ends
    FAILED = "failed"  # the hub refused or could not be reached; retried later
    UNSUBSCRIBING = "unsubscribing"  # the blog is gone or moved hub: tell the hub to stop


@dataclass(frozen=True, slots=True)
class Subscription:
    """One of our subscriptions to a blog's hub."""

    id: int
    source_id: int | None  # None: the blog was removed
    callback_key: str
    hub: str
    topic: str
    secret: str
    state: SubscriptionState
    lease_seconds: int | None
    lease_expires: datetime | None
    requested_at: datetime | None
    verified_at: datetime | None
    last_push_at: datetime | None
    failures: int
    last_error: str | None
    next_action_at: datetime


@dataclass(frozen=True, slots=True)
class WantedHub:
    """A blog whose feed names a hub we have no subscription at."""

    source_id: int
    hub: str
    topic: str


@dataclass(frozen=True, slots=True)
class HubSubscription:
    """Someone subscribed to one of our feeds at our hub."""

    id: int
    topic: str
    callback: str
    secret: str | None
    lease_seconds: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    """New content of a topic, to be sent to one subscriber."""

    id: int
    generation: int
    attempts: int
    subscription: HubSubscription


_SUBSCRIPTION = """id, source_id, callback_key, hub, topic, secret, state, lease_seconds,
    lease_expires, requested_at, verified_at, last_push_at, failures, last_error,
    next_action_at"""

_HUB_SUBSCRIPTION = "h.id, h.topic, h.callback, h.secret, h.lease_seconds, h.expires_at"

# The columns ``update_subscription`` may set.
_CHANGEABLE = {
    "state",
    "lease_seconds",
    "lease_expires",
    "requested_at",
    "verified_at",
    "last_push_at",
    "failures",
    "last_error",
    "next_action_at",
}


def _subscription(row: Row) -> Subscription:
    return Subscription(
        id=row["id"],
        source_id=row["source_id"],
        callback_key=row["callback_key"],
        hub=row["hub"],
        topic=row["topic"],
        secret=row["secret"],
        state=SubscriptionState(row["state"]),
        lease_seconds=row["lease_seconds"],
        lease_expires=row["lease_expires"],
        requested_at=row["requested_at"],
        verified_at=row["verified_at"],
        last_push_at=row["last_push_at"],
        failures=row["failures"],
        last_error=row["last_error"],
        next_action_at=row["next_action_at"],
    )


def _hub_subscription(row: Row) -> HubSubscription:
    return HubSubscription(
        id=row["id"],
        topic=row["topic"],
        callback=row["callback"],
        secret=row["secret"],
        lease_seconds=row["lease_seconds"],
        expires_at=row["expires_at"],
    )


class WebSubStore:
    db: Database

    # --- subscriber side ------------------------------------------------------------------

    def wanted_hubs(self, *, limit: int = 1000) -> list[WantedHub]:
        """Enabled blogs naming a hub and topic we hold no subscription for."""
        rows = self.db.fetchall(
            """SELECT s.id, s.hub_url, s.topic_url FROM sources s
               LEFT JOIN websub_subscriptions w ON w.source_id = s.id
               WHERE s.hub_url IS NOT NULL AND s.enabled
                 AND (w.id IS NULL OR w.hub <> s.hub_url OR w.topic <> s.topic_url)
               ORDER BY s.id LIMIT ?""",
            (limit,),
        )
        return [WantedHub(r["id"], r["hub_url"], r["topic_url"]) for r in rows]

    def start_subscription(
        self, source_id: int, hub: str, topic: str, *, key: str, secret: str, now: datetime
    ) -> Subscription:
        """A new subscription for the blog, replacing any it had (at another hub)."""
        with self.db.transaction():
            self.db.execute("UPDATE sources SET push_until = NULL WHERE id = ?", (source_id,))
            self.db.execute(
                """INSERT INTO websub_subscriptions
                       (source_id, callback_key, hub, topic, secret, state, next_action_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (source_id) DO UPDATE SET callback_key = excluded.callback_key,
                       hub = excluded.hub, topic = excluded.topic, secret = excluded.secret,
                       state = excluded.state, lease_seconds = NULL, lease_expires = NULL,
                       requested_at = NULL, verified_at = NULL, last_push_at = NULL,
                       failures = 0, last_error = NULL, next_action_at = excluded.next_action_at""",
                (source_id, key, hub, topic, secret, SubscriptionState.REQUESTED.value, now),
            )
        found = self.subscription_by_key(key)
        assert found is not None
        return found

    def subscription_by_key(self, key: str) -> Subscription | None:
        row = self.db.fetchone(
            f"SELECT {_SUBSCRIPTION} FROM websub_subscriptions WHERE callback_key = ?", (key,)
        )
        return None if row is None else _subscription(row)

    def subscription_of(self, source_id: int) -> Subscription | None:
        row = self.db.fetchone(
            f"SELECT {_SUBSCRIPTION} FROM websub_subscriptions WHERE source_id = ?", (source_id,)
        )
        return None if row is None else _subscription(row)

    def subscriptions(self) -> list[Subscription]:
        rows = self.db.fetchall(
            f"SELECT {_SUBSCRIPTION} FROM websub_subscriptions ORDER BY source_id, id"
        )
        return [_subscription(r) for r in rows]

    def claim_subscriptions(
        self,
        now: datetime,
        *,
        hold: timedelta,
        state: SubscriptionState | None = None,
        limit: int = 100,
    ) -> list[Subscription]:
        """Subscriptions due for attention (in ``state``, if given), held for ``hold`` so
        no other process takes them."""
        lock = " FOR UPDATE SKIP LOCKED" if self.db.dialect == "postgresql" else ""
        only = "" if state is None else " AND state = ?"
        states = () if state is None else (state.value,)
        with self.db.transaction():
            rows = self.db.fetchall(
                f"""UPDATE websub_subscriptions SET next_action_at = ?
                    WHERE next_action_at <= ? AND id IN (
                        SELECT id FROM websub_subscriptions WHERE next_action_at <= ?{only}
                        ORDER BY next_action_at, id LIMIT ?{lock})
                    RETURNING {_SUBSCRIPTION}""",
                (now + hold, now, now, *states, limit),
            )
        return sorted((_subscription(r) for r in rows), key=lambda s: s.id)

    def update_subscription(self, subscription_id: int, **changes: object) -> None:
        unknown = set(changes) - _CHANGEABLE
        assert not unknown, f"not a column that may change: {unknown}"
        values = [v.value if isinstance(v, SubscriptionState) else v for v in changes.values()]
        assignments = ", ".join(f"{name} = ?" for name in changes)
        self.db.execute(
            f"UPDATE websub_subscriptions SET {assignments} WHERE id = ?",
            (*values, subscription_id),
        )

    def subscription_verified(
        self,
        subscription: Subscription,
        *,
        now: datetime,
        lease_seconds: int,
        renew_at: datetime,
        push_until: datetime,
    ) -> None:
        """The hub checked with us: the subscription is live until the lease ends."""
        with self.db.transaction():
            self.update_subscription(
                subscription.id,
                state=SubscriptionState.ACTIVE,
                lease_seconds=lease_seconds,
                lease_expires=now + timedelta(seconds=lease_seconds),
                verified_at=now,
                failures=0,
                last_error=None,
                next_action_at=renew_at,
            )
            self._push_until(subscription, push_until)

    def push_arrived(
        self, subscription: Subscription, *, now: datetime, push_until: datetime
    ) -> None:
        with self.db.transaction():
            self.update_subscription(subscription.id, last_push_at=now)
            self._push_until(subscription, push_until)

    def subscription_lapsed(
        self, subscription: Subscription, *, error: str, failures: int, retry_at: datetime
    ) -> None:
        """The hub refused or could not be reached: the blog is polled as usual meanwhile."""
        with self.db.transaction():
            self.update_subscription(
                subscription.id,
                state=SubscriptionState.FAILED,
                lease_expires=None,
                requested_at=None,
                failures=failures,
                last_error=error,
                next_action_at=retry_at,
            )
            self._push_until(subscription, None)

    def end_subscription(self, subscription: Subscription) -> None:
        with self.db.transaction():
            self.db.execute("DELETE FROM websub_subscriptions WHERE id = ?", (subscription.id,))
            self._push_until(subscription, None)

    def mark_unwanted(self, now: datetime, *, every: bool = False) -> int:
        """Subscriptions whose blog was removed, disabled or no longer names a hub (or
        ``every`` one) are to be ended; their blogs are polled as usual from now."""
        unwanted = SubscriptionState.UNSUBSCRIBING.value
        with self.db.transaction():
            self.db.execute(
                "UPDATE sources SET push_until = NULL"
                " WHERE push_until IS NOT NULL AND (hub_url IS NULL OR ?)",
                (every,),
            )
            return self.db.execute(
                """UPDATE websub_subscriptions
                   SET state = ?, next_action_at = ?, requested_at = NULL
                   WHERE state <> ? AND (? OR NOT EXISTS (
                       SELECT 1 FROM sources s WHERE s.id = websub_subscriptions.source_id
                       AND s.hub_url IS NOT NULL AND s.enabled))""",
                (unwanted, now, unwanted, every),
            )

    def _push_until(self, subscription: Subscription, until: datetime | None) -> None:
        if subscription.source_id is not None:
            self.db.execute(
                "UPDATE sources SET push_until = ? WHERE id = ?", (until, subscription.source_id)
            )

    # --- hub side -------------------------------------------------------------------------

    def hub_subscribe(
        self, topic: str, callback: str, secret: str | None, *, lease_seconds: int, now: datetime
    ) -> None:
        self.db.execute(
            """INSERT INTO hub_subscriptions
                   (topic, callback, secret, lease_seconds, expires_at, created_at)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (topic, callback) DO UPDATE SET secret = excluded.secret,
                   lease_seconds = excluded.lease_seconds, expires_at = excluded.expires_at""",
            (topic, callback, secret, lease_seconds, now + timedelta(seconds=lease_seconds), now),
        )

    def hub_unsubscribe(self, topic: str, callback: str) -> None:
        self.db.execute(
            "DELETE FROM hub_subscriptions WHERE topic = ? AND callback = ?", (topic, callback)
        )

    def hub_subscriptions(self, now: datetime) -> list[HubSubscription]:
        """The live subscriptions at our hub (their leases not yet over)."""
        rows = self.db.fetchall(
            f"""SELECT {_HUB_SUBSCRIPTION} FROM hub_subscriptions h WHERE h.expires_at > ?
                ORDER BY h.id""",
            (now,),
        )
        return [_hub_subscription(r) for r in rows]

    def drop_hub_subscription(self, subscription_id: int) -> None:
        self.db.execute("DELETE FROM hub_subscriptions WHERE id = ?", (subscription_id,))

    def drop_expired_hub_subscriptions(self, now: datetime) -> int:
        return self.db.execute("DELETE FROM hub_subscriptions WHERE expires_at <= ?", (now,))

    def take_feed_changes(self) -> list[int]:
        """The blogs with new posts since the last call; each is handed out once."""
        if self.db.fetchone("SELECT source_id FROM feed_changes LIMIT 1") is None:
            return []  # the usual answer, without taking the write lock
        rows = self.db.fetchall("DELETE FROM feed_changes RETURNING source_id")
        return sorted(r["source_id"] for r in rows)

    def queue_deliveries(self, subscription_ids: Iterable[int], now: datetime) -> None:
        """New content for these subscribers: send it (again, if a send is under way)."""
        self.db.executemany(
            """INSERT INTO hub_deliveries (subscription_id, due_at) VALUES (?, ?)
               ON CONFLICT (subscription_id) DO UPDATE
               SET generation = hub_deliveries.generation + 1""",
            [(i, now) for i in subscription_ids],
        )

    def claim_deliveries(
        self, owner: str, now: datetime, *, lease: timedelta, limit: int = 50
    ) -> list[Delivery]:
        due = self.db.fetchone(
            """SELECT id FROM hub_deliveries
               WHERE due_at <= ? AND (claim_expires IS NULL OR claim_expires <= ?) LIMIT 1""",
            (now, now),
        )
        if due is None:
            return []  # the usual answer, without taking the write lock
        lock = " FOR UPDATE SKIP LOCKED" if self.db.dialect == "postgresql" else ""
        with self.db.transaction():
            claimed = self.db.fetchall(
                f"""UPDATE hub_deliveries SET claimed_by = ?, claim_expires = ?
                    WHERE due_at <= ? AND (claim_expires IS NULL OR claim_expires <= ?)
                      AND id IN (
                        SELECT id FROM hub_deliveries
                        WHERE due_at <= ? AND (claim_expires IS NULL OR claim_expires <= ?)
                        ORDER BY due_at, id LIMIT ?{lock})
                    RETURNING id""",
                (owner, now + lease, now, now, now, now, limit),
            )
        ids = sorted(r["id"] for r in claimed)
        if not ids:
            return []
        rows = self.db.fetchall(
            f"""SELECT d.id AS delivery_id, d.generation, d.attempts, {_HUB_SUBSCRIPTION}
                FROM hub_deliveries d JOIN hub_subscriptions h ON h.id = d.subscription_id
                WHERE d.id IN ({",".join("?" * len(ids))}) ORDER BY d.id""",
            ids,
        )
        return [
            Delivery(r["delivery_id"], r["generation"], r["attempts"], _hub_subscription(r))
            for r in rows
        ]

    def delivered(self, delivery: Delivery) -> None:
        """Sent: done, unless newer content arrived meanwhile (then it goes out again)."""
        with self.db.transaction():
            gone = self.db.execute(
                "DELETE FROM hub_deliveries WHERE id = ? AND generation = ?",
                (delivery.id, delivery.generation),
            )
            if not gone:
                self.db.execute(
                    """UPDATE hub_deliveries SET attempts = 0, last_error = NULL,
                           claimed_by = NULL, claim_expires = NULL WHERE id = ?""",
                    (delivery.id,),
                )

    def delivery_failed(self, delivery: Delivery, *, error: str, retry_at: datetime) -> None:
        self.db.execute(
            """UPDATE hub_deliveries SET attempts = attempts + 1, last_error = ?, due_at = ?,
                   claimed_by = NULL, claim_expires = NULL WHERE id = ?""",
            (error, retry_at, delivery.id),
        )

    def drop_delivery(self, delivery: Delivery) -> None:
        self.db.execute("DELETE FROM hub_deliveries WHERE id = ?", (delivery.id,))
