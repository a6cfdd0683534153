"""The service, ``townsquare run``: it serves the site, fetches each blog when it is due,
runs the periodic jobs, reports its health and metrics, and stops cleanly on SIGTERM.

The service runs as a real process against a real feed server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from urllib.parse import urlsplit

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import FeedServer, Request, Response
from helpers import Item, rss, run_pass
from mail_helpers import Item as MailItem
from mail_helpers import add_blog, fetch_all, subscriber
from smtp_sink import SMTPServer
from townsquare.config import Config
from townsquare.metrics import PROCESS, exposition
from townsquare.service import (
    Job,
    Scheduler,
    daily_at,
    every,
    jobs_for,
    prune_fetch_log,
    weekly_at,
)
from townsquare.store import Store, open_store
from web.conftest import LiveSite

POSTS = 3


def feed(n: int) -> bytes:
    now = datetime.now(UTC)
    items = [
        Item(
            f"Post {i} of blog {n}",
            link=f"https://b{n}.example/{i}",
            guid=f"b{n}-{i}",
            date=(now - timedelta(days=i)).strftime("%a, %d %b %Y %H:%M:%S GMT"),
        )
        for i in range(POSTS)
    ]
    return rss(items, title=f"Blog {n}").encode()


class Service:
    """``townsquare run`` in a process of its own; its JSON log lines are collected."""

    def __init__(self, db: str, **settings: str) -> None:
        env = {
            **os.environ,
            "TOWNSQUARE_ALLOW_NETWORKS": "127.0.0.1/32",
            "TOWNSQUARE_DB": db,
            **{f"TOWNSQUARE_{k.upper()}": v for k, v in settings.items()},
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "townsquare", "run", "--port", "0", "--idle", "0.2"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        first = self.proc.stdout.readline()
        assert " is at http://127.0.0.1:" in first, first + self.proc.stderr.read()
        self.url = first.split(" is at ")[1].split()[0]
        self.logs: list[dict[str, object]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.logs.append(json.loads(line))  # every line is one JSON object

    def get(self, path: str) -> tuple[int, str]:
        parts = urlsplit(self.url)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        try:
            conn.request("GET", path)
            answer = conn.getresponse()
            return answer.status, answer.read().decode()
        finally:
            conn.close()

    def events(self, name: str) -> list[dict[str, object]]:
        return [e for e in self.logs if e["event"] == name]

    def stop(self, timeout: float = 30) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout)
        assert self.proc.stdout is not None
        out = self.proc.stdout.read()  # a line or two: it cannot have filled the pipe
        self._reader.join(5)
        self.close()
        return self.proc.returncode, out

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def service(db_path: str) -> Iterator[Callable[..., Service]]:
    started: list[Service] = []

    def start(**settings: str) -> Service:
        started.append(Service(db_path, **settings))
        return started[-1]

    yield start
    for s in started:
        s.close()


def wait_for(check: Callable[[], object], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


# --- serving and fetching on schedule ----------------------------------------------------


def test_run_serves_the_site_and_fetches_each_blog_when_it_is_due(
    server: FeedServer, store: Store, service: Callable[..., Service]
) -> None:
    now = datetime.now(UTC)
    first = store.add_source(server.feed("/now.rss", feed(1)), "Blog one", now=now)
    later = store.add_source(server.feed("/later.rss", feed(2)), "Blog two", now=now)
    due = (now + timedelta(seconds=3)).replace(microsecond=0)  # stored to the second
    store.update_source(later.id, next_due_at=due)

    site = service()
    wait_for(lambda: "Post 0 of blog 1" in site.get("/")[1])
    assert server.hits("/later.rss") == [], "not due yet, so not fetched"
    wait_for(lambda: "Post 0 of blog 2" in site.get("/")[1])
    assert datetime.now(UTC) >= due
    assert len(server.hits("/now.rss")) == len(server.hits("/later.rss")) == 1

    for source in (store.source(first.id), store.source(later.id)):
        assert source.activity_posts == POSTS
        assert source.next_due_at is not None and source.last_fetched_at is not None
        # Three posts a day apart: fetched about every (2 days / 3) / 4 = 4 hours.
        wait = source.next_due_at - source.last_fetched_at
        assert timedelta(hours=3.5) <= wait <= timedelta(hours=4.5)

    wait_for(lambda: len(site.events("fetch")) == 2)
    fetches = {e["url"]: e for e in site.events("fetch")}
    assert fetches[first.url]["outcome"] == "ok" and fetches[first.url]["new"] == POSTS
    assert isinstance(fetches[later.url]["ms"], int) and fetches[later.url]["status"] == 200

    code, out = site.stop()
    assert code == 0
    assert out.endswith("Stopped after fetching 2 blogs\n")
    assert site.events("stopped") == [{**site.events("stopped")[0], "fetched": 2}]


def test_healthz_and_metrics(
    server: FeedServer, store: Store, service: Callable[..., Service]
) -> None:
    now = datetime.now(UTC)
    store.add_source(server.feed("/a.rss", feed(1)), "Blog A", now=now)
    store.add_source(server.respond("/b.rss", Response(500, b"oops")), "Blog B", now=now)
    waiting = store.add_source(server.feed("/c.rss", feed(3)), "Blog C", now=now)
    store.update_source(waiting.id, next_due_at=now + timedelta(hours=1))
    site = service()
    wait_for(lambda: len(site.events("fetch")) == 2)

    assert site.get("/healthz") == (200, "ok\n")
    status, text = site.get("/metrics")
    assert status == 200
    found = metrics(text)
    assert found[("townsquare_fetches_total", (("outcome", "ok"),))] == 1
    assert found[("townsquare_fetches_total", (("outcome", "error"),))] == 1
    assert found[("townsquare_fetch_seconds_count", ())] == 2
    assert found[("townsquare_posts_ingested_total", (("kind", "new"),))] == POSTS
    assert found[("townsquare_sources", (("status", "ok"),))] == 1
    assert found[("townsquare_sources", (("status", "error"),))] == 1
    assert found[("townsquare_sources", (("status", "new"),))] == 1
    assert found[("townsquare_sources_due", ())] == 0
    assert found[("townsquare_sources_overdue", ())] == 0
    assert found[("process_resident_memory_bytes", ())] > 10_000_000
    assert site.stop()[0] == 0


def test_due_and_overdue_blogs_are_counted(store: Store, config: Config) -> None:
    now = datetime.now(UTC)
    for n, due in enumerate((now - timedelta(hours=2), now - timedelta(minutes=1), now)):
        source = store.add_source(f"https://b{n}.example/feed", f"Blog {n}", now=now)
        store.update_source(source.id, next_due_at=due)
    off = store.add_source("https://off.example/feed", "Switched off", now=now)
    store.update_source(off.id, enabled=False, next_due_at=now - timedelta(days=2))
    found = metrics(exposition(store).decode())
    assert found[("townsquare_sources_due", ())] == 3
    assert found[("townsquare_sources_overdue", ())] == 1


def test_healthz_is_503_when_the_store_cannot_be_reached(config: Config) -> None:
    store = open_store(config.db)
    site = LiveSite(config, store)
    try:
        assert site.get("/healthz").status == 200
        store.close()  # as if the database went away
        answer = site.get("/healthz")
        assert (answer.status, answer.text) == (503, "unhealthy: the database cannot be reached\n")
        assert answer.headers["cache-control"] == "no-store"
    finally:
        site.close()


# --- stopping -----------------------------------------------------------------------------


def slow(body: bytes, seconds: float) -> Callable[[Request], Response]:
    def handler(_request: Request) -> Response:
        time.sleep(seconds)
        return Response(200, body, {"Content-Type": "application/rss+xml"})

    return handler


@pytest.mark.parametrize(("grace", "in_flight"), [("30", "finished"), ("0.2", "abandoned")])
def test_sigterm_mid_pass_leaves_no_claims_and_nothing_half_written(
    server: FeedServer,
    store: Store,
    service: Callable[..., Service],
    grace: str,
    in_flight: str,
) -> None:
    now = datetime.now(UTC)
    sources = [
        store.add_source(server.route(f"/{n}.rss", slow(feed(n), 1.0)), f"Blog {n}", now=now)
        for n in range(12)
    ]
    site = service(
        shutdown_grace=grace, fetch_concurrency="4", fetch_per_host="4", fetch_host_gap="0"
    )
    wait_for(lambda: site.events("fetch"))  # the first four are stored, four more asked for
    wait_for(lambda: len(server.requests) >= 8)
    asked = len(server.requests)
    began = time.monotonic()
    code, out = site.stop()
    assert code == 0
    assert time.monotonic() - began < (10 if in_flight == "finished" else 3)

    stored = {s.id: s for s in store.sources()}
    logged = {
        r["source_id"]: r["n"]
        for r in store.db.fetchall("SELECT source_id, count(*) AS n FROM fetch_log GROUP BY 1")
    }
    posts = {
        r["source_id"]: r["n"]
        for r in store.db.fetchall("SELECT source_id, count(*) AS n FROM posts GROUP BY 1")
    }
    for source in sources:
        after = stored[source.id]
        if source.id in logged:  # fetched: everything of it is there
            assert (logged[source.id], posts.get(source.id)) == (1, POSTS)
            assert after.last_fetched_at is not None and after.next_due_at > now  # type: ignore[operator]
        else:  # not fetched: nothing of it is there, and it is still due
            assert source.id not in posts and after.last_fetched_at is None
            assert after.next_due_at is not None and after.next_due_at <= datetime.now(UTC)
    claimed = store.db.fetchall("SELECT id FROM sources WHERE claimed_by IS NOT NULL")
    assert claimed == [], "every claim was let go"
    assert 4 <= len(logged) < len(sources), "stopped mid-pass"
    assert out.endswith(f"Stopped after fetching {len(logged)} blogs\n")
    if in_flight == "finished":
        assert len(logged) == asked, "the fetches under way were finished"
    else:
        assert len(logged) < asked, "the fetches under way were abandoned"
        assert site.events("abandoned")


# --- periodic jobs ------------------------------------------------------------------------

MOMENT = datetime(2026, 11, 25, 10, 30, tzinfo=UTC)  # a Wednesday


def test_when_jobs_run() -> None:
    assert every(timedelta(minutes=5))(MOMENT) == MOMENT + timedelta(minutes=5)
    at_nine = daily_at(clock(9, 0))
    assert at_nine(MOMENT) == datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    assert at_nine(datetime(2026, 11, 26, 8, 59, tzinfo=UTC)) == at_nine(MOMENT)
    assert at_nine(at_nine(MOMENT)) == datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    monday = weekly_at(0, clock(7, 0))
    assert monday(MOMENT) == datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    assert monday(monday(MOMENT)) == datetime(2026, 12, 7, 7, 0, tzinfo=UTC)
    assert weekly_at(2, clock(11, 0))(MOMENT) == datetime(2026, 11, 25, 11, 0, tzinfo=UTC)


def test_each_turn_of_a_job_runs_in_one_process_only(store: Store, config: Config) -> None:
    ran: list[str] = []
    job = Job("count", every(timedelta(hours=1)), lambda s, c: ran.append("ran"))
    store.db.execute("INSERT INTO jobs (name, next_run_at) VALUES ('count', ?)", (MOMENT,))
    schedulers = [Scheduler(config, store, [job], tick=0.1) for _ in range(3)]

    async def all_at_once() -> list[bool]:
        return list(await asyncio.gather(*(s.run_if_due(job) for s in schedulers)))

    outcomes = asyncio.run(all_at_once())
    assert sorted(outcomes) == [False, False, True] and ran == ["ran"]


def test_a_job_waits_for_its_time_and_a_failure_is_kept(store: Store, config: Config) -> None:
    calls: list[int] = []

    def fails(s: Store, c: Config) -> None:
        calls.append(1)
        raise RuntimeError("the mail server said no")

    hourly = Job("hourly", every(timedelta(hours=1)), fails)
    scheduler = Scheduler(config, store, [hourly], tick=0.1)
    assert asyncio.run(scheduler.run_if_due(hourly)) is False, "not due for an hour"
    store.db.execute("UPDATE jobs SET next_run_at = ? WHERE name = 'hourly'", (MOMENT,))
    assert asyncio.run(scheduler.run_if_due(hourly)) is True and calls == [1]
    row = store.db.fetchone("SELECT * FROM jobs WHERE name = 'hourly'")
    assert row is not None
    assert row["last_error"] == "RuntimeError: the mail server said no"
    assert row["claimed_by"] is None
    assert row["next_run_at"] > datetime.now(UTC) + timedelta(minutes=59)


def test_a_turn_left_by_a_dead_process_is_taken_over_when_its_lease_ends(
    store: Store, config: Config
) -> None:
    ran: list[str] = []
    job = Job("once", lambda moment: moment, lambda s, c: ran.append("ran"))
    lease = timedelta(minutes=10)
    now = datetime.now(UTC)
    assert store.claim_job("once", "elsewhere:1:x", now, lease=lease, first_run=now) is not None
    scheduler = Scheduler(config, store, [job], tick=0.1)
    assert asyncio.run(scheduler.run_if_due(job)) is False and ran == []
    store.db.execute(
        "UPDATE jobs SET claim_expires = ? WHERE name = 'once'",
        (datetime.now(UTC) - timedelta(seconds=1),),
    )
    assert asyncio.run(scheduler.run_if_due(job)) is True and ran == ["ran"]


def test_the_fetch_log_is_pruned_by_age(store: Store, config: Config) -> None:
    source = store.add_source("https://blog.example/feed", "Blog", now=MOMENT)
    for days in (1, 29, 31, 400):
        store.db.execute(
            "INSERT INTO fetch_log (source_id, fetched_at, outcome, duration_ms)"
            " VALUES (?, ?, 'ok', 1)",
            (source.id, datetime.now(UTC) - timedelta(days=days)),
        )
    job = prune_fetch_log(config)
    assert job.run(store, config) == 2
    assert [e.outcome for e in store.fetch_history(source.id)] == ["ok", "ok"]


def test_a_worker_serves_its_own_metrics_and_logs_each_fetch(
    server: FeedServer, store: Store, db_path: str
) -> None:
    store.add_source(server.feed("/w.rss", feed(1)), "Blog W", now=datetime.now(UTC))
    env = {**os.environ, "TOWNSQUARE_ALLOW_NETWORKS": "127.0.0.1/32", "TOWNSQUARE_DB": db_path}
    worker = subprocess.Popen(
        [sys.executable, "-m", "townsquare", "worker", "--metrics-port", "0", "--idle", "0.2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout is not None
        line = worker.stdout.readline()
        assert line.startswith("Metrics at http://127.0.0.1:"), line
        parts = urlsplit(line.split()[-1])

        def fetched() -> float:
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
            conn.request("GET", parts.path)
            found = metrics(conn.getresponse().read().decode())
            conn.close()
            return found.get(("townsquare_fetches_total", (("outcome", "ok"),)), 0)

        wait_for(lambda: fetched() == 1)
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()
    assert worker.returncode == 0
    assert out == "Worker stopped after fetching 1 blog\n"
    events = [json.loads(line) for line in err.splitlines()]
    assert [(e["event"], e["outcome"], e["new"]) for e in events if e["event"] == "fetch"] == [
        ("fetch", "ok", POSTS)
    ]


def test_web_processes_keep_nothing_that_matters(server: FeedServer, config: Config) -> None:
    """Two web processes over one database (as behind a load balancer) show the same site,
    before and after a third process stores new posts."""
    stores = [open_store(config.db) for _ in range(2)]
    sites = [LiveSite(config, s) for s in stores]
    try:
        before = [site.get("/").text for site in sites]
        assert before[0] == before[1] and "Post 0 of blog 5" not in before[0]
        with open_store(config.db) as writer:
            writer.add_source(server.feed("/5.rss", feed(5)), "Blog 5", now=datetime.now(UTC))
            run_pass(writer, config)
        after = [site.get("/").text for site in sites]
        assert after[0] == after[1] and "Post 0 of blog 5" in after[0]
    finally:
        for site in sites:
            site.close()
        for s in stores:
            s.close()


def test_the_digests_and_the_health_email_run_as_jobs_when_email_is_set_up(
    store: Store, config: Config, mail_config: Config, smtp: SMTPServer, server: FeedServer
) -> None:
    assert [j.name for j in jobs_for(config)] == ["prune fetch log"], "no email set up"
    mail = replace(mail_config, curator_email="curator@townsquare.example")
    jobs = jobs_for(mail)
    assert [j.name for j in jobs] == ["prune fetch log", "digests", "health email"]

    add_blog(store, server, "/b", "A blog", [MailItem("Hello", "hello")])
    fetch_all(store, mail)
    # Digests hold back posts for a few minutes after they are first seen.
    store.db.execute("UPDATE posts SET first_seen = ?", (datetime.now(UTC) - timedelta(hours=1),))
    subscriber(store, "ann@example.org")
    for job in jobs:
        store.db.execute("INSERT INTO jobs (name, next_run_at) VALUES (?, ?)", (job.name, MOMENT))
    sent_before = PROCESS.get_sample_value("townsquare_digests_sent_total")
    scheduler = Scheduler(mail, store, jobs, tick=0.1)
    assert [asyncio.run(scheduler.run_if_due(job)) for job in jobs] == [True, True, True]

    assert sorted(m.rcpt[0] for m in smtp.messages) == [
        "ann@example.org",
        "curator@townsquare.example",
    ]
    assert PROCESS.get_sample_value("townsquare_digests_sent_total") == (sent_before or 0) + 1
    runs = {
        r["name"]: r for r in store.db.fetchall("SELECT name, next_run_at, last_error FROM jobs")
    }
    assert all(r["last_error"] is None for r in runs.values())
    now = datetime.now(UTC)
    assert runs["digests"]["next_run_at"] == daily_at(mail.digest_time)(now)
    assert runs["health email"]["next_run_at"] == weekly_at(0, clock(8, 0))(now)
