"""The ingest pipeline, the one path every post takes:

    due | fetch | parse | clean | extract | filter | store

- **due**: the store hands out the enabled sources whose time has come, as
  claims with a lease, so several workers never fetch one source at once.
- **fetch**: ``Fetcher`` brings a ``FetchResult`` (many at once, politely).
- **parse**: ``parse_feed`` turns the body into a ``ParsedFeed``.
- **clean**: ``clean_feed`` turns its entries into ``CleanPost`` values.
- **extract**: for blogs set to it, the whole article is fetched from each
  new or changed post's page and cleaned the same way (``extract``).
- **filter**: the blog's rules mark the posts the site leaves out
  (``filter``); they are stored, hidden, with the reason.
- **store**: ``Store.save_fetch`` writes the posts, the source's new state
  (decided by ``schedule.decide``) and a log line in one transaction.

At most ``fetch_per_host`` fetches go to one host at once and at most
``fetch_concurrency`` sources are fetched or parsed at once; a source queues
for its host before it takes a slot, so a slow or hostile host delays only its
own feeds.  A parsed source gives its slot to the next and waits for the
writer, with at most an eighth as many others as there are slots (each holds
its posts in memory), so the writer's pauses (a batch for the search index) do
not stop fetching and parsing.
Sources start as others finish (``_Turns``), twice as many as there are slots
under way at once, so memory is bounded by the slots, not by the pass.

Parsing and cleaning are CPU work: they run in a thread for small passes and
in child processes of our own (``ParsingProcesses``, one per core, at a lower
priority than this process) for large ones.  The store is written by one writer
thread (``Writer``), so SQLite has one writer and the event loop keeps fetching
while it writes.  Each source is stored whole or not at all; sources that finish
while the writer is busy are stored together, in one transaction, so a large
pass does not pay for a commit per source.
``ingest_result`` is the same path for a body that arrived another way (a
WebSub push, the demo, a test).

Each fetch is one log record (``townsquare.fetch``: outcome, status, duration, posts)
and moves the process's metrics (``townsquare.metrics``).  ``work`` is the scheduled
loop of ``townsquare run`` and ``townsquare worker``: it spaces fetches to one host
(``schedule.pace_by_host``) and, when stopped, lets fetches under way finish for a
grace period, then abandons them; each source is stored in one transaction, so an
abandoned one is simply fetched again later.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from .. import metrics
from ..config import Config
from ..model import CleanPost, FetchOutcome, FetchResult, PostFilter, SaveCounts, Source
from ..store import FetchLogEntry, FetchSave, Store
from ..store.claims import new_owner
from .extract import MAX_PAGES, article_html, is_article_page, with_article
from .fetch import Fetcher
from .filter import filter_posts
from .processes import ParsingProcesses
from .read import Cleaned, body_hash, parse_and_clean
from .schedule import decide, pace_by_host

Progress = Callable[[int, int], None]
logger = logging.getLogger("townsquare.fetch")

PROCESSES_FROM = 16  # sources in a pass before parsing moves to worker processes
STORE_QUEUE = 8  # fetch slots for each parsed source that may wait for the writer
WINDOW = 2  # sources under way (queued for a slot, fetched, parsed or stored) per fetch slot
PASS_LEASE = timedelta(hours=1)  # a one-off pass claims every due source at once
MAX_CLAIM = 1_000_000


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


class Ingest:
    """One object per run: a fetcher, a worker pool and the store."""

    def __init__(self, store: Store, config: Config, *, rng: random.Random | None = None) -> None:
        self.store = store
        self.config = config
        self.rng = rng or random.Random()
        self._threads = ThreadPoolExecutor(max_workers=2)
        self._writer = Writer(store)
        self._pool: Executor = self._threads
        self._processes: ParsingProcesses | None = None
        self._host_free: dict[str, float] = {}  # host -> earliest next start (monotonic)

    def close(self) -> None:
        self._threads.shutdown(wait=True)
        if self._processes is not None:  # told first, they end while the writer finishes
            self._processes.shutdown(wait=False, cancel_futures=True)
        self._writer.close()
        if self._processes is not None:
            self._processes.shutdown(wait=True)

    def _use_processes(self, sources: int) -> None:
        """Large passes parse and clean on every core, in worker processes."""
        # One per core, each below this process in priority: fetching and writing the store
        # come first, on any core, and parsing has what they leave (on 2 cores, an eighth
        # faster than one parsing process at the same priority as this one).
        cores = os.cpu_count() or 1
        if sources < PROCESSES_FROM or cores < 2:
            return
        if self._processes is None:
            self._processes = ParsingProcesses(cores)
        self._pool = self._processes

    async def run_pass(
        self,
        *,
        source_ids: Iterable[int] | None = None,
        force: bool = False,
        progress: Progress | None = None,
    ) -> PassReport:
        """One pass over the due sources (every enabled one with ``force``)."""
        owner = new_owner()
        due = self.store.claim_due(
            owner, datetime.now(UTC), lease=PASS_LEASE, limit=MAX_CLAIM, ids=source_ids, force=force
        )
        try:
            return await self.run_sources(due, progress=progress)
        finally:
            self.store.release_claims(owner)

    async def work(self, stop: asyncio.Event, *, batch: int, idle: float, once: bool) -> int:
        """A worker: claim due sources a batch at a time until stopped; gives the count.

        With ``once`` it stops when no source is due any more, waiting for
        sources other workers hold (a dead worker's claims run out).  When ``stop``
        is set, fetches under way get ``shutdown_grace`` seconds to finish; the rest
        are abandoned and their claims let go.
        """
        owner = new_owner()
        lease = timedelta(seconds=self.config.claim_lease)
        fetched = 0
        try:
            while not stop.is_set():
                due = await asyncio.to_thread(
                    self.store.claim_due, owner, datetime.now(UTC), lease=lease, limit=batch
                )
                if due:
                    fetched += await self._work_batch(due, stop)
                    continue
                if once and await asyncio.to_thread(self.store.count_due, datetime.now(UTC)) == 0:
                    break  # due sources still claimed by others are waited for
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), min(idle, 1.0) if once else idle)
        finally:
            await asyncio.to_thread(self.store.release_claims, owner)
        return fetched

    async def _work_batch(self, due: Sequence[Source], stop: asyncio.Event) -> int:
        now = time.monotonic()
        delays, self._host_free = pace_by_host(
            [s.url for s in due], gap=self.config.fetch_host_gap, now=now, free_at=self._host_free
        )
        report = PassReport()
        batch = asyncio.ensure_future(
            self.run_sources(due, delays=delays, stop=stop, report=report)
        )
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({batch, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not batch.done():  # stopping: fetches under way may finish, for a while
                await asyncio.wait({batch}, timeout=self.config.shutdown_grace)
        finally:
            stopping.cancel()
            if not batch.done():
                logger.info("abandoned", extra={"fields": {"sources": len(due)}})
                batch.cancel()
        await asyncio.wait({batch})
        if not batch.cancelled():
            batch.result()  # a fault of ours is raised here, not lost
        return len(report.sources)

    async def run_sources(
        self,
        due: Sequence[Source],
        *,
        progress: Progress | None = None,
        delays: Sequence[float] | None = None,
        stop: asyncio.Event | None = None,
        report: PassReport | None = None,
    ) -> PassReport:
        """fetch | parse | clean | store for sources already claimed.

        ``delays`` holds how long each source waits before its fetch may start;
        once ``stop`` is set, no more fetches start.  Sources are added to ``report``
        as they are stored.
        """
        started = time.monotonic()
        if report is None:
            report = PassReport()
        done = 0
        if progress:
            progress(0, len(due))
        self._use_processes(len(due))
        # One slot per source from fetch to parsed: bodies waiting for a CPU count too,
        # so memory stays flat however many sources are due.
        limit = asyncio.Semaphore(max(1, self.config.fetch_concurrency))
        storing = asyncio.Semaphore(max(1, self.config.fetch_concurrency // STORE_QUEUE))
        window = max(1, self.config.fetch_concurrency) * WINDOW
        turns = _Turns(due, delays, per_host=max(1, self.config.fetch_per_host))
        wake = asyncio.Event()
        rules = self.store.filters_for(s.id for s in due)
        async with Fetcher(self.config) as fetcher:

            async def one(host: str, source: Source, start_at: float) -> None:
                nonlocal done
                fetching = True

                def host_free() -> None:  # its host's next source may start
                    nonlocal fetching
                    if fetching:
                        fetching = False
                        turns.fetched(host)
                        wake.set()

                try:
                    if start_at > time.monotonic():
                        await asyncio.sleep(start_at - time.monotonic())
                    await limit.acquire()
                    try:
                        if stop is not None and stop.is_set():
                            limit.release()
                            return
                        began = time.monotonic()
                        fetched = [
                            await fetcher.fetch(
                                source.url, etag=source.etag, last_modified=source.last_modified
                            )
                        ]
                    except BaseException:  # cancelled
                        limit.release()
                        raise
                finally:
                    host_free()
                held = True  # the slot, until the body is parsed; then a place to be stored

                async def parsed() -> None:
                    nonlocal held
                    await storing.acquire()
                    limit.release()
                    held = False

                try:
                    took = time.monotonic() - began
                    status = fetched[0].status
                    # Handed over, not kept here, so the body is freed once it is parsed.
                    outcome = await self.ingest_result(
                        source, fetched.pop(), duration_ms=int(took * 1000), fetcher=fetcher,
                        rules=rules.get(source.id, []), parsed=parsed,
                    )  # fmt: skip
                finally:
                    if held:
                        limit.release()
                    else:
                        storing.release()
                _record(outcome, status, took)
                report.sources.append(outcome)
                done += 1
                if progress:
                    progress(done, len(due))

            running: set[asyncio.Task[None]] = set()
            try:
                while True:
                    while len(running) < window and not (stop is not None and stop.is_set()):
                        turn = turns.next()
                        if turn is None:
                            break
                        task = asyncio.ensure_future(one(*turn))
                        task.add_done_callback(lambda _: wake.set())
                        running.add(task)
                    if not running:
                        break
                    await wake.wait()
                    wake.clear()
                    for task in [t for t in running if t.done()]:
                        running.discard(task)
                        task.result()  # a fault of ours is raised here, not lost
            finally:
                for task in running:
                    task.cancel()
                if running:
                    await asyncio.wait(running)
        report.seconds = time.monotonic() - started
        return report

    async def ingest_result(
        self,
        source: Source,
        result: FetchResult,
        *,
        duration_ms: int = 0,
        fetcher: Fetcher | None = None,
        rules: list[PostFilter] | None = None,
        parsed: Callable[[], Awaitable[None]] | None = None,
    ) -> SourceReport:
        """parse | clean | extract | filter | store for one fetched (or pushed) body.

        ``rules`` are the blog's filters (read from the store when not given);
        ``fetcher`` fetches articles' pages (a new one is opened when needed);
        ``parsed`` is awaited when all that is left is to store the posts.
        """
        now = datetime.now(UTC)
        cleaned = Cleaned([])
        loop = asyncio.get_running_loop()
        digest = None
        if result.outcome is FetchOutcome.OK:
            digest = body_hash(result)
            if digest == source.body_hash:  # sent again whole, as last time: as good as a 304
                result = replace(result, outcome=FetchOutcome.NOT_MODIFIED)
            else:
                cleaned = await loop.run_in_executor(self._pool, parse_and_clean, result, now)
            result = replace(result, body=b"")  # read: the rest needs only its headers
        posts, parse_error = cleaned.posts, cleaned.error
        if posts and source.extract_full:
            if fetcher is None:
                async with Fetcher(self.config) as own:
                    posts = await self._extract(own, source, posts)
            else:
                posts = await self._extract(fetcher, source, posts)
        if posts:
            if rules is None:
                rules = self.store.filters_of(source.id)
            if rules:
                posts = await loop.run_in_executor(self._threads, filter_posts, posts, rules)
        state = decide(
            source,
            result,
            now=now,
            interval=timedelta(seconds=self.config.poll_interval),
            rng=self.rng,
            parse_error=parse_error,
            site_url=cleaned.site_url,
            hub=cleaned.hub,
            body_hash=digest,
            published=(
                [p.published for p in cleaned.posts] if result.outcome is FetchOutcome.OK else None
            ),
        )
        error = state.last_error
        log = FetchLogEntry(
            fetched_at=now,
            outcome=result.outcome.value if parse_error is None else "error",
            http_status=result.status,
            error=error,
            duration_ms=duration_ms,
        )
        if parsed is not None:
            await parsed()
        counts = await asyncio.wrap_future(self._writer.save((source, state, posts, log)))
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

    async def _extract(
        self, fetcher: Fetcher, source: Source, posts: list[CleanPost]
    ) -> list[CleanPost]:
        """Each new or changed post with its whole article, from its own page."""
        known = self.store.known_hashes(source.id, [p.content_hash for p in posts])
        wanted = [i for i, p in enumerate(posts) if p.link and p.content_hash not in known]
        loop = asyncio.get_running_loop()

        async def one(post: CleanPost) -> CleanPost:
            assert post.link is not None
            page = await fetcher.fetch(post.link)
            if not is_article_page(page):
                return post
            html = await loop.run_in_executor(
                self._threads, article_html, page.body, page.final_url
            )
            return with_article(post, html) if html else post

        out = list(posts)
        chosen = wanted[:MAX_PAGES]
        for i, extracted in zip(
            chosen, await asyncio.gather(*(one(posts[i]) for i in chosen)), strict=True
        ):
            out[i] = extracted
        return out


class _Turns:
    """Which due source starts next.  Hosts take turns; a host with ``per_host`` sources
    started but not yet fetched waits, so a slow or hostile host delays only its own
    feeds.  Sources are started as others finish (``run_sources`` keeps ``WINDOW`` times
    ``fetch_concurrency`` under way), so a pass of any size holds the state of that many
    sources, not of every one."""

    def __init__(
        self, due: Sequence[Source], delays: Sequence[float] | None, *, per_host: int
    ) -> None:
        now = time.monotonic()
        self._queued: dict[str, deque[tuple[Source, float]]] = {}
        for source, delay in zip(due, delays or [0.0] * len(due), strict=True):
            self._queued.setdefault(_host(source.url), deque()).append((source, now + delay))
        self._turn = deque(self._queued)
        self._fetching: Counter[str] = Counter()
        self._per_host = per_host

    def next(self) -> tuple[str, Source, float] | None:
        """The next source to start, its host and when it may be fetched; None when
        every source has started or every host with sources left is busy."""
        for _ in range(len(self._turn)):
            host = self._turn.popleft()
            if self._fetching[host] >= self._per_host:
                self._turn.append(host)
                continue
            waiting = self._queued[host]
            source, start_at = waiting.popleft()
            if waiting:
                self._turn.append(host)
            else:
                del self._queued[host]
            self._fetching[host] += 1
            return host, source, start_at
        return None

    def fetched(self, host: str) -> None:
        self._fetching[host] -= 1


class Writer:
    """The one writer: every store write of a pass runs on its thread, in order.

    What arrives while it is writing waits, and the next transaction takes all of
    it (at most ``GROUP`` sources): each source in a savepoint of its own, all under
    one commit.  When the writer keeps up, each source is its own transaction.

    The posts it stores wait for the search index (``store.index_pending``) until
    their texts come to ``INDEX_BATCH`` bytes, nothing has come to be stored for
    ``INDEX_AFTER`` seconds, or the writer closes: one large batch, sorted, costs
    FTS5 far less than many small ones.
    """

    GROUP = 200
    INDEX_BATCH = 4_000_000
    INDEX_AFTER = 1.0

    def __init__(self, store: Store) -> None:
        self.store = store
        self._queue: queue.SimpleQueue[tuple[FetchSave, Future[SaveCounts]] | None] = (
            queue.SimpleQueue()
        )
        # post id -> content hash and text, of the posts waiting for the search index
        self._later: dict[int, tuple[str, bytes]] = {}
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()

    def save(self, save: FetchSave) -> Future[SaveCounts]:
        done: Future[SaveCounts] = Future()
        self._queue.put((save, done))
        return done

    def close(self) -> None:
        """Write what is waiting, then stop."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        with self.store.db.bulk_writes():
            self._loop()
            self._index()

    def _loop(self) -> None:
        stopping = False
        while not stopping:
            try:
                first = self._queue.get(timeout=self.INDEX_AFTER if self._later else None)
            except queue.Empty:
                self._index()
                continue
            if first is None:
                return
            group = [first]
            while len(group) < self.GROUP:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                group.append(more)
            self._write(group)
            if sum(len(text) for _, text in self._later.values()) >= self.INDEX_BATCH:
                self._index()

    def _write(self, group: list[tuple[FetchSave, Future[SaveCounts]]]) -> None:
        try:
            results = self.store.save_fetches([save for save, _ in group], later=self._later)
        except BaseException as exc:  # the transaction failed: every source in it did
            for _, done in group:
                done.set_exception(exc)
            return
        for (_, done), result in zip(group, results, strict=True):
            if isinstance(result, Exception):
                done.set_exception(result)
            else:
                done.set_result(result)

    def _index(self) -> None:
        """Index the posts waiting for the search index.  Should that fail, they wait in
        the store, and are indexed when it is next opened."""
        try:
            self.store.index_pending(self._later)
        except Exception as exc:  # the disk full, say: what is stored stays stored
            logger.warning("search index not written", extra={"fields": {"error": str(exc)}})
        finally:
            self._later.clear()


def _record(report: SourceReport, status: int | None, seconds: float) -> None:
    """One fetch: its log record and the process's metrics."""
    metrics.fetches.labels(report.outcome).inc()
    metrics.fetch_seconds.observe(seconds)
    metrics.posts_ingested.labels("new").inc(report.new)
    metrics.posts_ingested.labels("updated").inc(report.updated)
    fields = {
        "source": report.source_id,
        "url": report.url,
        "outcome": report.outcome,
        "status": status,
        "ms": round(seconds * 1000),
        "new": report.new,
        "updated": report.updated,
        "error": report.error,
    }
    logger.info("fetch", extra={"fields": fields})
