"""A digest run: resolve | plan | compose | send | record.

    resolve   digests a stopped run left SENDING become UNKNOWN: never sent again
    plan      one PENDING record per due subscriber for this period (once: unique)
    compose   the posts first seen since the subscriber's last digest, in their
              categories, grouped by category then blog; text and HTML
    send      SMTP MAIL and RCPT; claim the record (SENDING); DATA
    record    SENT, EMPTY (nothing new: nothing sent), TEMP_FAILED (4xx: next run),
              FAILED (5xx: counted; paused after 3 in a row) or UNKNOWN

Every step is recorded before the next one starts, so a run can be stopped
at any point (even by ``kill -9``) and run again: a digest still PENDING or
TEMP_FAILED is sent, and one SENT, EMPTY or UNKNOWN never is.  The one
window a stop leaves open is DATA itself: the record says SENDING before the
message goes, and a later run takes it as delivered.  So a digest is sent at
most once; it is lost only if the run stops between the start of DATA and
the server's answer and the server did not keep the message.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ..config import Config
from ..model import Delivery, DeliveryStatus, Frequency
from ..store import Store
from .compose import (
    FORGET_UNCONFIRMED_DAYS,
    Composer,
    DigestBody,
    DigestPost,
    digest_post,
    group_posts,
    render_digest_body,
)
from .mail import Mailer, Sent
from .tokens import Links, Tokens

PAUSE_AFTER = 3  # permanent failures (5xx) in a row before a subscriber is paused
BATCH = 500  # records read at a time
# A digest never reaches back further than this (after a pause, say).
LOOKBACK = {Frequency.DAILY: timedelta(days=7), Frequency.WEEKLY: timedelta(days=35)}
KEEP_RECORDS = timedelta(days=90)
# A digest covers posts first seen up to this long before the run: a post's first-seen
# time is when its feed was fetched, and the fetch may still be being stored.
SETTLE = timedelta(minutes=5)

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class Period:
    key: str  # '2026-11-24' or '2026-W48'
    start: datetime  # midnight UTC starting the day, or the Monday of the ISO week


def period_of(frequency: Frequency, now: datetime) -> Period:
    """The period a run at ``now`` sends for: the UTC day, or the ISO week."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if frequency is Frequency.DAILY:
        return Period(day.date().isoformat(), day)
    year, week, weekday = day.isocalendar()
    return Period(f"{year}-W{week:02d}", day - timedelta(days=weekday - 1))


@dataclass(slots=True)
class DigestReport:
    frequency: Frequency
    period: str
    planned: int = 0  # records made by this run
    sent: int = 0
    empty: int = 0  # nothing new: nothing sent
    retry: int = 0  # 4xx: sent on the next run
    refused: int = 0  # 5xx
    paused: int = 0  # subscribers paused by this run
    unknown: int = 0  # perhaps delivered: never sent again
    resolved: int = 0  # left SENDING by a stopped run; now UNKNOWN
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)  # one line per failure, no addresses


class _Bodies:
    """Digest bodies, made once for each (period covered, categories chosen)."""

    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.config = config
        self.names = {c.id: c.name for c in store.categories()}
        self.source_categories = store.source_category_ids()
        self._posts: dict[tuple[datetime, datetime], list[DigestPost]] = {}
        self._bodies: dict[tuple[datetime, datetime, tuple[int, ...] | None], DigestBody] = {}

    def body(self, delivery: Delivery) -> DigestBody:
        window = (delivery.covers_from, delivery.covers_until)
        key = (*window, delivery.subscriber.category_ids)
        if key not in self._bodies:
            if window not in self._posts:
                posts = self.store.posts_first_seen(*window)
                self._posts[window] = [digest_post(p) for p in posts]
            groups, left_out = group_posts(
                self._posts[window],
                delivery.subscriber.category_ids,
                self.source_categories,
                self.names,
            )
            if len(self._bodies) > 1000:
                self._bodies.clear()
            self._bodies[key] = render_digest_body(self.config, groups, left_out)
        return self._bodies[key]


def send_digests(
    store: Store,
    config: Config,
    frequency: Frequency,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> DigestReport:
    """Send this period's digests of one frequency; safe to run again at any time.

    Raises ``MailError`` if email is not set up or the mail server cannot be
    used; what was sent by then is recorded, and the rest goes next run.
    """
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    period = period_of(frequency, now)
    report = DigestReport(frequency, period.key)
    tokens = Tokens(config.secret_key)
    with Mailer(config) as mailer:
        store.forget_unconfirmed(now - timedelta(days=FORGET_UNCONFIRMED_DAYS))
        store.prune_subscriber_data(
            limits_before=now - timedelta(days=2), deliveries_before=now - KEEP_RECORDS
        )
        report.resolved = store.resolve_interrupted(now)
        report.planned = store.plan_deliveries(
            frequency,
            period.key,
            period_start=period.start,
            until=now - SETTLE,
            floor=now - SETTLE - LOOKBACK[frequency],
            now=now,
        )
        composer = Composer(config, Links(config, tokens))
        bodies = _Bodies(store, config)
        total = sum(
            n
            for status, n in store.delivery_counts(period.key).items()
            if status in (DeliveryStatus.PENDING, DeliveryStatus.TEMP_FAILED)
        )
        done = last_id = 0
        while batch := store.open_deliveries(period.key, after_id=last_id, limit=BATCH):
            for delivery in batch:
                _send_one(store, mailer, composer, bodies, delivery, report)
                last_id = delivery.id
                done += 1
                if progress is not None:
                    progress(done, total)
    report.seconds = time.perf_counter() - started
    return report


def _send_one(
    store: Store,
    mailer: Mailer,
    composer: Composer,
    bodies: _Bodies,
    delivery: Delivery,
    report: DigestReport,
) -> None:
    body = bodies.body(delivery)
    now = datetime.now(UTC)
    if body.count == 0:
        store.record_empty(delivery, now)
        report.empty += 1
        return
    message = composer.digest(delivery, body, now)
    result = mailer.send(message, claim=lambda: store.claim_delivery(delivery, now))
    done = datetime.now(UTC)
    where = f"digest {delivery.id} (subscriber {delivery.subscriber.id})"
    match result.outcome:
        case Sent.SENT:
            store.record_sent(delivery, body.count, done)
            report.sent += 1
        case Sent.TEMPORARY:
            store.record_temporary_failure(delivery, result.reply, done)
            report.retry += 1
            report.errors.append(f"{where}: will try again next run: {result.reply}")
        case Sent.PERMANENT:
            paused = store.record_permanent_failure(
                delivery, result.reply, done, pause_after=PAUSE_AFTER
            )
            report.refused += 1
            report.paused += paused
            report.errors.append(
                f"{where}: refused{' (subscriber paused)' if paused else ''}: {result.reply}"
            )
        case Sent.UNKNOWN:
            store.record_unknown(delivery, result.reply, done)
            report.unknown += 1
            report.errors.append(f"{where}: perhaps not delivered: {result.reply}")
        case Sent.NOT_CLAIMED:
            pass  # another run is sending it
