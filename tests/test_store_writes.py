"""How the store writes during a large pass: SQLite's write-ahead log is copied into the
database by a thread of its own, so no commit waits for the disk, and the log is still
copied as the pass goes, never left to grow."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from townsquare.store import db as db_module
from townsquare.store.db import AUTOCHECKPOINT_PAGES, WAL_KEEP_BYTES, connect


def test_during_bulk_writes_the_log_is_copied_into_the_database_as_it_goes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "townsquare.db"
    db = connect(str(path))
    try:
        db.execute("CREATE TABLE filler (text TEXT)")
        before = path.stat().st_size
        with db.bulk_writes():
            assert db.fetchone("PRAGMA wal_autocheckpoint") == {"wal_autocheckpoint": 0}
            with db.transaction():
                db.executemany("INSERT INTO filler VALUES (?)", [("x" * 1000,)] * 5000)
            # The commit did not copy the log (its own checkpoints are off) ...
            deadline = time.monotonic() + 20
            while path.stat().st_size < before + 4_000_000 and time.monotonic() < deadline:
                time.sleep(0.05)
            # ... the checkpoint thread did, without another write.
            assert path.stat().st_size >= before + 4_000_000
        assert db.fetchone("PRAGMA wal_autocheckpoint") == {
            "wal_autocheckpoint": AUTOCHECKPOINT_PAGES
        }
    finally:
        db.close()


def test_during_bulk_writes_that_never_pause_the_log_still_starts_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Commits one after another leave the checkpoint thread no moment to finish its
    # copy; without the writer's help the log would grow to hold everything written.
    monkeypatch.setattr(db_module, "WAL_RESTART_PAGES", 256)  # 1 MB
    monkeypatch.setattr(db_module, "CHECKPOINT_EVERY", 0.02)
    path = tmp_path / "townsquare.db"
    log = tmp_path / "townsquare.db-wal"
    db = connect(str(path))
    try:
        db.execute("CREATE TABLE filler (n INTEGER, text TEXT)")
        longest = 0
        with db.bulk_writes():
            # 300 MB in all.  A fast machine writes 50 MB or more before the thread's
            # first copy is done, so the log is bound, but not tightly.
            for n in range(3000):
                with db.transaction():
                    db.executemany("INSERT INTO filler VALUES (?, ?)", [(n, "x" * 1000)] * 100)
                longest = max(longest, log.stat().st_size)
        assert longest < 150_000_000  # without starting again: all 300 MB
        assert db.fetchone("SELECT count(*) AS n FROM filler") == {"n": 300_000}
    finally:
        db.close()
    reopened = connect(str(path))
    try:
        assert reopened.fetchone("SELECT count(DISTINCT n) AS n FROM filler") == {"n": 3000}
    finally:
        reopened.close()


def test_a_long_log_file_is_cut_when_it_starts_again(tmp_path: Path) -> None:
    path = tmp_path / "townsquare.db"
    log = tmp_path / "townsquare.db-wal"
    db = connect(str(path))
    try:
        db.execute("CREATE TABLE filler (text TEXT)")
        with db.transaction():  # one transaction of 80 MB: the log must hold all of it
            db.executemany("INSERT INTO filler VALUES (?)", [("x" * 1000,)] * 80_000)
        assert log.stat().st_size > WAL_KEEP_BYTES
        db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        db.execute("INSERT INTO filler VALUES ('after')")
        assert log.stat().st_size <= WAL_KEEP_BYTES
    finally:
        db.close()
