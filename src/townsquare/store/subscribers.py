"""Subscribers to email digests, the record of each digest, and rate limits.

A digest is one row of ``deliveries``: one subscriber, one period.  Its
status only moves forward (see ``DeliveryStatus``), and the row for a
(subscriber, period) pair is made once, so a digest run can be repeated, or
cut short and run again, without sending anyone the same digest twice.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime

from ..model import Delivery, DeliveryStatus, Frequency, Post, Subscriber, SubscriberCounts
from .db import Database, Row
from .posts import _POST_COLUMNS, VISIBLE, _post

_SUBSCRIBER_COLUMNS = """s.id, s.address, s.frequency, s.all_categories, s.link_key, s.created_at,
    s.confirmed_at, s.paused_at, s.paused_reason, s.permanent_failures, s.digest_through"""

_OPEN = ("pending", "temp_failed")


def _subscriber(row: Row, category_ids: Sequence[int]) -> Subscriber:
    return Subscriber(
        id=row["id"],
        address=row["address"],
        frequency=Frequency(row["frequency"]),
        category_ids=None if row["all_categories"] else tuple(category_ids),
        link_key=row["link_key"],
        created_at=row["created_at"],
        confirmed_at=row["confirmed_at"],
        paused_at=row["paused_at"],
        paused_reason=row["paused_reason"],
        permanent_failures=row["permanent_failures"],
        digest_through=row["digest_through"],
    )


class SubscriberStore:
    db: Database

    # --- subscribing ------------------------------------------------------------------

    def request_subscription(
        self,
        address: str,
        address_key: str,
        frequency: Frequency,
        category_ids: Sequence[int] | None,
        now: datetime,
    ) -> Subscriber:
        """Record a wish to subscribe; a confirmed subscription is left as it is.

        An unconfirmed one takes the new choices and starts its 7 days again.
        """
        with self.db.transaction():
            self.db.execute(
                """INSERT INTO subscribers (address, address_key, frequency, all_categories,
                       link_key, created_at)
                   VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (address_key) DO NOTHING""",
                (
                    address,
                    address_key,
                    frequency.value,
                    category_ids is None,
                    secrets.token_urlsafe(12),
                    now,
                ),
            )
            row = self.db.fetchone(
                "SELECT id, confirmed_at FROM subscribers WHERE address_key = ?", (address_key,)
            )
            assert row is not None
            if row["confirmed_at"] is None:
                self.db.execute(
                    """UPDATE subscribers SET address = ?, frequency = ?, all_categories = ?,
                           created_at = ? WHERE id = ?""",
                    (address, frequency.value, category_ids is None, now, row["id"]),
                )
                self._set_categories(row["id"], category_ids)
        subscriber = self.subscriber(row["id"])
        assert subscriber is not None
        return subscriber

    def subscriber(self, subscriber_id: int) -> Subscriber | None:
        row = self.db.fetchone(
            f"SELECT {_SUBSCRIBER_COLUMNS} FROM subscribers s WHERE s.id = ?", (subscriber_id,)
        )
        if row is None:
            return None
        return _subscriber(row, self._subscriber_categories([subscriber_id]).get(row["id"], []))

    def subscriber_by_address(self, address_key: str) -> Subscriber | None:
        row = self.db.fetchone("SELECT id FROM subscribers WHERE address_key = ?", (address_key,))
        return None if row is None else self.subscriber(row["id"])

    def confirm_subscriber(self, subscriber_id: int, now: datetime) -> None:
        """Confirm; the first digest covers posts first seen from now on (this second on)."""
        self.db.execute(
            """UPDATE subscribers SET confirmed_at = coalesce(confirmed_at, ?),
                   digest_through = coalesce(digest_through, ?) WHERE id = ?""",
            (now, now, subscriber_id),
        )

    def set_subscriber_preferences(
        self, subscriber_id: int, frequency: Frequency, category_ids: Sequence[int] | None
    ) -> None:
        """New choices; a paused subscriber who saves them is resumed."""
        with self.db.transaction():
            self.db.execute(
                """UPDATE subscribers SET frequency = ?, all_categories = ?, paused_at = NULL,
                       paused_reason = NULL, permanent_failures = 0 WHERE id = ?""",
                (frequency.value, category_ids is None, subscriber_id),
            )
            self._set_categories(subscriber_id, category_ids)

    def remove_subscriber(self, subscriber_id: int) -> bool:
        """Forget a subscriber and the record of their digests."""
        return self.db.execute("DELETE FROM subscribers WHERE id = ?", (subscriber_id,)) > 0

    def forget_unconfirmed(self, before: datetime) -> int:
        return self.db.execute(
            "DELETE FROM subscribers WHERE confirmed_at IS NULL AND created_at < ?", (before,)
        )

    def count_hit(self, bucket: str, window_start: datetime) -> int:
        """Count one request in a fixed window; the count so far, this one included."""
        row = self.db.fetchone(
            """INSERT INTO rate_limits (bucket, window_start, hits) VALUES (?, ?, 1)
               ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limits.hits + 1
               RETURNING hits""",
            (bucket, window_start),
        )
        assert row is not None
        return int(row["hits"])

    def prune_subscriber_data(
        self, *, limits_before: datetime, deliveries_before: datetime
    ) -> None:
        """Drop old rate-limit windows and the record of old, finished digests."""
        with self.db.transaction():
            self.db.execute("DELETE FROM rate_limits WHERE window_start < ?", (limits_before,))
            self.db.execute(
                "DELETE FROM deliveries WHERE updated_at < ? AND status NOT IN (?, ?, ?)",
                (deliveries_before, *_OPEN, DeliveryStatus.SENDING.value),
            )

    def subscriber_counts(self) -> SubscriberCounts:
        zero = {f: 0 for f in Frequency}
        confirmed, every = dict(zero), dict(zero)
        for r in self.db.fetchall(
            """SELECT frequency, all_categories, count(*) AS n FROM subscribers
               WHERE confirmed_at IS NOT NULL AND paused_at IS NULL
               GROUP BY frequency, all_categories"""
        ):
            confirmed[Frequency(r["frequency"])] += r["n"]
            if r["all_categories"]:
                every[Frequency(r["frequency"])] += r["n"]
        by_category: dict[str, dict[Frequency, int]] = {}
        for r in self.db.fetchall(
            """SELECT c.name, s.frequency, count(s.id) AS n
               FROM categories c
               LEFT JOIN subscriber_categories sc ON sc.category_id = c.id
               LEFT JOIN subscribers s ON s.id = sc.subscriber_id
                   AND s.confirmed_at IS NOT NULL AND s.paused_at IS NULL
               GROUP BY c.name, c.position, s.frequency ORDER BY c.position, c.name"""
        ):
            counts = by_category.setdefault(r["name"], dict(zero))
            if r["frequency"] is not None:
                counts[Frequency(r["frequency"])] += r["n"]
        other = self.db.fetchone(
            """SELECT
                 sum(CASE WHEN confirmed_at IS NULL THEN 1 ELSE 0 END) AS unconfirmed,
                 sum(CASE WHEN paused_at IS NOT NULL THEN 1 ELSE 0 END) AS paused
               FROM subscribers"""
        )
        assert other is not None
        return SubscriberCounts(
            confirmed=confirmed,
            all_categories=every,
            by_category=by_category,
            unconfirmed=int(other["unconfirmed"] or 0),
            paused=int(other["paused"] or 0),
        )

    # --- digests ----------------------------------------------------------------------

    def resolve_interrupted(self, now: datetime) -> int:
        """Digests a stopped run left in SENDING become UNKNOWN, and count as sent.

        The mail server may have taken them, so they are never sent again
        (at most once); their posts are not repeated in the next digest.
        """
        with self.db.transaction():
            rows = self.db.fetchall(
                "SELECT id, subscriber_id, covers_until FROM deliveries WHERE status = ?",
                (DeliveryStatus.SENDING.value,),
            )
            for r in rows:
                self._finish(r["id"], DeliveryStatus.UNKNOWN, now, error="the run stopped")
                self._advance(r["subscriber_id"], r["covers_until"])
        return len(rows)

    def plan_deliveries(
        self,
        frequency: Frequency,
        period: str,
        *,
        period_start: datetime,
        until: datetime,
        floor: datetime,
        now: datetime,
    ) -> int:
        """Make this period's record for every subscriber due one; how many were made.

        Due: confirmed, not paused, of this frequency, and last covered before
        the period began (so someone who confirms today waits for tomorrow).
        A digest covers posts first seen since the last one, but none from
        before ``floor``.  Older digests never sent (4xx, or never reached)
        are superseded: their posts are in this one.
        """
        with self.db.transaction():
            made = self.db.execute(
                """INSERT INTO deliveries (subscriber_id, period, status, covers_from,
                       covers_until, created_at, updated_at)
                   SELECT id, ?, ?,
                       CASE WHEN digest_through < ? THEN ? ELSE digest_through END, ?, ?, ?
                   FROM subscribers
                   WHERE frequency = ? AND confirmed_at IS NOT NULL AND paused_at IS NULL
                       AND digest_through < ?
                   ON CONFLICT (subscriber_id, period) DO NOTHING""",
                (
                    period,
                    DeliveryStatus.PENDING.value,
                    floor,
                    floor,
                    until,
                    now,
                    now,
                    frequency.value,
                    period_start,
                ),
            )
            self.db.execute(
                """UPDATE deliveries SET status = ?, updated_at = ?
                   WHERE status IN (?, ?) AND period <> ? AND subscriber_id IN
                       (SELECT subscriber_id FROM deliveries WHERE period = ?)""",
                (DeliveryStatus.SUPERSEDED.value, now, *_OPEN, period, period),
            )
        return made

    def open_deliveries(
        self, period: str, *, after_id: int = 0, limit: int = 500
    ) -> list[Delivery]:
        """Digests of this period still to send, in id order, a batch at a time."""
        rows = self.db.fetchall(
            f"""SELECT d.id AS delivery_id, d.period, d.status, d.covers_from, d.covers_until,
                    d.attempts, {_SUBSCRIBER_COLUMNS}
                FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
                WHERE d.period = ? AND d.status IN (?, ?) AND d.id > ?
                ORDER BY d.id LIMIT ?""",
            (period, *_OPEN, after_id, limit),
        )
        categories = self._subscriber_categories([r["id"] for r in rows if not r["all_categories"]])
        return [
            Delivery(
                id=r["delivery_id"],
                period=r["period"],
                status=DeliveryStatus(r["status"]),
                covers_from=r["covers_from"],
                covers_until=r["covers_until"],
                attempts=r["attempts"],
                subscriber=_subscriber(r, categories.get(r["id"], [])),
            )
            for r in rows
        ]

    def claim_delivery(self, delivery: Delivery, now: datetime) -> bool:
        """Mark a digest SENDING, just before DATA; False if another run has it."""
        return (
            self.db.execute(
                """UPDATE deliveries SET status = ?, attempts = attempts + 1, updated_at = ?
                   WHERE id = ? AND status IN (?, ?)""",
                (DeliveryStatus.SENDING.value, now, delivery.id, *_OPEN),
            )
            == 1
        )

    def record_sent(self, delivery: Delivery, post_count: int, now: datetime) -> None:
        with self.db.transaction():
            self._finish(delivery.id, DeliveryStatus.SENT, now, post_count=post_count)
            self._advance(delivery.subscriber.id, delivery.covers_until)
            self.db.execute(
                "UPDATE subscribers SET permanent_failures = 0, last_error = NULL WHERE id = ?",
                (delivery.subscriber.id,),
            )

    def record_empty(self, delivery: Delivery, now: datetime) -> None:
        """Nothing new for this subscriber: nothing is sent, and the period is done."""
        with self.db.transaction():
            self._finish(delivery.id, DeliveryStatus.EMPTY, now, post_count=0)
            self._advance(delivery.subscriber.id, delivery.covers_until)

    def record_unknown(self, delivery: Delivery, error: str, now: datetime) -> None:
        """The connection failed during DATA: perhaps delivered; never sent again."""
        with self.db.transaction():
            self._finish(delivery.id, DeliveryStatus.UNKNOWN, now, error=error)
            self._advance(delivery.subscriber.id, delivery.covers_until)

    def record_temporary_failure(self, delivery: Delivery, error: str, now: datetime) -> None:
        """A 4xx answer: the digest stays to send, on the next run."""
        with self.db.transaction():
            self._finish(delivery.id, DeliveryStatus.TEMP_FAILED, now, error=error)
            self.db.execute(
                "UPDATE subscribers SET last_error = ? WHERE id = ?",
                (error, delivery.subscriber.id),
            )

    def record_permanent_failure(
        self, delivery: Delivery, error: str, now: datetime, *, pause_after: int
    ) -> bool:
        """A 5xx answer, counted; the subscriber is paused at ``pause_after`` in a row.

        The posts are not marked as sent, so the next digest carries them.
        Whether the subscriber is now paused.
        """
        with self.db.transaction():
            self._finish(delivery.id, DeliveryStatus.FAILED, now, error=error)
            self.db.execute(
                """UPDATE subscribers SET permanent_failures = permanent_failures + 1,
                       last_error = ? WHERE id = ?""",
                (error, delivery.subscriber.id),
            )
            paused = self.db.execute(
                """UPDATE subscribers SET paused_at = ?, paused_reason = ?
                   WHERE id = ? AND permanent_failures >= ? AND paused_at IS NULL""",
                (
                    now,
                    f"the mail server refused {pause_after} digests in a row; last: {error}",
                    delivery.subscriber.id,
                    pause_after,
                ),
            )
        return paused > 0

    def delivery_counts(self, period: str) -> dict[DeliveryStatus, int]:
        rows = self.db.fetchall(
            "SELECT status, count(*) AS n FROM deliveries WHERE period = ? GROUP BY status",
            (period,),
        )
        return {DeliveryStatus(r["status"]): int(r["n"]) for r in rows}

    def posts_first_seen(self, since: datetime, before: datetime) -> list[Post]:
        """Visible posts first seen from ``since`` up to but not including ``before``,
        newest first.

        Times are stored to the second, so a window includes its first second and not
        its last: a post first seen in the second someone confirms is in their first
        digest, and one first seen in the second a digest ends is in the next one only.
        """
        rows = self.db.fetchall(
            f"""SELECT {_POST_COLUMNS} FROM posts p JOIN sources s ON s.id = p.source_id
                WHERE p.first_seen >= ? AND p.first_seen < ? AND {VISIBLE}
                ORDER BY p.published DESC, p.id DESC""",
            (since, before),
        )
        return [_post(r) for r in rows]

    def source_category_ids(self) -> dict[int, tuple[int, ...]]:
        """Each categorised source's categories, in the curator's order."""
        out: dict[int, list[int]] = {}
        for r in self.db.fetchall(
            """SELECT sc.source_id, sc.category_id FROM source_categories sc
               JOIN categories c ON c.id = sc.category_id ORDER BY c.position, c.name"""
        ):
            out.setdefault(r["source_id"], []).append(r["category_id"])
        return {k: tuple(v) for k, v in out.items()}

    # --- helpers ----------------------------------------------------------------------

    def _finish(
        self,
        delivery_id: int,
        status: DeliveryStatus,
        now: datetime,
        *,
        error: str | None = None,
        post_count: int | None = None,
    ) -> None:
        self.db.execute(
            """UPDATE deliveries SET status = ?, last_error = ?,
                   post_count = coalesce(?, post_count), updated_at = ?
               WHERE id = ?""",
            (status.value, error, post_count, now, delivery_id),
        )

    def _advance(self, subscriber_id: int, through: datetime) -> None:
        self.db.execute(
            """UPDATE subscribers SET digest_through = ?
               WHERE id = ? AND (digest_through IS NULL OR digest_through < ?)""",
            (through, subscriber_id, through),
        )

    def _set_categories(self, subscriber_id: int, category_ids: Sequence[int] | None) -> None:
        self.db.execute(
            "DELETE FROM subscriber_categories WHERE subscriber_id = ?", (subscriber_id,)
        )
        if category_ids:
            self.db.executemany(
                """INSERT INTO subscriber_categories (subscriber_id, category_id) VALUES (?, ?)
                   ON CONFLICT DO NOTHING""",
                [(subscriber_id, c) for c in category_ids],
            )

    def _subscriber_categories(self, subscriber_ids: Iterable[int]) -> dict[int, list[int]]:
        wanted = sorted(set(subscriber_ids))
        out: dict[int, list[int]] = {}
        for i in range(0, len(wanted), 400):
            chunk = wanted[i : i + 400]
            for r in self.db.fetchall(
                f"""SELECT sc.subscriber_id, sc.category_id FROM subscriber_categories sc
                    JOIN categories c ON c.id = sc.category_id
                    WHERE sc.subscriber_id IN ({",".join("?" * len(chunk))})
                    ORDER BY c.position, c.name""",
                chunk,
            ):
                out.setdefault(r["subscriber_id"], []).append(r["category_id"])
        return out
