"""Which SQLite the store runs on: the newer one that PyPI has built (pysqlite3-binary,
the ``sqlite`` extra, which scripts/setup installs where there is a wheel for it), and
Python's own everywhere else. A database written by either is read by the other."""

from __future__ import annotations

import io
import os
import platform
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from conftest import FeedServer
from helpers import Item, rss
from townsquare import cli
from townsquare.store import db as db_module

SRC = str(Path(__file__).resolve().parent.parent / "src")


def _without_pysqlite3(db: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The command line in a process where pysqlite3 cannot be imported, as on a machine
    with no wheel for it; it first prints the SQLite module the store chose."""
    code = (
        "import sys\n"
        "sys.modules['pysqlite3'] = None\n"
        "from townsquare.store import db\n"
        "print(db.sqlite3.__name__)\n"
        "from townsquare.cli import main\n"
        f"sys.exit(main(['--db', {db!r}, *{list(args)!r}]))\n"
    )
    env = {**os.environ, "PYTHONPATH": SRC, "TOWNSQUARE_ALLOW_NETWORKS": "127.0.0.1/32"}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )


@pytest.mark.skipif(
    not (
        sys.platform == "linux"
        and platform.machine() == "x86_64"
        and platform.libc_ver()[0] == "glibc"
    ),
    reason="pysqlite3-binary is built for x86-64 Linux with glibc only",
)
def test_where_there_is_a_wheel_the_store_runs_on_the_newer_sqlite() -> None:
    assert db_module.sqlite3.__name__ == "pysqlite3.dbapi2"
    assert db_module.sqlite3.sqlite_version_info >= (3, 51)


def test_without_it_the_store_runs_on_pythons_own_and_the_database_is_the_same(
    server: FeedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = str(tmp_path / "townsquare.db")  # SQLite, whichever backend the suite is testing
    posts = [
        Item(
            "Weeknotes 12",
            link="https://digital.northshire.example/weeknotes-12",
            content="<p>We shipped the benefits form.</p>",
        )
    ]
    feed = server.feed("/feed.xml", rss(posts, title="Northshire digital"))
    for args in (["init"], ["add", feed], ["fetch", "--all"]):
        done = _without_pysqlite3(db, *args)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[0] == "sqlite3"
    found = _without_pysqlite3(db, "search", "benefit")
    assert found.returncode == 0, found.stderr
    assert "1 result for 'benefit'" in found.stdout
    assert "Weeknotes 12" in found.stdout

    # The same database through the store as this process has it (the newer SQLite,
    # where there is a wheel): what the other wrote is there, and what this one writes
    # is there for the other.
    monkeypatch.setenv("TOWNSQUARE_ALLOW_NETWORKS", "127.0.0.1/32")
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli.main(["--db", db, "search", "shipped"]) == 0
    assert "1 result for 'shipped'" in out.getvalue()
    posts.append(
        Item(
            "Weeknotes 13",
            link="https://digital.northshire.example/weeknotes-13",
            content="<p>Research with council tenants.</p>",
        )
    )
    server.feed("/feed.xml", rss(posts, title="Northshire digital"))
    with redirect_stdout(io.StringIO()):
        assert cli.main(["--db", db, "fetch", "--all"]) == 0
    found = _without_pysqlite3(db, "search", "tenant")
    assert found.returncode == 0, found.stderr
    assert "1 result for 'tenant'" in found.stdout
    assert "Weeknotes 13" in found.stdout
