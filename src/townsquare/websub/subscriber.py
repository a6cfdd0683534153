"""Our subscriptions to blogs' hubs: WebSub's subscriber.

    maintain   ask the hub a blog's feed names, renew leases before they end,
               end the subscriptions of blogs removed or without a hub, and
               retry what failed, with backoff; every request through the
               guarded client (``Fetcher.send``)
    confirm    the hub checks with our callback (GET): its challenge is echoed
               only for a request we made, for the topic we asked about
    receive    the hub sends new content (POST): the signature must match the
               subscription's secret, then the body takes the one path every
               post takes (``Ingest.ingest_result``)

Nothing is asked while ``base_url`` names this machine or a private network
(hubs could not reach the callback), or with ``websub_subscribe`` off.
A blog whose hub pushes is polled daily (``ingest.schedule``) until its lease
ends or the hub has been silent a week (``protocol.push_until``).
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from ..config import Config
from ..ingest.fetch import Fetcher, parse_link_header
from ..ingest.guard import is_allowed
from ..ingest.pipeline import Ingest
from ..ingest.schedule import backoff
from ..model import FetchOutcome, FetchResult
from ..store import Store
from ..store.websub import Subscription, SubscriptionState
from . import protocol
from .protocol import Answer

CALLBACK_PATH = "websub/callback/"


def callback_url(config: Config, key: str) -> str:
    return config.base_url + CALLBACK_PATH + key


def unreachable(config: Config) -> str | None:
    """Why hubs could not reach our callbacks, if they could not: ``base_url`` names
    this machine or a private network (one the network guard refuses)."""
    host = urlsplit(config.base_url).hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost" and not host.endswith(".localhost"):
            return None
    else:
        if is_allowed(host, config.allow_networks):
            return None
    return f"hubs cannot reach this site at {config.base_url}: set base_url to its public address"


@dataclass(slots=True)
class Maintenance:
    """What one maintenance pass did."""

    asked: int = 0  # subscription requests the hubs accepted (new and renewals)
    ended: int = 0  # subscriptions ended
    failed: list[str] = field(default_factory=list)  # one line per failure
    not_asking: str | None = None  # why no hub is asked, if none is


class Subscriber:
    def __init__(
        self, store: Store, config: Config, fetcher: Fetcher, *, rng: random.Random | None = None
    ) -> None:
        self.store = store
        self.config = config
        self.fetcher = fetcher
        self.rng = rng or random.Random()

    async def maintain(self, now: datetime | None = None) -> Maintenance:
        """One pass: start, renew, retry and end subscriptions that are due."""
        now = now or datetime.now(UTC)
        report = Maintenance(not_asking=unreachable(self.config))
        self.store.mark_unwanted(now, every=not self._asking())
        if self._asking():
            for wanted in self.store.wanted_hubs():
                self.store.start_subscription(
                    wanted.source_id,
                    wanted.hub,
                    wanted.topic,
                    key=protocol.new_key(),
                    secret=protocol.new_secret(),
                    now=now,
                )
        for sub in self.store.claim_subscriptions(now, hold=protocol.VERIFY_WAIT):
            if sub.state is SubscriptionState.UNSUBSCRIBING:
                await self._end(sub, now, report)
            elif _waiting(sub):
                self._failed(sub, now, "the hub did not check the subscription with us", report)
            else:
                await self._ask(sub, now, report)
        return report

    async def end_unwanted(self, now: datetime | None = None) -> Maintenance:
        """Only the ending part of ``maintain``: tell the hubs of removed blogs to stop."""
        now = now or datetime.now(UTC)
        report = Maintenance()
        self.store.mark_unwanted(now, every=not self._asking())
        unwanted = SubscriptionState.UNSUBSCRIBING
        for sub in self.store.claim_subscriptions(now, hold=protocol.VERIFY_WAIT, state=unwanted):
            await self._end(sub, now, report)
        return report

    def _asking(self) -> bool:
        """Whether hubs are to be asked at all."""
        return self.config.websub_subscribe and unreachable(self.config) is None

    async def _ask(self, sub: Subscription, now: datetime, report: Maintenance) -> None:
        # Recorded first: a hub may check with us before it answers this request.
        state = SubscriptionState.REQUESTED if sub.state is SubscriptionState.FAILED else sub.state
        self.store.update_subscription(sub.id, state=state, requested_at=now)
        reply = await self._send(sub, "subscribe")
        if reply is None:
            report.asked += 1
        else:
            self._failed(sub, now, f"the hub refused the subscription: {reply}", report)

    async def _end(self, sub: Subscription, now: datetime, report: Maintenance) -> None:
        live = sub.lease_expires is not None and sub.lease_expires > now
        if live and sub.requested_at is None:
            self.store.update_subscription(sub.id, requested_at=now)
            if await self._send(sub, "unsubscribe") is None:
                return  # ended when the hub checks with us
        # Never confirmed, already over, or the hub cannot be told: its lease runs out.
        self.store.end_subscription(sub)
        report.ended += 1

    async def _send(self, sub: Subscription, mode: str) -> str | None:
        """Ask the hub; None when it accepted, otherwise what went wrong."""
        fields = {
            "hub.mode": mode,
            "hub.topic": sub.topic,
            "hub.callback": callback_url(self.config, sub.callback_key),
        }
        if mode == "subscribe":
            fields["hub.secret"] = sub.secret
            fields["hub.lease_seconds"] = str(self.config.websub_lease)
        reply = await self.fetcher.send(
            "POST",
            sub.hub,
            body=protocol.form(fields),
            headers={"Content-Type": protocol.FORM},
            limit=2000,
        )
        return None if reply.ok else reply.describe()

    def _failed(self, sub: Subscription, now: datetime, error: str, report: Maintenance) -> None:
        failures = sub.failures + 1
        retry = now + backoff(failures, self.rng)
        report.failed.append(f"{sub.hub} ({sub.topic}): {error}")
        if sub.state is SubscriptionState.ACTIVE and sub.lease_expires and sub.lease_expires > now:
            # Still live: try again before the lease ends.
            self.store.update_subscription(
                sub.id,
                failures=failures,
                last_error=error,
                requested_at=None,
                next_action_at=min(retry, sub.lease_expires),
            )
        else:
            self.store.subscription_lapsed(sub, error=error, failures=failures, retry_at=retry)


def _waiting(sub: Subscription) -> bool:
    """Asked, and the hub has not checked with us since."""
    asked = sub.requested_at
    return asked is not None and (sub.verified_at is None or asked > sub.verified_at)


def confirm(
    store: Store, config: Config, key: str, params: Mapping[str, str], now: datetime | None = None
) -> Answer:
    """The hub checks a request with us (verification of intent, WebSub 5.3)."""
    now = now or datetime.now(UTC)
    sub = store.subscription_by_key(key)
    mode, topic = params.get("hub.mode"), params.get("hub.topic")
    if sub is None or topic != sub.topic:
        return Answer(404, "This site asked for no such subscription.")
    if mode == "denied":
        reason = " ".join(params.get("hub.reason", "").split())[:200] or "no reason given"
        failures = sub.failures + 1
        store.subscription_lapsed(
            sub,
            error=f"the hub refused the subscription: {reason}",
            failures=failures,
            retry_at=now + backoff(failures, random.Random()),
        )
        return Answer(200, "Noted.")
    challenge = params.get("hub.challenge")
    if not protocol.is_challenge(challenge):
        return Answer(400, "The check has no usable hub.challenge.")
    assert challenge is not None
    wanted = sub.state is not SubscriptionState.UNSUBSCRIBING and sub.source_id is not None
    if mode == "subscribe" and wanted:
        seconds = protocol.lease(params.get("hub.lease_seconds"), config.websub_lease)
        ends = now + timedelta(seconds=seconds)
        store.subscription_verified(
            sub,
            now=now,
            lease_seconds=seconds,
            renew_at=protocol.renew_at(now, seconds),
            push_until=protocol.push_until(ends, now),
        )
        return Answer(200, challenge)
    if mode == "unsubscribe" and not wanted:
        store.end_subscription(sub)
        return Answer(200, challenge)
    return Answer(404, "This site did not ask for that.")


async def receive(
    store: Store,
    config: Config,
    key: str,
    body: bytes,
    headers: Mapping[str, str],
    links: list[str],
    now: datetime | None = None,
) -> Answer:
    """New content from a hub (content distribution, WebSub 7): checked, then ingested.

    ``headers`` are the request's (lower-case names); ``links`` its ``Link`` headers.
    """
    now = now or datetime.now(UTC)
    sub = store.subscription_by_key(key)
    if sub is None or sub.source_id is None or sub.state is SubscriptionState.UNSUBSCRIBING:
        return Answer(410, "This site no longer subscribes to that.")
    if sub.verified_at is None or sub.lease_expires is None:
        return Answer(403, "The subscription has not been confirmed.")
    problem = protocol.signature_problem(sub.secret, body, headers.get("x-hub-signature"))
    if problem is not None:
        return Answer(403, problem[:1].upper() + problem[1:] + ".")
    source = store.source(sub.source_id)
    if not source.enabled:  # paused by the curator: the subscription ends at the next pass
        return Answer(410, "This site no longer takes posts from that blog.")
    store.push_arrived(sub, now=now, push_until=protocol.push_until(sub.lease_expires, now))
    source = store.source(sub.source_id)
    hubs, self_link = parse_link_header(links, sub.topic)
    result = FetchResult(
        url=source.url,
        final_url=self_link or sub.topic,
        outcome=FetchOutcome.OK,
        status=200,
        body=body,
        content_type=headers.get("content-type"),
        hub_links=hubs or (sub.hub,),
        self_link=self_link or sub.topic,
    )
    ingest = Ingest(store, config)
    try:
        report = await ingest.ingest_result(source, result)
    finally:
        ingest.close()
    if report.error:
        return Answer(200, f"Received, but it could not be read: {report.error}.")
    return Answer(200, f"Received: {report.new} new, {report.updated} updated.")
