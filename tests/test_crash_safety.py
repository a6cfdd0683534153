"""Crash safety: ``kill -9`` of ``townsquare fetch`` at random moments.

Eighty feeds on four real local servers (some slow) change a little before every run: a new
post appears, the oldest drops out of the window, and every third run the posts are edited.
``townsquare fetch --all`` runs as a separate process and is killed with SIGKILL at a random
moment, again and again.  After every kill the database must open cleanly and be consistent:
every post whole, every source's state matching its fetch log (the log line is written in
the same transaction as the posts and the state, so it is the witness), no duplicates, and
every post in the search index or marked as waiting for it.  A
last run, left to finish, must complete the pass.
"""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conftest import FeedServer, Request, Response
from townsquare.store import open_store
from townsquare.store.search_index import SLOTS
from townsquare.store.search_text import search_text

SRC = str(Path(__file__).resolve().parent.parent / "src")
FEEDS = 80
WINDOW = 20  # posts in a feed at once
KILLS = 20
FILLER = "<p>" + "Words of a post, long enough to make writing it take a moment. " * 40 + "</p>"


class Corpus:
    """Feeds whose content moves on with each run (``generation``)."""

    def __init__(self) -> None:
        self.generation = 0
        self.lock = threading.Lock()

    def body(self, feed: int) -> bytes:
        with self.lock:
            g = self.generation
        items = "".join(
            f"<item><title>Feed {feed} post {k}</title><guid>f{feed}-p{k}</guid>"
            f"<link>https://feed{feed}.example/p{k}</link>"
            f"<pubDate>Mon, {1 + k % 28:02d} Jan 2024 10:00:00 GMT</pubDate>"
            f"<description><![CDATA[<p>Feed {feed} post {k}, edition {g // 3}.</p>{FILLER}]]>"
            "</description></item>"
            for k in range(g, g + WINDOW)
        )
        return (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {feed}</title>'
            f"<link>https://feed{feed}.example/</link>{items}</channel></rss>"
        ).encode()

    def handler(self, feed: int) -> Callable[[Request], Response]:
        def serve(request: Request) -> Response:
            if feed % 4 == 0:
                time.sleep(random.uniform(0.05, 0.6))  # a slow server
            return Response(200, self.body(feed), {"Content-Type": "application/rss+xml"})

        return serve


@pytest.fixture
def servers() -> Iterator[list[FeedServer]]:
    started = [FeedServer() for _ in range(4)]
    yield started
    for srv in started:
        srv.close()


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": SRC,
        "TOWNSQUARE_ALLOW_NETWORKS": "127.0.0.1/32",
        "TOWNSQUARE_FETCH_PER_HOST": "4",
    }


def _townsquare(db: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "townsquare", "--db", db, *args],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


POST = re.compile(r"f(\d+)-p(\d+)")


def check_consistent(db: str) -> int:
    """Open the database as the next run would and check it; give the fetch log's length."""
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        # Every post is whole: its parts belong together.
        for guid, title, link, content, content_hash, published, first_seen in conn.execute(
            "SELECT guid, title, link, content_html, content_hash, published, first_seen FROM posts"
        ):
            match = POST.fullmatch(guid)
            assert match, guid
            feed, k = match.groups()
            assert title == f"Feed {feed} post {k}"
            assert link == f"https://feed{feed}.example/p{k}"
            assert re.match(rf"<p>Feed {feed} post {k}, edition \d+\.</p><p>Words", content)
            assert content.endswith("</p>") and len(content) > len(FILLER)
            assert content_hash and published and first_seen
        # No duplicates.
        (rows, unique) = conn.execute(
            "SELECT count(*), count(DISTINCT source_id || ' ' || guid) FROM posts"
        ).fetchone()
        assert rows == unique
        # Every post is in the search index once, or waiting for it; the index holds
        # nothing else, and FTS5 finds it as the posts say.
        conn.create_function("search_text", 1, search_text, deterministic=True)
        conn.execute("INSERT INTO post_search (post_search, rank) VALUES ('integrity-check', 1)")
        assert conn.execute(
            f"""SELECT count(*) FROM posts p
               WHERE (SELECT count(*) FROM search_rows r
                      WHERE r.post_id = p.id
                        AND -r.search_key / {SLOTS} <= (-p.search_key) >> 32)
                     + (SELECT count(*) FROM search_pending q WHERE q.post_id = p.id) <> 1"""
        ).fetchone() == (0,)
        assert conn.execute(
            "SELECT count(*) FROM search_rows WHERE post_id NOT IN (SELECT id FROM posts)"
        ).fetchone() == (0,)
        (indexed, rows) = conn.execute(
            "SELECT (SELECT count(*) FROM post_search_docsize), (SELECT count(*) FROM search_rows)"
        ).fetchone()
        assert indexed == rows
        # Each source's state and posts agree with its fetch log.
        for source_id, fetched_at, status, failures in conn.execute(
            "SELECT id, last_fetched_at, status, consecutive_failures FROM sources"
        ).fetchall():
            (posts,) = conn.execute(
                "SELECT count(*) FROM posts WHERE source_id = ?", (source_id,)
            ).fetchone()
            (logged_new, last_logged) = conn.execute(
                "SELECT coalesce(sum(new_posts), 0), max(fetched_at) FROM fetch_log "
                "WHERE source_id = ?",
                (source_id,),
            ).fetchone()
            assert posts == logged_new, source_id
            assert fetched_at == last_logged, source_id
            if last_logged is None:
                assert status == "new" and failures == 0
            else:
                (outcome,) = conn.execute(
                    "SELECT outcome FROM fetch_log WHERE source_id = ? "
                    "ORDER BY fetched_at DESC, id DESC LIMIT 1",
                    (source_id,),
                ).fetchone()
                assert (status, outcome) == ("ok", "ok"), (source_id, status, outcome)
        (logged,) = conn.execute("SELECT count(*) FROM fetch_log").fetchone()
    return int(logged)


def test_kill_dash_nine_at_random_moments(servers: list[FeedServer], tmp_path: Path) -> None:
    db = str(tmp_path / "townsquare.db")
    corpus = Corpus()
    with open_store(db) as store:
        for feed in range(FEEDS):
            srv = servers[feed % len(servers)]
            url = srv.route(f"/feed{feed}.xml", corpus.handler(feed))
            store.add_source(url, f"Feed {feed}", now=datetime.now(UTC))

    # One whole run first, to learn how long a run takes on this machine.
    began = time.monotonic()
    first = _townsquare(db, "fetch", "--all")
    first.communicate(timeout=60)
    whole = time.monotonic() - began
    logged = check_consistent(db)
    assert logged == FEEDS

    rng = random.Random(20261126)
    partial = 0  # kills that landed with the pass part done
    for _ in range(KILLS):
        with corpus.lock:
            corpus.generation += 1
        process = _townsquare(db, "fetch", "--all")
        time.sleep(rng.uniform(0.1, 1.0) * whole)
        process.send_signal(signal.SIGKILL)
        # Its output closes once nothing of it is left running (parsing worker processes
        # included): a killed pass leaves nothing behind.
        process.communicate(timeout=10)
        now_logged = check_consistent(db)
        if 0 < now_logged - logged < FEEDS:
            partial += 1
        logged = now_logged
    # The kills really did land in the middle of passes, not only before or after them.
    assert partial >= KILLS // 3, partial

    with corpus.lock:
        corpus.generation += 1
        final = corpus.generation
    last = _townsquare(db, "fetch", "--all")
    out, err = last.communicate(timeout=60)
    assert last.returncode == 0, err.decode()
    assert "0 failed" in out.decode(), out.decode()
    check_consistent(db)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM sources WHERE status <> 'ok'").fetchone() == (0,)
        # Posts a killed pass left waiting for the search index are in it now.
        assert conn.execute("SELECT count(*) FROM search_pending").fetchone() == (0,)
        for feed in range(FEEDS):
            current = {
                guid: content
                for guid, content in conn.execute(
                    "SELECT guid, content_html FROM posts p JOIN sources s ON s.id = p.source_id "
                    "WHERE s.title = ?",
                    (f"Feed {feed}",),
                )
            }
            for k in range(final, final + WINDOW):
                assert current[f"f{feed}-p{k}"].startswith(
                    f"<p>Feed {feed} post {k}, edition {final // 3}.</p>"
                )


def _hold_lock_and_die(db: str) -> None:
    """A process that takes the migration lock and is killed while holding it."""
    code = (
        "import sys, time\n"
        "from yoyo import get_backend\n"
        f"backend = get_backend('sqlite:///{db}')\n"
        "backend.ensure_internal_schema_updated()\n"
        "with backend.lock():\n"
        "    print('locked', flush=True)\n"
        "    time.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=_env())
    assert holder.stdout is not None
    assert holder.stdout.readline() == b"locked\n"
    holder.send_signal(signal.SIGKILL)
    holder.communicate()


@pytest.mark.parametrize("migrated", [True, False], ids=["up to date", "before migrating"])
def test_killed_while_holding_the_migration_lock(tmp_path: Path, migrated: bool) -> None:
    """A process killed while it held the migration lock does not lock the database for
    ever: an up-to-date database needs no lock, and a lock whose process is gone is broken."""
    db = str(tmp_path / "townsquare.db")
    if migrated:
        open_store(db).close()
    _hold_lock_and_die(db)
    began = time.monotonic()
    fetch = _townsquare(db, "fetch")
    out, err = fetch.communicate(timeout=30)
    assert fetch.returncode == 0, err.decode()
    assert "No blogs were due" in out.decode()
    assert time.monotonic() - began < 5  # no waiting for yoyo's ten-second lock timeout


def test_an_up_to_date_database_opens_without_the_migration_tool(tmp_path: Path) -> None:
    """Every command opens the store; when no migration is missing, that is one query of
    yoyo's table, and yoyo itself is not loaded."""
    db = str(tmp_path / "townsquare.db")
    code = (
        "import sys\n"
        "from townsquare.store import open_store\n"
        f"open_store({db!r}).close()\n"
        "print('yoyo' in sys.modules)\n"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env())
        for _ in range(2)
    ]
    assert [r.stdout for r in runs] == ["True\n", "False\n"], [r.stderr for r in runs]
    with sqlite3.connect(db) as conn:
        applied = {r[0] for r in conn.execute("SELECT migration_id FROM _yoyo_migration")}
    conn.close()
    assert "0013.search-text-once" in applied
