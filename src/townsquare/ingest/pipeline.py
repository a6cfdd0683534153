"""The ingest pipeline, the one path every post takes:

    due | fetch | parse | clean | store

- **due**: the store picks the enabled sources whose time has come.
- **fetch**: ``Fetcher`` brings a ``FetchResult`` (many at once, politely).
- **parse**: ``parse_feed`` turns the body into a ``ParsedFeed``.
- **clean**: ``clean_feed`` turns its entries into ``CleanPost`` values.
- **store**: ``Store.save_fetch`` writes the posts, the source's new state
  (decided by ``schedule.decide``) and a log line in one transaction.

At most ``fetch_per_host`` fetches go to one host at once and at most
``fetch_concurrency`` sources are fetched, parsed or stored at once; a source
queues for its host before it takes a slot, so a slow or hostile host delays
only its own feeds, and memory is bounded by the slots, not by the pass.

Parsing and cleaning are CPU work and run in a small thread pool; the store
is written by one writer thread, so SQLite has one writer and a big write
(a feed of 10,000 posts takes a second) never stalls the fetches in flight.
``ingest_result`` is the same path for a body that arrived another way (a
WebSub push, the demo, a test).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from ..config import Config
from ..errors import ParseError
from ..model import CleanPost, FetchOutcome, FetchResult, SaveCounts, Source
from ..store import FetchLogEntry, Store
from .clean import clean_feed, feed_site
from .fetch import Fetcher
from .parse import parse_feed
from .schedule import decide

Progress = Callable[[int, int], None]
log = logging.getLogger(__name__)
FAULT = (
    "Townsquare could not read this feed because of a fault in Townsquare itself ({kind}); "
    "please report it, with the feed's address"
)


@dataclass(frozen=True, slots=True)
class SourceReport:
    source_id: int
    title: str
    url: str
    outcome: str  # "ok", "not_modified", "error", "gone", "retry_later"
    new: int
    updated: int
    unchanged: int
    error: str | None


@dataclass(slots=True)
class PassReport:
    sources: list[SourceReport] = field(default_factory=list)
    seconds: float = 0.0

    def _sum(self, name: str) -> int:
        return sum(int(getattr(r, name)) for r in self.sources)

    @property
    def new(self) -> int:
        return self._sum("new")

    @property
    def updated(self) -> int:
        return self._sum("updated")

    @property
    def unchanged(self) -> int:
        return self._sum("unchanged")

    @property
    def failed(self) -> int:
        return sum(1 for r in self.sources if r.error is not None)


def _host(url: str) -> str:
    try:
        return urlsplit(url).netloc.lower()
    except ValueError:
        return url


def parse_and_clean(
    result: FetchResult, now: datetime
) -> tuple[list[CleanPost], str | None, str | None]:
    """parse | clean for one body: (posts, site URL, parse error)."""
    try:
        feed = parse_feed(result.body, result.final_url, result.content_type)
        return clean_feed(feed, now), feed_site(feed, result.final_url), None
    except ParseError as exc:
        return [], None, str(exc)
    except Exception as exc:  # a fault of ours must cost one feed, never the whole pass
        log.warning("fault while reading %s: %s: %s", result.final_url, type(exc).__name__, exc)
        return [], None, FAULT.format(kind=type(exc).__name__)


class Ingest:
    """One object per run: a fetcher, a worker pool and the store."""

    def __init__(self, store: Store, config: Config, *, rng: random.Random | None = None) -> None:
        self.store = store
        self.config = config
        self.rng = rng or random.Random()
        self._pool: Executor = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 2))
        self._writer: Executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="writer")

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._writer.shutdown(wait=True)

    async def run_pass(
        self,
        *,
        source_ids: Iterable[int] | None = None,
        force: bool = False,
        progress: Progress | None = None,
    ) -> PassReport:
        """One pass over the due sources (every enabled one with ``force``)."""
        started = time.monotonic()
        now = datetime.now(UTC)
        due = self.store.due_sources(now, ids=source_ids, force=force)
        report = PassReport()
        done = 0
        if progress:
            progress(0, len(due))
        slots = asyncio.Semaphore(max(1, self.config.fetch_concurrency))
        per_host = max(1, self.config.fetch_per_host)
        hosts: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(per_host)
        )
        async with Fetcher(self.config) as fetcher:

            async def one(source: Source) -> None:
                nonlocal done
                # A source waits for its host first, then for a slot: a slow host's queue
                # never holds slots other hosts could use, and each fetch's deadline starts
                # when it is actually sent, not while it waits its turn.  The host is free
                # again once the fetch is done; the slot only once the body is parsed and
                # stored, so at most fetch_concurrency bodies are ever held in memory.
                async with hosts[_host(source.url)]:
                    await slots.acquire()
                    try:
                        began = time.monotonic()
                        result = await fetcher.fetch(
                            source.url, etag=source.etag, last_modified=source.last_modified
                        )
                    except BaseException:  # cancelled
                        slots.release()
                        raise
                try:
                    took = int((time.monotonic() - began) * 1000)
                    report.sources.append(
                        await self.ingest_result(source, result, duration_ms=took)
                    )
                finally:
                    slots.release()
                done += 1
                if progress:
                    progress(done, len(due))

            await asyncio.gather(*(one(s) for s in due))
        report.seconds = time.monotonic() - started
        return report

    async def ingest_result(
        self, source: Source, result: FetchResult, *, duration_ms: int = 0
    ) -> SourceReport:
        """parse | clean | store for one fetched (or pushed) body."""
        now = datetime.now(UTC)
        loop = asyncio.get_running_loop()
        posts: list[CleanPost] = []
        site_url = parse_error = None
        if result.outcome is FetchOutcome.OK:
            posts, site_url, parse_error = await loop.run_in_executor(
                self._pool, parse_and_clean, result, now
            )
        state = decide(
            source,
            result,
            now=now,
            interval=timedelta(seconds=self.config.poll_interval),
            rng=self.rng,
            parse_error=parse_error,
            site_url=site_url,
        )
        error = state.last_error
        log = FetchLogEntry(
            fetched_at=now,
            outcome=result.outcome.value if parse_error is None else "error",
            http_status=result.status,
            error=error,
            duration_ms=duration_ms,
        )
        counts: SaveCounts = await loop.run_in_executor(
            self._writer, self.store.save_fetch, source, state, posts, log
        )
        return SourceReport(
            source_id=source.id,
            title=source.title,
            url=source.url,
            outcome=log.outcome,
            new=counts.new,
            updated=counts.updated,
            unchanged=counts.unchanged,
            error=error,
        )
