"""`kill -9` in the middle of a digest run, then a re-run: every digest once, none twice.

The SMTP server is a process of its own (tests/smtp_sink.py) that writes each
message it accepts to a file before it answers.  To stop the run at a known
point, the server goes quiet at that point (``--hold``) and the test kills the
run while it waits; the re-run then talks to the same server.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import townsquare
from conftest import SECRET, FeedServer
from mail_helpers import Item, add_blog, fetch_all, subscriber
from smtp_sink import free_port, read_messages
from townsquare.config import load
from townsquare.notify.digest import SETTLE
from townsquare.store import open_store

SINK = Path(__file__).parent / "smtp_sink.py"
SRC = Path(townsquare.__file__).resolve().parents[1]


class SinkProcess:
    def __init__(self, tmp: Path, hold: str | None) -> None:
        self.port = free_port()
        self.out = tmp / "received.jsonl"
        self.control = tmp / "control"
        args = [sys.executable, str(SINK), str(self.port), str(self.out)]
        args += ["--control", str(self.control)] + (["--hold", hold] if hold else [])
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"

    def held(self) -> bool:
        return self.control.exists() and "held" in self.control.read_text()

    def count(self) -> int:
        """How many messages the server has kept so far."""
        return self.out.read_bytes().count(b"\n") if self.out.exists() else 0

    def recipients(self) -> Counter[str]:
        return Counter(r for m in read_messages(self.out) for r in m.rcpt)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.communicate(timeout=10)


@pytest.fixture
def sink_factory(tmp_path: Path) -> Iterator[Callable[..., SinkProcess]]:
    started: list[SinkProcess] = []

    def start(hold: str | None = None) -> SinkProcess:
        started.append(SinkProcess(tmp_path, hold))
        return started[-1]

    yield start
    for s in started:
        s.stop()


def _env(db: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "TOWNSQUARE_DB": db,
        "TOWNSQUARE_BASE_URL": "https://townsquare.example/",
        "TOWNSQUARE_SECRET_KEY": SECRET,
        "TOWNSQUARE_SMTP_HOST": "127.0.0.1",
        "TOWNSQUARE_SMTP_PORT": str(port),
        "TOWNSQUARE_SMTP_SECURITY": "none",
        "TOWNSQUARE_SMTP_FROM": "Townsquare <digest@townsquare.example>",
        "TOWNSQUARE_SMTP_TIMEOUT": "60",
    }


def _run(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "townsquare", "digest", "send", "--frequency", "daily"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _setup(db: str, server: FeedServer, subscribers: int) -> list[str]:
    config = load({"db": db}, environ={"TOWNSQUARE_ALLOW_NETWORKS": "127.0.0.1/32"})
    with open_store(db) as store:
        add_blog(store, server, "/a", "Blog A", [Item("One", "one"), Item("Two", "two")], ["X"])
        add_blog(store, server, "/b", "Blog B", [Item("Three", "three")], ["Y"])
        fetch_all(store, config)
        # As if fetched ten minutes ago: a run covers posts first seen SETTLE before it.
        store.db.execute("UPDATE posts SET first_seen = ?", (datetime.now(UTC) - 2 * SETTLE,))
        addresses = [f"reader{i:03d}@example.org" for i in range(subscribers)]
        for address in addresses:
            subscriber(store, address)
    return addresses


def _statuses(db: str) -> dict[str, str]:
    with open_store(db) as store:
        rows = store.db.fetchall(
            """SELECT s.address, d.status FROM deliveries d
               JOIN subscribers s ON s.id = d.subscriber_id"""
        )
    return {r["address"]: r["status"] for r in rows}


@pytest.mark.parametrize(
    ("hold", "lost"),
    [
        ("ehlo:1", False),  # planned, nothing sent yet
        ("mail:4", False),  # three sent, the fourth not begun
        ("rcpt:4", False),  # the fourth's envelope half done: not claimed
        ("data-before:4", True),  # the fourth claimed, its content not kept by the server
        ("data-after:4", False),  # the fourth kept by the server, not yet recorded as sent
    ],
)
def test_kill_at_each_step_then_rerun(
    hold: str,
    lost: bool,
    db_path: str,
    server: FeedServer,
    sink_factory: Callable[..., SinkProcess],
) -> None:
    db = db_path
    addresses = _setup(db, server, 8)
    sink = sink_factory(hold)
    env = _env(db, sink.port)

    first = _run(env)
    deadline = time.monotonic() + 30
    while not sink.held():
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "the server never reached the hold"
        time.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=10)
    assert first.returncode == -signal.SIGKILL

    second = _run(env)
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err

    received = sink.recipients()
    statuses = _statuses(db)
    assert max(received.values()) == 1  # none twice
    fourth = addresses[3]
    if lost:
        # The one documented loss: killed during DATA, and the server did not keep it.
        assert fourth not in received
        assert statuses[fourth] == "unknown"
        assert "1 digest left by a stopped run may have been delivered" in out
    else:
        assert fourth in received
    assert set(received) | ({fourth} if lost else set()) == set(addresses)  # all the rest once
    expected_unknown = {fourth} if hold.startswith("data") else set()
    assert {a for a, s in statuses.items() if s == "unknown"} == expected_unknown
    assert {s for a, s in statuses.items() if a not in expected_unknown} == {"sent"}


def test_killed_at_random_moments(
    db_path: str, server: FeedServer, sink_factory: Callable[..., SinkProcess]
) -> None:
    db = db_path
    addresses = _setup(db, server, 20)
    sink = sink_factory()
    env = _env(db, sink.port)
    rng = random.Random(7)
    kills = 0
    while kills < 4:
        # Let a run send a few digests, then kill it at a random moment.
        target = sink.count() + rng.randint(1, 4)
        run = _run(env)
        while run.poll() is None and sink.count() < target:
            time.sleep(0.001)
        time.sleep(rng.uniform(0, 0.004))
        run.send_signal(signal.SIGKILL)
        run.communicate(timeout=10)
        assert run.returncode == -signal.SIGKILL, "a run finished before it could be killed"
        kills += 1
    final = _run(env)
    _, err = final.communicate(timeout=60)
    assert final.returncode == 0, err

    received = sink.recipients()
    statuses = _statuses(db)
    assert max(received.values()) == 1  # none twice
    missing = set(addresses) - set(received)
    # Only a digest cut off during DATA may be missing, and it is recorded as such.
    assert all(statuses[a] == "unknown" for a in missing)
    assert len(missing) <= kills
    assert all(s in {"sent", "unknown"} for s in statuses.values())


def test_kill_on_postgresql(
    pg_url: str, tmp_path: Path, server: FeedServer, sink_factory: Callable[..., SinkProcess]
) -> None:
    addresses = _setup(pg_url, server, 6)
    sink = sink_factory("data-after:2")
    env = _env(pg_url, sink.port)
    first = _run(env)
    deadline = time.monotonic() + 30
    while not sink.held():
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "the server never reached the hold"
        time.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=10)
    assert first.returncode == -signal.SIGKILL

    second = _run(env)
    _, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert sink.recipients() == Counter(addresses)
    assert list(_statuses(pg_url).values()).count("unknown") == 1
