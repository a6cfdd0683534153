"""How the store writes during a large pass: SQLite's write-ahead log is copied into the
database by a thread of its own, so no commit waits for the disk, and the log is still
copied as the pass goes, never left to grow."""

from __future__ import annotations

import time
from pathlib import Path

from townsquare.store.db import AUTOCHECKPOINT_PAGES, connect


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
