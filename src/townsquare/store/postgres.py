"""PostgreSQL through psycopg 3: the same SQL as SQLite, other placeholders."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime

import psycopg
from psycopg.abc import Buffer
from psycopg.adapt import PyFormat
from psycopg.rows import DictRow, dict_row
from psycopg.types.datetime import DatetimeDumper, TimestamptzLoader

from ..errors import StoreError
from .db import BaseDatabase, Params, _migrate, to_utc


class _UTCLoader(TimestamptzLoader):
    """Timestamps as SQLite gives them: aware UTC, to the second."""

    def load(self, data: Buffer) -> datetime:
        return to_utc(super().load(data))


class _UTCDumper(DatetimeDumper):
    """Timestamps stored as SQLite stores them: UTC, to the second (naive taken as UTC).

    Read back to the second, a time stored with its microseconds would compare later
    in SQL than the value the store handed out, so a blog or a job due at that time
    would not be due yet."""

    def get_key(self, obj: datetime, format: PyFormat) -> type:
        return self.cls

    def upgrade(self, obj: datetime, format: PyFormat) -> DatetimeDumper:
        return self

    def dump(self, obj: datetime) -> Buffer | None:
        return super().dump(to_utc(obj))


def _one_line(exc: Exception) -> str:
    """psycopg's messages run over several lines; the curator gets one."""
    return " ".join(str(exc).split())


def _sql(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresDatabase(BaseDatabase):
    dialect = "postgresql"
    utf8_text = "convert_from(?, 'UTF8')"
    _integrity_error = psycopg.IntegrityError
    _driver_error = psycopg.Error
    _begin_snapshot = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self._lock = threading.RLock()
        try:
            if migrate:
                _, rest = url.split("://", 1)
                _migrate(f"postgresql+psycopg://{rest}", "postgresql")
            self._conn = psycopg.connect(url, autocommit=True, row_factory=dict_row)
            self._conn.adapters.register_loader("timestamptz", _UTCLoader)
            self._conn.adapters.register_dumper(datetime, _UTCDumper)
        except psycopg.Error as exc:
            raise StoreError(f"cannot open database {url!r}: {_one_line(exc)}") from None

    def _run(self, sql: str, params: Params) -> psycopg.Cursor[DictRow]:
        return self._conn.execute(_sql(sql), params)

    def _describe(self, exc: Exception) -> str:
        return f"database error: {_one_line(exc)}"

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        with self._guard(), self._conn.cursor() as cur:
            cur.executemany(_sql(sql), rows)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock, self._conn.transaction():
            yield

    @contextmanager
    def bulk_writes(self) -> Iterator[None]:
        """Nothing to do here: PostgreSQL's checkpoints never hold up a commit."""
        yield

    def close(self) -> None:
        self._conn.close()
