"""WebSub's background work, for the always-on service or ``townsquare websub run``.

    async with WebSub(store, config) as websub:
        await websub.run(stop)        # or: await websub.tick() / await websub.renew()

Each tick announces new posts and delivers what is due (our hub); when there
is nothing to do it only reads the store.  Every ``MAINTAIN_EVERY`` it looks
after our own subscriptions and forgets our hub's expired ones (``renew``).
All state is in the store, so several processes may run this at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from contextlib import suppress
from datetime import UTC, datetime
from types import TracebackType

from ..config import Config
from ..ingest.fetch import Fetcher
from ..store import Store
from .hub import Publisher, Round
from .subscriber import Maintenance, Subscriber

log = logging.getLogger(__name__)
MAINTAIN_EVERY = 60.0  # seconds between passes over our own subscriptions
TICK = 0.05  # seconds between looks at the store for new posts


class WebSub:
    def __init__(self, store: Store, config: Config, *, rng: random.Random | None = None) -> None:
        self.store = store
        self.config = config
        self.rng = rng
        self._fetcher = Fetcher(config)
        self._maintained = float("-inf")

    async def __aenter__(self) -> WebSub:
        await self._fetcher.__aenter__()
        self.publisher = Publisher(self.store, self.config, self._fetcher)
        self.subscriber = Subscriber(self.store, self.config, self._fetcher, rng=self.rng)
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._fetcher.__aexit__(t, e, tb)

    async def tick(self, now: datetime | None = None) -> Round:
        """Announce new posts and send what is due."""
        now = now or datetime.now(UTC)
        report = Round()
        await self.publisher.announce(now, report)
        await self.publisher.deliver(now, report)
        return report

    async def renew(self, now: datetime | None = None) -> Maintenance:
        """Look after our subscriptions (ask, renew, retry, end), and forget the expired
        ones at our hub."""
        self._maintained = time.monotonic()
        now = now or datetime.now(UTC)
        self.store.drop_expired_hub_subscriptions(now)
        return await self.subscriber.maintain(now)

    async def run(self, stop: asyncio.Event, *, every: float = TICK) -> None:
        """Tick until ``stop`` is set; a failing tick is logged and the next one tried."""
        while not stop.is_set():
            try:
                if time.monotonic() - self._maintained >= MAINTAIN_EVERY:
                    await self.renew()
                await self.tick()
            except Exception:
                log.exception("WebSub round failed")
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
