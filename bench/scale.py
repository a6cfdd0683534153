"""How the polling scales: one SQLite process, then 1, 2 and 4 workers on PostgreSQL.

    python bench/scale.py                        # 10,000 feeds; sqlite, pg x1, x2, x4
    python bench/scale.py --feeds 1000 --workers 1,2 --out scale.json

Each configuration gets a fresh database with the corpus's feeds listed
(``import-opml``, not timed), then two timed passes of ``townsquare worker --once``
processes started together, the scheduled path of ``townsquare run``:

- *first*: every feed is new, so every body is parsed, cleaned and stored;
- *unchanged*: every feed made due again; each answers 304 Not Modified, which is
  what most fetches of a running service look like.

For each pass: wall time until the last worker stops, feeds/s and posts/s over
that wall time, the database's size on disk, and for each worker process its
peak RSS and CPU seconds (``os.wait4``; a worker's parsing processes are counted in its CPU, and its
largest one in its peak).  The feed server (``server.py``, the ingest benchmark's)
runs in its own process on the same machine; every feed is on one host, so the
per-host limits are lifted (``fetch_per_host`` 64, ``fetch_host_gap`` 0).
The load average is recorded before and after each pass: the figures are only as
quiet as the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import corpus  # noqa: E402
from ingest import log, make_opml, serve  # noqa: E402

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass
class Worker:
    rc: int
    wall_s: float
    peak_rss_mb: float
    cpu_s: float
    fetched: int
    stderr_tail: str = ""


@dataclass
class Pass:
    backend: str
    workers: int
    name: str  # "first" or "unchanged"
    wall_s: float
    feeds: int
    posts: int
    feeds_per_s: float
    posts_per_s: float
    load_before: float
    load_after: float
    db_mb: float  # the database's size on disk after the pass
    server: dict[str, Any]
    processes: list[Worker] = field(default_factory=list)


def _env(db: str) -> dict[str, str]:
    src = str(ROOT / "src")
    return {
        **os.environ,
        "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "TOWNSQUARE_DB": db,
        "TOWNSQUARE_ALLOW_NETWORKS": "127.0.0.1/32",
        "TOWNSQUARE_FETCH_PER_HOST": "64",
        "TOWNSQUARE_FETCH_HOST_GAP": "0",
        "TOWNSQUARE_CLAIM_LEASE": "600",
    }


def _townsquare(python: str, db: str, *args: str) -> str:
    done = subprocess.run(
        [python, "-m", "townsquare", *args],
        env=_env(db),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"townsquare {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def _workers(python: str, db: str, count: int, batch: int) -> tuple[float, list[Worker]]:
    """Start ``count`` workers together; wall time until the last stops, and each one."""
    with ExitStack() as files:
        return _run_workers(python, db, count, batch, files)


def _run_workers(
    python: str, db: str, count: int, batch: int, files: ExitStack
) -> tuple[float, list[Worker]]:
    started = time.perf_counter()
    procs = []
    for _ in range(count):
        err = files.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 - the stack closes it
        cmd = [python, "-m", "townsquare", "worker", "--once", "--batch", str(batch)]
        proc = subprocess.Popen(
            cmd, env=_env(db), stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL
        )
        procs.append((proc, err))
    out = []
    for proc, err in procs:
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        assert proc.stdout is not None
        said = proc.stdout.read().decode()
        proc.stdout.close()
        err.seek(0)
        tail = err.read().decode(errors="replace")[-1500:]
        words = said.split()
        fetched = int(words[words.index("fetching") + 1]) if "fetching" in words else -1
        out.append(
            Worker(
                rc=proc.returncode,
                wall_s=round(wall, 2),
                peak_rss_mb=round(usage.ru_maxrss / 1024, 1),
                cpu_s=round(usage.ru_utime + usage.ru_stime, 2),
                fetched=fetched,
                stderr_tail=tail if proc.returncode else "",
            )
        )
    return time.perf_counter() - started, out


def _count_posts(db: str) -> int:
    from townsquare.store import open_store

    with open_store(db) as store:
        return store.count_posts(visible_only=False)


def _db_mb(db: str) -> float:
    if "://" not in db:
        files = [Path(db), Path(db + "-wal")]
        return round(sum(f.stat().st_size for f in files if f.exists()) / 1e6, 1)
    from townsquare.store import open_store

    with open_store(db) as store:
        row = store.db.fetchone(
            "SELECT sum(pg_total_relation_size(c.oid)) AS size FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')"
        )
        return round(int(row["size"] if row else 0) / 1e6, 1)


def _make_all_due(db: str) -> None:
    from townsquare.store import open_store

    with open_store(db) as store:
        store.db.execute("UPDATE sources SET next_due_at = NULL")


@contextmanager
def _database(backend: str, work: Path, label: str) -> Iterator[str]:
    if backend == "sqlite":
        yield str(work / f"{label}.db")
        return
    import psycopg

    schema = "bench_" + uuid.uuid4().hex[:10]
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def run_config(
    python: str, backend: str, workers: int, n: int, opml: Path, work: Path, server: Any, batch: int
) -> list[Pass]:
    passes = []
    with _database(backend, work, f"{backend}-{workers}") as db:
        _townsquare(python, db, "import-opml", str(opml))
        posts_before = 0
        for name in ("first", "unchanged"):
            if name == "unchanged":
                _make_all_due(db)
            server.reset()
            load_before = _load()
            log(f"{backend} x{workers}: {name} pass (load {load_before})")
            wall, procs = _workers(python, db, workers, batch)
            posts = _count_posts(db)
            new_posts = posts - posts_before
            posts_before = posts
            p = Pass(
                backend=backend,
                workers=workers,
                name=name,
                wall_s=round(wall, 2),
                feeds=sum(w.fetched for w in procs),
                posts=new_posts,
                feeds_per_s=round(n / wall, 1),
                posts_per_s=round(new_posts / wall, 1),
                load_before=load_before,
                load_after=_load(),
                db_mb=_db_mb(db),
                server=server.stats(),
                processes=procs,
            )
            bad = [w for w in procs if w.rc]
            if bad:
                raise SystemExit(f"a worker failed:\n{bad[0].stderr_tail}")
            log(
                f"  {p.wall_s} s, {p.feeds_per_s} feeds/s, {p.posts_per_s} posts/s, "
                f"peak RSS {max(w.peak_rss_mb for w in procs)} MB"
            )
            passes.append(p)
    return passes


def table(passes: list[Pass]) -> str:
    lines = [
        "| backend | workers | pass | wall s | feeds/s | posts/s | peak RSS per worker MB "
        "| CPU s per worker | DB MB | load before → after |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for p in passes:
        rss = max(w.peak_rss_mb for w in p.processes)
        cpu = sum(w.cpu_s for w in p.processes) / len(p.processes)
        lines.append(
            f"| {p.backend} | {p.workers} | {p.name} | {p.wall_s:,.1f} | {p.feeds_per_s:,.1f} "
            f"| {p.posts_per_s:,.0f} | {rss:,.0f} | {cpu:,.1f} | {p.db_mb:,.0f} "
            f"| {p.load_before} → {p.load_after} |"
        )
    return "\n".join(lines)


def scaling(passes: list[Pass]) -> str:
    first = {p.workers: p for p in passes if p.backend == "postgresql" and p.name == "first"}
    if 1 not in first:
        return ""
    base = first[1].feeds_per_s
    parts = [f"{w} workers: {p.feeds_per_s / base:.2f}×" for w, p in sorted(first.items())]
    return "PostgreSQL speed-up over one worker (first pass): " + ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--feeds", type=int, default=10_000)
    ap.add_argument("--workers", default="1,2,4", help="PostgreSQL worker counts")
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--no-postgresql", action="store_true")
    ap.add_argument("--batch", type=int, default=50, help="blogs a worker claims at a time")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--seed", type=int, default=corpus.DEFAULT_SEED)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))

    n = a.feeds
    directory, metas, spent = corpus.ensure_corpus(n, a.seed)
    log(f"corpus: {n} feeds in {directory} ({spent:.0f} s to make)")
    passes: list[Pass] = []
    with tempfile.TemporaryDirectory(prefix="townsquare-scale-") as tmp:
        work = Path(tmp)
        with serve(a.python, directory, n, a.seed, False, work / "server.log") as server:
            opml = work / "feeds.opml"
            opml.write_text(make_opml([f"{server.base}/feeds/{m.filename}" for m in metas]))
            if not a.no_sqlite:
                passes += run_config(a.python, "sqlite", 1, n, opml, work, server, a.batch)
            if not a.no_postgresql:
                for w in (int(x) for x in a.workers.split(",")):
                    passes += run_config(a.python, "postgresql", w, n, opml, work, server, a.batch)
    print()
    print(f"{n:,} feeds on {os.cpu_count()} cores")
    print(table(passes))
    print(scaling(passes))
    if a.out:
        a.out.write_text(json.dumps([asdict(p) for p in passes], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
