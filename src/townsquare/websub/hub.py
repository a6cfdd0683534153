"""Townsquare as the hub of its own feeds: WebSub's hub and publisher.

    request    a subscriber asks (POST /websub/hub): the form is checked at once
               and answered 202 Accepted
    verify     then we check with its callback (a GET with a challenge, through
               the guarded client); only an echoed challenge subscribes it
    announce   blogs with new posts (``feed_changes``, filled by a trigger) give
               the feeds that show them: the river, the blog's, its categories',
               each as Atom, RSS and JSON Feed; each subscriber of those feeds
               gets a delivery queued.  With another hub (``websub_hub`` set to
               its address) that hub is told instead (``hub.mode=publish``)
    deliver    each due delivery: the feed as it is now, signed with the
               subscriber's secret, POSTed; retried with backoff on failure,
               dropped after ``MAX_ATTEMPTS``, and the subscription dropped if
               the subscriber answers 410 Gone

Deliveries are claimed in the store, so any number of processes may deliver.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..config import Config
from ..errors import NotFoundError
from ..ingest.fetch import Fetcher
from ..publish.document import Document
from ..publish.feeds import hub_url, load_feed, render_feed
from ..publish.paths import FeedFormat, FeedScope, feed_at
from ..store import Store
from ..store.claims import new_owner
from ..store.websub import Delivery
from . import protocol
from .protocol import Answer

log = logging.getLogger(__name__)
DELIVERY_LEASE = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class HubRequest:
    """A subscriber's request, checked."""

    mode: str  # "subscribe" or "unsubscribe"
    topic: str
    callback: str
    secret: str | None
    lease_seconds: int


def feed_of(store: Store, config: Config, topic: str) -> tuple[FeedScope, FeedFormat] | None:
    """The feed of ours at ``topic``, if there is one."""
    if not topic.startswith(config.base_url):
        return None
    found = feed_at(topic[len(config.base_url) :])
    if found is None:
        return None
    scope = found[0]
    try:
        if scope.kind == "blog":
            store.source_by_slug(scope.slug)
        elif scope.kind == "category":
            store.category_by_slug(scope.slug)
    except NotFoundError:
        return None
    return found


def check_request(store: Store, config: Config, fields: Mapping[str, str]) -> HubRequest | Answer:
    """The request if our hub can take it, otherwise the answer saying why not."""
    mode = fields.get("hub.mode", "")
    if mode not in ("subscribe", "unsubscribe"):
        return Answer(400, "hub.mode must be subscribe or unsubscribe.")
    topic, callback = fields.get("hub.topic", ""), fields.get("hub.callback", "")
    if feed_of(store, config, topic) is None:
        return Answer(400, f"hub.topic must be one of this site's feeds, under {config.base_url}.")
    if not protocol.is_web_url(callback):
        return Answer(400, "hub.callback must be an http or https address.")
    secret = fields.get("hub.secret") or None
    if secret is not None and len(secret.encode("utf-8")) > protocol.MAX_SECRET:
        return Answer(400, f"hub.secret must be at most {protocol.MAX_SECRET} bytes.")
    seconds = protocol.hub_lease(fields.get("hub.lease_seconds"), config.websub_lease)
    return HubRequest(mode, topic, callback, secret, seconds)


async def verify(
    store: Store, config: Config, request: HubRequest, now: datetime | None = None
) -> bool:
    """Check the request with its callback; subscribe or unsubscribe it if confirmed."""
    challenge = protocol.new_challenge()
    params = {"hub.mode": request.mode, "hub.topic": request.topic, "hub.challenge": challenge}
    if request.mode == "subscribe":
        params["hub.lease_seconds"] = str(request.lease_seconds)
    async with Fetcher(config) as fetcher:
        reply = await fetcher.send("GET", protocol.with_query(request.callback, params), limit=400)
    if not (reply.ok and reply.body.strip() == challenge.encode("ascii")):
        log.info("not confirmed by %s: %s", request.callback, reply.describe())
        return False
    if request.mode == "subscribe":
        store.hub_subscribe(
            request.topic,
            request.callback,
            request.secret,
            lease_seconds=request.lease_seconds,
            now=now or datetime.now(UTC),
        )
    else:
        store.hub_unsubscribe(request.topic, request.callback)
    return True


def feeds_showing(store: Store, config: Config, source_ids: Iterable[int]) -> set[str]:
    """The addresses of every feed of ours that shows posts of these blogs."""
    sources = store.sources_by_ids(source_ids)
    if not sources:
        return set()
    slugs = {c.name: c.slug for c in store.categories()}
    scopes = {FeedScope.river()}
    for source in sources.values():
        scopes.add(FeedScope.blog(source.slug))
        scopes.update(FeedScope.category(slugs[n]) for n in source.categories if n in slugs)
    return {config.base_url + s.feed_path(f) for s in scopes for f in FeedFormat}


@dataclass(slots=True)
class Round:
    """What one round of announcing and delivering did."""

    changed: int = 0  # blogs with new posts
    queued: int = 0  # deliveries queued for our subscribers
    pinged: int = 0  # feeds another hub was told of
    delivered: int = 0
    failed: int = 0


class Publisher:
    """Announces new posts and delivers them; one per process, reused."""

    def __init__(self, store: Store, config: Config, fetcher: Fetcher) -> None:
        self.store = store
        self.config = config
        self.fetcher = fetcher
        self.owner = new_owner()

    async def announce(self, now: datetime, report: Round) -> None:
        changed = self.store.take_feed_changes()
        report.changed += len(changed)
        hub = hub_url(self.config)
        if not changed or hub is None:
            return
        topics = feeds_showing(self.store, self.config, changed)
        if self.config.websub_hub == "self":
            wanted = [s.id for s in self.store.hub_subscriptions(now) if s.topic in topics]
            self.store.queue_deliveries(wanted, now)
            report.queued += len(wanted)
            return
        for topic in sorted(topics):
            fields = {"hub.mode": "publish", "hub.topic": topic, "hub.url": topic}
            reply = await self.fetcher.send(
                "POST", hub, body=protocol.form(fields), headers={"Content-Type": protocol.FORM}
            )
            if reply.ok:
                report.pinged += 1
            else:
                log.warning("the hub %s was not told of %s: %s", hub, topic, reply.describe())

    async def deliver(self, now: datetime, report: Round) -> None:
        rendered: dict[str, Document | None] = {}
        while deliveries := self.store.claim_deliveries(self.owner, now, lease=DELIVERY_LEASE):
            for delivery in deliveries:
                topic = delivery.subscription.topic
                if topic not in rendered:
                    rendered[topic] = self._render(topic)
                await self._send(delivery, rendered[topic], now, report)

    def _render(self, topic: str) -> Document | None:
        found = feed_of(self.store, self.config, topic)
        if found is None:
            return None
        scope, fmt = found
        return render_feed(load_feed(self.store, self.config, scope), fmt)

    async def _send(
        self, delivery: Delivery, document: Document | None, now: datetime, report: Round
    ) -> None:
        sub = delivery.subscription
        if document is None:  # the blog or category is gone, and its feed with it
            self.store.drop_hub_subscription(sub.id)
            return
        headers = {"Content-Type": document.content_type}
        if document.link is not None:
            headers["Link"] = document.link
        if sub.secret is not None:
            headers["X-Hub-Signature"] = protocol.sign(sub.secret, document.body)
        reply = await self.fetcher.send(
            "POST", sub.callback, body=document.body, headers=headers, limit=2000
        )
        if reply.ok:
            self.store.delivered(delivery)
            report.delivered += 1
            return
        report.failed += 1
        if reply.status == 410:  # the subscriber wants no more
            self.store.drop_hub_subscription(sub.id)
            return
        wait = protocol.delivery_retry(delivery.attempts + 1)
        log.info("delivery to %s failed: %s", sub.callback, reply.describe())
        if wait is None:
            self.store.drop_delivery(delivery)
        else:
            self.store.delivery_failed(delivery, error=reply.describe(), retry_at=now + wait)
