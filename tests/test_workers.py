"""Several worker processes share the polling through PostgreSQL (and SQLite)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conftest import FeedServer, Request, Response
from townsquare.store import open_store

FEEDS = 60
POSTS = 3


def _feed(n: int) -> bytes:
    items = "".join(
        f"<item><title>Post {i} of blog {n}</title><link>https://b{n}.example/{i}</link>"
        f"<guid>b{n}-{i}</guid><pubDate>Mon, 23 Nov 2026 0{i}:00:00 GMT</pubDate>"
        f"<description>&lt;p&gt;Body {i}&lt;/p&gt;</description></item>"
        for i in range(POSTS)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Blog {n}</title>'
        f"<link>https://b{n}.example/</link>{items}</channel></rss>"
    ).encode()


def _slow(body: bytes):  # type: ignore[no-untyped-def]
    def handler(_request: Request) -> Response:
        time.sleep(0.05)
        return Response(200, body, {"Content-Type": "application/rss+xml"})

    return handler


def _workers(db: str, count: int) -> list[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "TOWNSQUARE_ALLOW_NETWORKS": "127.0.0.1/32",
        "TOWNSQUARE_DB": db,
        "TOWNSQUARE_CLAIM_LEASE": "60",
        "TOWNSQUARE_FETCH_HOST_GAP": "0",  # every feed here is on one host
    }
    return [
        subprocess.Popen(
            [sys.executable, "-m", "townsquare", "worker", "--once", "--batch", "4"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(count)
    ]


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_three_workers_one_killed(
    backend: str, server: FeedServer, pg_url: str, tmp_path: Path
) -> None:
    db = pg_url if backend == "postgresql" else str(tmp_path / "workers.db")
    now = datetime.now(UTC)
    with open_store(db) as store:
        for n in range(FEEDS):
            url = server.route(f"/feeds/{n}.rss", _slow(_feed(n)))
            store.add_source(url, f"Blog {n}", now=now)

    workers = _workers(db, 3)
    time.sleep(0.8)  # mid-pass: some batches stored, some in flight
    workers[0].send_signal(signal.SIGKILL)
    workers[0].communicate()  # reaped, as a service manager would
    assert workers[0].returncode == -signal.SIGKILL, "killed mid-pass, not already done"
    for w in workers[1:]:
        _, err = w.communicate(timeout=60)
        assert w.returncode == 0, err.decode()

    with open_store(db) as store:
        rows = store.db.fetchall(
            "SELECT source_id, count(*) AS n FROM fetch_log GROUP BY source_id"
        )
        stored = {r["source_id"]: r["n"] for r in rows}
        assert len(stored) == FEEDS, "every due source was fetched: none lost"
        assert set(stored.values()) == {1}, "no source was fetched (and stored) twice"
        posts = store.db.fetchone("SELECT count(*) AS n, count(DISTINCT guid) AS u FROM posts")
        assert posts is not None
        assert posts["n"] == posts["u"] == FEEDS * POSTS
        assert store.count_due(datetime.now(UTC)) == 0
        left = store.db.fetchone("SELECT count(*) AS n FROM sources WHERE claimed_by IS NOT NULL")
        assert left is not None and left["n"] == 0
