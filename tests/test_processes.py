"""The parsing processes: jobs run in child processes of Townsquare's own, a child that
dies costs only the jobs it had, and no child outlives the process that started it."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path

import pytest

from townsquare.ingest.processes import NICENESS, PIPE_BYTES, ParsingProcesses, WorkerGoneError
from townsquare.ingest.read import parse_and_clean
from townsquare.model import FetchOutcome, FetchResult


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as f:  # reaped later, but no longer running
        return f.read().rsplit(")", 1)[1].split()[0] == "Z"


def _wait_until_gone(pid: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.05)
    return False


def test_jobs_run_in_a_child_process_and_answer_in_order() -> None:
    pool = ParsingProcesses(1)
    try:
        pids = [pool.submit(os.getpid) for _ in range(3)]
        sums = [pool.submit(sum, range(n)) for n in range(50)]
        assert {f.result(timeout=30) for f in pids} != {os.getpid()}
        assert len({f.result() for f in pids}) == 1
        assert [f.result(timeout=30) for f in sums] == [sum(range(n)) for n in range(50)]
    finally:
        pool.shutdown()


def test_a_child_runs_at_a_lower_priority_than_its_parent() -> None:
    pool = ParsingProcesses(1)
    try:
        niceness = pool.submit(os.nice, 0).result(timeout=30)  # os.nice(0) gives it
    finally:
        pool.shutdown()
    assert niceness == min(os.nice(0) + NICENESS, 19)


def test_a_job_that_raises_raises_in_its_future_only() -> None:
    pool = ParsingProcesses(1)
    try:
        bad = pool.submit(int, "not a number")
        good = pool.submit(int, "42")
        with pytest.raises(ValueError, match="not a number"):
            bad.result(timeout=30)
        assert good.result(timeout=30) == 42
    finally:
        pool.shutdown()


def test_what_a_job_prints_does_not_break_the_answers(capfd: pytest.CaptureFixture[str]) -> None:
    pool = ParsingProcesses(1)
    try:
        assert pool.submit(print, "printed by a job").result(timeout=30) is None
        assert pool.submit(len, "four").result(timeout=30) == 4
    finally:
        pool.shutdown()
    assert "printed by a job" in capfd.readouterr().err


def test_a_child_that_dies_fails_only_its_own_jobs_and_the_next_job_starts_another() -> None:
    pool = ParsingProcesses(1)
    try:
        first = pool.submit(os.getpid).result(timeout=30)
        stuck: Future[None] = pool.submit(time.sleep, 60)
        time.sleep(0.5)  # it is sleeping in the child
        os.kill(first, signal.SIGKILL)
        with pytest.raises(WorkerGoneError):
            stuck.result(timeout=30)
        second = pool.submit(os.getpid).result(timeout=30)
        assert second not in (first, os.getpid())
    finally:
        pool.shutdown()


def test_shutdown_ends_the_children() -> None:
    pool = ParsingProcesses(2)
    pids = {pool.submit(os.getpid).result(timeout=30) for _ in range(4)}
    pool.shutdown(wait=True)
    assert all(_wait_until_gone(pid) for pid in pids)
    with pytest.raises(RuntimeError, match="stopped"):
        pool.submit(os.getpid)


def test_told_to_stop_without_waiting_the_children_end_by_themselves() -> None:
    # How a pass ends: the children are told first, and end while the writer finishes.
    pool = ParsingProcesses(2)
    pids = {pool.submit(os.getpid).result(timeout=30) for _ in range(4)}
    pool.shutdown(wait=False)
    assert all(_wait_until_gone(pid) for pid in pids)
    pool.shutdown(wait=True)  # then waited for, which returns at once
    with pytest.raises(RuntimeError, match="stopped"):
        pool.submit(os.getpid)


def test_no_child_outlives_a_parent_killed_with_kill_dash_nine(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(
        textwrap.dedent(
            """
            import os, sys, time
            from townsquare.ingest.processes import ParsingProcesses
            pool = ParsingProcesses(1)
            print(pool.submit(os.getpid).result(timeout=30), flush=True)
            pool.submit(time.sleep, 60)
            time.sleep(60)
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, env=env)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        time.sleep(0.3)
        parent.kill()
        parent.wait(timeout=10)
        assert _wait_until_gone(child)
    finally:
        parent.kill()
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc")
def test_a_child_that_has_read_a_feed_has_not_loaded_openssl() -> None:
    """Each parsing process stays small: OpenSSL (3 MB in each) is for connections, which
    only the main process makes."""
    feed = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Blog</title>'
        b"<item><guid>1</guid><title>Weeknotes</title><description>&lt;p&gt;Hello&lt;/p&gt;"
        b"</description></item></channel></rss>"
    )
    result = FetchResult(
        url="https://blog.example/feed", final_url="https://blog.example/feed",
        outcome=FetchOutcome.OK, status=200, body=feed, content_type="application/rss+xml",
    )  # fmt: skip
    pool = ParsingProcesses(1)
    try:
        cleaned = pool.submit(parse_and_clean, result, datetime.now(UTC)).result(timeout=30)
        maps = pool.submit(Path("/proc/self/maps").read_text).result(timeout=30)
    finally:
        pool.shutdown()
    assert [p.title for p in cleaned.posts] == ["Weeknotes"]
    assert "libcrypto" not in maps
    assert "libssl" not in maps


@pytest.mark.skipif(not hasattr(fcntl, "F_GETPIPE_SZ"), reason="pipe sizes are Linux's")
def test_a_childs_pipes_take_a_feeds_answer_in_one_write() -> None:
    """The pipes that carry jobs to a child and answers back hold a megabyte (where the
    system allows it), not 64 KB: an answer of a few hundred kilobytes goes in one write."""
    pool = ParsingProcesses(1)
    try:
        child = pool.submit(os.getpid).result(timeout=30)
        # The child's own pipes: its standard input is /dev/null, its standard output and
        # error go to the parent's standard error, and jobs and answers come after.
        fds = [
            int(fd)
            for fd in os.listdir(f"/proc/{child}/fd")
            if int(fd) > 2 and os.readlink(f"/proc/{child}/fd/{fd}").startswith("pipe:")
        ]
        sizes = [pool.submit(fcntl.fcntl, fd, fcntl.F_GETPIPE_SZ).result(timeout=30) for fd in fds]
    finally:
        pool.shutdown()
    allowed = int(Path("/proc/sys/fs/pipe-max-size").read_text())
    assert len(sizes) == 2
    assert sizes == [min(PIPE_BYTES, allowed)] * 2
