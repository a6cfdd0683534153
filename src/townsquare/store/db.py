"""One connection to the database, whichever backend it is.

SQL in the store is written once, with ``?`` placeholders, in the subset
SQLite and PostgreSQL share (``ON CONFLICT``, ``RETURNING``, partial
indexes).  This module is the only place that knows which driver is under
it, and the only place driver errors are caught and turned into
``StoreError``.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, closing, contextmanager, suppress
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import StoreError
from .search_text import search_text

if TYPE_CHECKING:
    import sqlite3
else:
    try:  # a newer SQLite than Python's, where PyPI has it built (docs/decisions.md)
        from pysqlite3 import dbapi2 as sqlite3
    except ImportError:
        import sqlite3

Row = Mapping[str, Any]
Params = Sequence[object] | Mapping[str, object]


def to_utc(value: datetime) -> datetime:
    """An aware UTC datetime, to the second (naive values are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0)


def to_datetime(value: datetime | str) -> datetime:
    """A timestamp computed in SQL (``max(...)``): SQLite gives those as text."""
    return to_utc(value if isinstance(value, datetime) else datetime.fromisoformat(value))


def _adapt_datetime(value: datetime) -> str:
    return to_utc(value).isoformat()


def _convert_timestamp(raw: bytes) -> datetime:
    return to_utc(datetime.fromisoformat(raw.decode()))


def _register_sqlite_types() -> None:
    """Our datetime adapter and converter; yoyo swaps in its own while it migrates."""
    sqlite3.register_adapter(datetime, _adapt_datetime)
    sqlite3.register_converter("TIMESTAMP", _convert_timestamp)


_register_sqlite_types()


CHECKPOINT_EVERY = 0.5  # seconds, during bulk writes
AUTOCHECKPOINT_PAGES = 1000  # SQLite's default
WAL_RESTART_PAGES = 16384  # during bulk writes, a write-ahead log this long starts again
WAL_KEEP_BYTES = 64 * 1024 * 1024  # a longer log file is cut to this when it starts again


class Database(Protocol):
    """What the store needs of a connection."""

    dialect: str
    url: str
    utf8_text: str  # SQL for a parameter given as UTF-8 bytes, made text

    def execute(self, sql: str, params: Params = ()) -> int: ...
    def insert(self, sql: str, params: Params = ()) -> int: ...
    def executemany(self, sql: str, rows: Iterable[Params]) -> None: ...
    def fetchall(self, sql: str, params: Params = ()) -> list[Row]: ...
    def fetchone(self, sql: str, params: Params = ()) -> Row | None: ...
    def transaction(self) -> Any: ...
    def snapshot(self) -> AbstractContextManager[None]: ...
    def bulk_writes(self) -> AbstractContextManager[None]: ...
    def close(self) -> None: ...


def _migrations_dir(dialect: str) -> Path:
    return Path(str(resources.files("townsquare.store") / "migrations" / dialect))


def _all_applied(conn: sqlite3.Connection) -> bool:
    """True when every migration is recorded as applied in yoyo's own table: the check
    that every start makes, without importing yoyo (60–80 ms)."""
    try:
        applied = {row[0] for row in conn.execute("SELECT migration_id FROM _yoyo_migration")}
    except sqlite3.OperationalError:  # no such table: a new database
        return False
    wanted = {
        path.name.removesuffix(".sql")
        for path in _migrations_dir("sqlite").glob("*.sql")
        if not path.name.endswith(".rollback.sql")
    }
    return wanted <= applied


def _migrate(yoyo_url: str, dialect: str) -> None:
    """Apply what migrations are missing.

    yoyo's lock is a row in the database, so a process killed while holding it
    would lock every later one out.  An up-to-date database (every run but the
    first after an upgrade) takes no lock at all; and as SQLite is on this
    machine, a lock whose process has gone is broken.
    """
    from yoyo import get_backend, read_migrations

    backend = get_backend(yoyo_url)
    try:
        migrations = read_migrations(str(_migrations_dir(dialect)))
        if not backend.to_apply(migrations):
            return
        if dialect == "sqlite":
            _break_dead_lock(backend)
        with backend.lock():
            backend.apply_migrations(backend.to_apply(migrations))
    finally:
        backend.connection.close()


def _break_dead_lock(backend: Any) -> None:
    row = backend.execute(f"SELECT pid FROM {backend.lock_table_quoted}").fetchone()
    if row is None:
        return
    try:
        os.kill(int(row[0]), 0)
    except ProcessLookupError:
        backend.break_lock()
    except PermissionError:  # alive, and someone else's
        pass


class _Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Row | None: ...
    def fetchall(self) -> Sequence[Row]: ...


class BaseDatabase(ABC):
    """What the two backends share: each statement runs under the connection's lock,
    and a driver's error becomes a ``StoreError`` (an integrity error, such as a
    duplicate key, is left for the store to judge)."""

    url: str
    _lock: threading.RLock
    _integrity_error: type[Exception]  # the driver's, raised as it is
    _driver_error: type[Exception]  # the driver's other errors, made StoreError
    _begin_snapshot: str  # the statement that starts a snapshot

    @abstractmethod
    def _run(self, sql: str, params: Params) -> _Cursor:
        """One statement, written with ``?`` placeholders, through the driver."""

    @abstractmethod
    def _describe(self, exc: Exception) -> str:
        """A driver's error, in the one line a ``StoreError`` carries."""

    def execute(self, sql: str, params: Params = ()) -> int:
        with self._guard():
            return self._run(sql, params).rowcount

    def insert(self, sql: str, params: Params = ()) -> int:
        """Run an INSERT ... RETURNING id and give the id."""
        with self._guard():
            row = self._run(sql, params).fetchone()
            assert row is not None
            return int(row["id"])

    def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        with self._guard():
            return list(self._run(sql, params).fetchall())

    def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        with self._guard():
            return self._run(sql, params).fetchone()

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """A read transaction: every read inside sees the store as the first one did."""
        with self._lock:
            self.execute(self._begin_snapshot)
            try:
                yield
            finally:
                self.execute("COMMIT")

    @contextmanager
    def _guard(self) -> Iterator[None]:
        with self._lock:
            try:
                yield
            except self._integrity_error:
                raise
            except self._driver_error as exc:
                raise StoreError(self._describe(exc)) from None


def _row_dict(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return {col[0]: value for col, value in zip(cursor.description, row, strict=True)}


class SQLiteDatabase(BaseDatabase):
    """SQLite in WAL mode with foreign keys; writes in ``BEGIN IMMEDIATE``."""

    dialect = "sqlite"
    utf8_text = "CAST(? AS TEXT)"  # the bytes as they are: the database is UTF-8
    _integrity_error = sqlite3.IntegrityError
    _driver_error = sqlite3.DatabaseError
    # In WAL mode writers carry on during a snapshot; they are not seen in it.
    _begin_snapshot = "BEGIN DEFERRED"

    def __init__(self, path: str, *, migrate: bool = True) -> None:
        self.url = path
        self._lock = threading.RLock()
        self._depth = 0
        self._wal_restart = threading.Event()  # set when a long log should start again
        try:
            if migrate:
                parent = Path(path).parent
                if not parent.exists():
                    raise StoreError(
                        f"cannot open database '{path}': the folder '{parent}' does not exist"
                    )
                # WAL first: yoyo's own connection must not leave a rollback journal.
                with sqlite3.connect(path) as first:
                    first.execute("PRAGMA journal_mode=WAL")
                    current = _all_applied(first)
                first.close()
                if not current:
                    _migrate(f"sqlite:///{Path(path).resolve()}", "sqlite")
                _register_sqlite_types()
            self._conn = sqlite3.connect(
                path,
                detect_types=sqlite3.PARSE_DECLTYPES,
                isolation_level=None,
                check_same_thread=False,
                timeout=30,
            )
            self._conn.row_factory = _row_dict
            # The search index reads each post's text through it (migration 0013).
            self._conn.create_function("search_text", 1, search_text, deterministic=True)
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA busy_timeout=30000")
            self._conn.execute(f"PRAGMA journal_size_limit={WAL_KEEP_BYTES}")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open database '{path}': {exc}") from None

    def _run(self, sql: str, params: Params) -> sqlite3.Cursor:
        return self._conn.execute(sql, params)

    def _describe(self, exc: Exception) -> str:
        return f"database error in '{self.url}': {exc}"

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        with self._guard():
            self._conn.executemany(sql, rows)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction.  Used inside another, it is a savepoint: what fails in it
        is undone and raised, and the outer transaction decides (as on PostgreSQL)."""
        with self._lock:
            if self._depth:
                name = f"nested_{self._depth}"
                with self._guard():
                    self._conn.execute(f"SAVEPOINT {name}")
                self._depth += 1
                try:
                    yield
                except BaseException:
                    with suppress(sqlite3.Error):  # gone if SQLite undid the whole transaction
                        self._conn.execute(f"ROLLBACK TO {name}")
                        self._conn.execute(f"RELEASE {name}")
                    raise
                finally:
                    self._depth -= 1
                with self._guard():
                    self._conn.execute(f"RELEASE {name}")
                return
            with self._guard():
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                self._conn.execute("ROLLBACK")
                raise
            self._depth = 0
            with self._guard():
                self._conn.execute("COMMIT")
                if self._wal_restart.is_set():
                    self._restart_wal()

    def _restart_wal(self) -> None:
        """Between transactions, copy the rest of a long write-ahead log into the database,
        so that the next commit writes the log from its start (see ``bulk_writes``)."""
        with suppress(sqlite3.Error):  # the commit is done; this is tried again at the next
            row = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if not row["busy"]:  # busy: the checkpoint thread is at it
                self._wal_restart.clear()

    @contextmanager
    def bulk_writes(self) -> Iterator[None]:
        """While inside, a thread of its own copies the write-ahead log into the database
        (a checkpoint, which waits for the disk) every ``CHECKPOINT_EVERY`` seconds, with a
        connection of its own, so that commits here never wait for it.

        Commits that never pause would keep such a checkpoint from ever catching up, and
        the log from ever starting again: a first pass over 1,000 feeds grew it to 1.4 GB
        for a 640 MB database.  So once the log is ``WAL_RESTART_PAGES`` long, the next
        commit here copies the rest itself (what was written since the thread's last copy,
        a few hundredths of a second), and the commit after it writes the log from its
        start; a log file longer than ``WAL_KEEP_BYTES`` is cut to that length then."""
        stop = threading.Event()

        def checkpoint() -> None:
            with closing(sqlite3.connect(self.url, timeout=30)) as own:
                while not stop.wait(CHECKPOINT_EVERY):
                    # One that fails (the disk full, say) is tried again next time: while
                    # this connection's own checkpoints are off, this is the only one.
                    with suppress(sqlite3.Error):
                        _, pages, _ = own.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                        if pages >= WAL_RESTART_PAGES:
                            self._wal_restart.set()

        with self._guard():
            self._conn.execute("PRAGMA wal_autocheckpoint=0")
        thread = threading.Thread(target=checkpoint, name="checkpoint", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            self._wal_restart.clear()
            with self._guard():
                self._conn.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")

    def close(self) -> None:
        self._conn.close()


def connect(url: str, *, migrate: bool = True) -> Database:
    """Open (and bring up to date) the database named by a path or URL."""
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresDatabase

        return PostgresDatabase(url, migrate=migrate)
    if "://" in url:
        raise StoreError(
            f"unknown database address {url!r}: give a file path for SQLite or a postgresql:// URL"
        )
    return SQLiteDatabase(url, migrate=migrate)


def is_integrity_error(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.IntegrityError):
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    return isinstance(exc, psycopg.IntegrityError)
