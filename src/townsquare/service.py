"""The service: ``townsquare run`` serves the website and does everything on time.

    run ─┬─ the website (uvicorn): pages, /healthz, /metrics
         ├─ fetching: due blogs claimed and fetched as they come due (``Ingest.work``)
         ├─ WebSub: new posts pushed out, subscriptions renewed (``WebSub.run``, in a
         │  thread of its own, so the website never waits for it)
         └─ jobs: each feature's periodic job, run once across every process:
            the digests (daily at ``digest_time``), the health email (Mondays),
            pruning the fetch log (daily)

A feature adds a periodic job by adding a function to ``JOBS``: given the settings it
gives a ``Job`` (or None when the feature is switched off)::

    def _backup(store: Store, config: Config) -> str: ...

    def backup(config: Config) -> Job | None:
        return Job("backup", daily_at(time(3, 0)), _backup) if config.backup_dir else None

    JOBS = (..., backup)

A job's ``run`` is ordinary blocking code: it runs in a thread, with a database
connection of its own.  Which process runs each turn of a job is decided in the store
(a claim with a lease, like a blog's), so several ``run`` processes never run one turn
twice, and a turn left by a dead process is taken over once its lease ends.  A job
that fails is logged and tried again at its next time.

On SIGTERM (or Ctrl+C) the website stops taking requests and finishes those it has,
no new fetch or job starts, fetches under way get ``shutdown_grace`` seconds, and
every claim is let go.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import threading
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from types import FrameType
from typing import TypeVar

from . import metrics
from .config import Config
from .ingest.pipeline import Ingest
from .model import Frequency
from .store import Store
from .store.claims import new_owner
from .store.db import connect

log = logging.getLogger("townsquare.service")

NextRun = Callable[[datetime], datetime]  # the next run after a moment (aware, UTC)
JobRun = Callable[[Store, Config], object]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    next_run: NextRun
    run: JobRun
    lease: timedelta = timedelta(hours=1)  # a turn left longer than this is taken over


def every(interval: timedelta) -> NextRun:
    return lambda moment: moment + interval


def daily_at(at: time) -> NextRun:
    """Every day at ``at`` (UTC)."""

    def next_run(moment: datetime) -> datetime:
        moment = moment.astimezone(UTC)
        today = datetime.combine(moment.date(), at, UTC)
        return today if today > moment else today + timedelta(days=1)

    return next_run


def weekly_at(weekday: int, at: time) -> NextRun:
    """Every week on ``weekday`` (Monday is 0) at ``at`` (UTC)."""
    daily = daily_at(at)

    def next_run(moment: datetime) -> datetime:
        day = daily(moment)
        return day + timedelta(days=(weekday - day.weekday()) % 7)

    return next_run


# --- the features' jobs ------------------------------------------------------------------


def _prune(store: Store, config: Config) -> int:
    return store.prune_fetch_log(datetime.now(UTC) - timedelta(days=config.fetch_log_days))


def prune_fetch_log(config: Config) -> Job:
    return Job("prune fetch log", daily_at(time(4, 0)), _prune)


def _digests(store: Store, config: Config) -> dict[str, int]:
    from .notify.digest import send_digests

    sent = {}
    for frequency in Frequency:
        report = send_digests(store, config, frequency)
        metrics.digests_sent.inc(report.sent)
        sent[frequency.value] = report.sent
    return sent


def digests(config: Config) -> Job | None:
    """Today's daily digests and this week's weekly ones, as ``townsquare digest send``."""
    return Job("digests", daily_at(config.digest_time), _digests) if config.smtp_host else None


def _health_email(store: Store, config: Config) -> str:
    from .curation.health_email import compose
    from .curation.mail import message, send

    email = compose(store, config, datetime.now(UTC))
    send(config, message(config, config.curator_address, email.subject, email.body))
    return email.subject


def health_email(config: Config) -> Job | None:
    """The curator's weekly health email, as ``townsquare health-email``."""
    if not (config.smtp_host and config.curator_address):
        return None
    return Job("health email", weekly_at(0, time(8, 0)), _health_email)


JOBS: tuple[Callable[[Config], Job | None], ...] = (prune_fetch_log, digests, health_email)


def jobs_for(config: Config) -> list[Job]:
    return [job for make in JOBS if (job := make(config)) is not None]


# --- running -----------------------------------------------------------------------------


class Scheduler:
    """Runs each job when its time comes, if this process wins the claim."""

    def __init__(self, config: Config, store: Store, jobs: Sequence[Job], *, tick: float) -> None:
        self.config = config
        self.store = store
        self.jobs = list(jobs)
        self.tick = tick
        self.owner = new_owner()

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                for job in self.jobs:
                    if stop.is_set():
                        break
                    await self.run_if_due(job)
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.tick)
        finally:
            await asyncio.to_thread(self.store.release_jobs, self.owner)

    async def run_if_due(self, job: Job) -> bool:
        now = datetime.now(UTC)
        due = await asyncio.to_thread(
            self.store.claim_job,
            job.name,
            self.owner,
            now,
            lease=job.lease,
            first_run=job.next_run(now),
        )
        if due is None:
            return False
        error = None
        began = asyncio.get_running_loop().time()
        try:
            outcome = await asyncio.to_thread(self._run, job)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.exception("job", extra={"fields": {"job": job.name, "outcome": "error"}})
            metrics.jobs_run.labels(job.name, "error").inc()
        else:
            took = round((asyncio.get_running_loop().time() - began) * 1000)
            fields = {"job": job.name, "outcome": "ok", "ms": took, "result": outcome}
            log.info("job", extra={"fields": fields})
            metrics.jobs_run.labels(job.name, "ok").inc()
        finished = datetime.now(UTC)
        await asyncio.to_thread(
            self.store.finish_job,
            job.name,
            self.owner,
            finished,
            next_run=job.next_run(finished),
            error=error,
        )
        return True

    def _run(self, job: Job) -> object:
        with Store(connect(self.config.db, migrate=False)) as store:
            return job.run(store, self.config)


def run_websub(config: Config, stop: threading.Event) -> None:
    """WebSub's loop (pushing new posts out, renewing subscriptions) until ``stop``, on
    an event loop and a database connection of its own: meant for a thread."""
    from .websub import WebSub

    async def main() -> None:
        stopping = asyncio.Event()

        async def watch() -> None:
            while not stop.is_set():
                await asyncio.sleep(0.1)
            stopping.set()

        with Store(connect(config.db, migrate=False)) as store:
            async with WebSub(store, config) as websub:
                await asyncio.gather(websub.run(stopping), watch())

    asyncio.run(main())


@dataclass(frozen=True, slots=True)
class Pace:
    batch: int = 50  # blogs claimed at a time
    idle: float = 5.0  # seconds between looks for due blogs when none is due
    tick: float = 5.0  # seconds between looks for due jobs


async def run_service(
    config: Config, web_store: Store, sock: socket.socket, *, pace: Pace = Pace()
) -> int:
    """Serve the website on ``sock`` and run the fetching, WebSub and the jobs until
    stopped; gives how many blogs were fetched."""
    from .web import create_app
    from .web.serve import server

    stop = asyncio.Event()
    stop_websub = threading.Event()
    loop = asyncio.get_running_loop()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(stop.set)

    # uvicorn takes these signals while it serves and hands them on to these handlers
    # when it has stopped; either way, everything stops together.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)

    web = server(create_app(config, web_store), configure_logging=False)
    work_store = Store(connect(config.db, migrate=False))
    ingest = Ingest(work_store, config)
    scheduler = Scheduler(config, work_store, jobs_for(config), tick=pace.tick)

    async def watch() -> None:
        while not (stop.is_set() or web.should_exit):
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)
        stop.set()
        stop_websub.set()
        web.should_exit = True

    async def part(work: Awaitable[T]) -> T:
        try:
            return await work
        finally:
            stop.set()  # when one part ends, for whatever reason, the others stop too
            stop_websub.set()
            web.should_exit = True

    log.info("started", extra={"fields": {"jobs": [j.name for j in scheduler.jobs]}})
    try:
        results = await asyncio.gather(
            part(web.serve(sockets=[sock])),
            part(ingest.work(stop, batch=pace.batch, idle=pace.idle, once=False)),
            part(asyncio.to_thread(run_websub, config, stop_websub)),
            part(scheduler.run(stop)),
            watch(),
        )
    finally:
        ingest.close()
        work_store.close()
    fetched: int = results[1]
    log.info("stopped", extra={"fields": {"fetched": fetched}})
    return fetched
