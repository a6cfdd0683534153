"""Backups and restores, done as docs/operations.md says, find the same posts.

SQLite: the backup API (``sqlite3 DB ".backup FILE"``, or ``VACUUM INTO`` from any
SQLite client), taken while the database is open.  PostgreSQL: ``pg_dump`` in the
custom format and ``pg_restore`` into a new database.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from conftest import POSTGRES, FeedServer
from helpers import Item, rss, run_pass
from townsquare.config import Config
from townsquare.model import Post
from townsquare.store import Store, open_store


def fill(store: Store, config: Config, server: FeedServer) -> list[Post]:
    now = datetime.now(UTC)
    for n in range(3):
        items = [Item(f"Post {i} of blog {n}", link=f"https://b{n}.example/{i}") for i in range(4)]
        store.add_source(server.feed(f"/{n}.rss", rss(items)), f"Blog {n}", now=now)
    run_pass(store, config)
    posts = store.river(limit=100)
    assert len(posts) == 12
    return posts


def same_site(original: Store, restored: Store, posts: list[Post]) -> None:
    assert restored.river(limit=100) == posts
    assert [s.url for s in restored.sources()] == [s.url for s in original.sources()]
    assert restored.revision() == original.revision()


@pytest.fixture
def sqlite_config(tmp_path: Path, config: Config) -> Config:
    return replace(config, db=str(tmp_path / "live.db"))


@pytest.mark.parametrize("how", ["vacuum into", "sqlite3 .backup"])
def test_a_sqlite_backup_restores_the_same_posts(
    server: FeedServer, sqlite_config: Config, tmp_path: Path, how: str
) -> None:
    backup = tmp_path / "backup.db"
    with open_store(sqlite_config.db) as live:
        posts = fill(live, sqlite_config, server)
        # Taken while the service has the database open.
        if how == "vacuum into":
            with sqlite3.connect(sqlite_config.db) as client:
                client.execute("VACUUM INTO ?", (str(backup),))
            client.close()
        else:
            if shutil.which("sqlite3") is None:
                pytest.skip("the sqlite3 command is not installed")
            subprocess.run(["sqlite3", sqlite_config.db, f".backup '{backup}'"], check=True)
        restored_path = tmp_path / "restored" / "townsquare.db"
        restored_path.parent.mkdir()
        shutil.copy(backup, restored_path)  # restoring is putting the file in place
        with open_store(str(restored_path)) as restored:
            same_site(live, restored, posts)


@pytest.fixture
def restored_database() -> Iterator[str]:
    name = "townsquare_restore_" + uuid.uuid4().hex[:10]
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed")
def test_a_postgresql_dump_restores_the_same_posts(
    server: FeedServer,
    config: Config,
    pg_url: str,
    restored_database: str,
    tmp_path: Path,
) -> None:
    config = replace(config, db=pg_url)
    schema = pg_url.rsplit("%3D", 1)[1]  # each test has a schema of its own
    dump = tmp_path / "townsquare.dump"
    with open_store(pg_url) as live:
        posts = fill(live, config, server)
        subprocess.run(
            ["pg_dump", "--format=custom", f"--schema={schema}", f"--file={dump}", POSTGRES],
            check=True,
        )
        subprocess.run(
            ["pg_restore", "--no-owner", f"--dbname={restored_database}", str(dump)], check=True
        )
        with open_store(f"{restored_database}?options=-csearch_path%3D{schema}") as restored:
            same_site(live, restored, posts)
