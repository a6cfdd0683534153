"""The website under load: four pages of a 100,000-post store against a static-file floor.

    python bench/web.py                       # build (or reuse) the store, measure, print
    python bench/web.py --posts 20000 --duration 5 --out web.json

1. **Store.** A SQLite store with ``--posts`` posts (default 100,000) from 500
   blogs in 12 categories, published over five years; each post is 1–6 KB of
   clean blog HTML (paragraphs, a heading, a list, links, an image with its
   size).  Blogs and categories go through the store's API; posts are written
   with direct SQL in one transaction (the ingest path is measured by
   ``bench/ingest.py``).  The file is kept under ``$TMPDIR`` and reused.
2. **Server.** ``townsquare.web`` on uvicorn, one worker, in its own process
   on 127.0.0.1, with a ``/floor/`` mount serving static files (Starlette's
   ``StaticFiles``) from the same process: for each page, a file of exactly
   the page's size.  It runs twice: with the page cache (as deployed) and
   with ``cache_size=0``, rendering every request.
3. **Load.** Debian's ``wrk`` in a second process, 16 connections, 2
   threads, ``--duration`` seconds per URL after a 1-second warm-up: median
   and 99th-percentile latency and requests per second.  No compression
   (wrk sends no Accept-Encoding), so the page and its floor are the same
   bytes on the wire.

Targets (issue 4): every page's p99 under 100 ms; the river's first page at
least half the floor's requests per second.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

STORE_VERSION = 3
HERE = Path(__file__).resolve().parent
WORDS = [
    "service",
    "council",
    "digital",
    "team",
    "users",
    "research",
    "data",
    "housing",
    "health",
    "care",
    "library",
    "form",
    "letter",
    "policy",
    "open",
    "public",
    "design",
    "content",
    "accessible",
    "plain",
    "english",
    "week",
    "notes",
    "budget",
    "resident",
    "patient",
    "staff",
    "platform",
    "identity",
    "access",
    "record",
    "delivery",
    "change",
    "community",
    "local",
    "national",
    "support",
    "report",
    "share",
    "learn",
    "test",
    "prototype",
    "iterate",
]
CATEGORIES = [
    "Local government", "Central government", "Health", "Digital", "Comms", "Charities",
    "Housing", "Education", "Data", "Emergency services", "Libraries", "Transport",
]  # fmt: skip


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 18))]
    return " ".join(words).capitalize() + "."


def _post_html(rng: random.Random, n: int) -> str:
    parts = []
    for i in range(rng.randint(3, 14)):
        text = " ".join(_sentence(rng) for _ in range(rng.randint(2, 5)))
        if i == 1:
            parts.append(f"<h2>{_sentence(rng)[:40]}</h2>")
        if i == 2:
            items = "".join(f"<li>{_sentence(rng)}</li>" for _ in range(3))
            parts.append(f"<ul>{items}</ul>")
        if i == 3:
            parts.append(
                f'<p><img src="https://blog{n % 500}.example/images/{n}.jpg" alt="{_sentence(rng)}"'
                ' width="800" height="450" loading="lazy" decoding="async"></p>'
            )
        link = f'<a href="https://blog{n % 500}.example/{n}/{i}" rel="noopener noreferrer">more</a>'
        parts.append(f"<p>{text} Read {link}.</p>")
    return "".join(parts)


def build_store(path: Path, posts: int, seed: int = 1) -> None:
    sys.path.insert(0, str(HERE.parent / "src"))
    from townsquare.store import open_store

    rng = random.Random(seed)
    start = datetime(2021, 12, 1, tzinfo=UTC)
    span = timedelta(days=5 * 365).total_seconds()
    tmp = path.with_suffix(".building")
    for leftover in tmp.parent.glob(tmp.name + "*"):
        leftover.unlink()
    with open_store(str(tmp)) as store:
        now = datetime.now(UTC)
        blog_ids = []
        for b in range(500):
            cats = rng.sample(CATEGORIES, rng.choice((1, 1, 2)))
            source = store.add_source(
                f"https://blog{b}.example/feed.xml",
                f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} blog {b}",
                site_url=f"https://blog{b}.example/",
                categories=cats,
                now=now,
            )
            blog_ids.append(source.id)
        weights = [1 / (i + 1) ** 0.8 for i in range(len(blog_ids))]
        sources = rng.choices(blog_ids, weights, k=posts)
        rows = []
        for n in range(posts):
            published = start + timedelta(seconds=rng.random() * span)
            title = _sentence(rng)[:70].rstrip(".")
            link = f"https://blog{sources[n] - 1}.example/{published:%Y/%m}/post-{n}"
            html = _post_html(rng, n)
            rows.append(
                (sources[n], link, link, link, title, "A. Writer", published, published,
                 published, html, "", "[]", f"h{n}")
            )  # fmt: skip
        with store.db.transaction():
            store.db.executemany(
                """INSERT INTO posts (source_id, guid, link, canonical_link, title, author,
                       published, first_seen, last_changed, content_html, summary_html,
                       categories, content_hash)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                rows,
            )
        store.db.execute("ANALYZE")
    for suffix in ("-wal", "-shm"):
        Path(str(tmp) + suffix).unlink(missing_ok=True)
    tmp.rename(path)


# --- the server process -------------------------------------------------------------------


def serve(db: str, floor: str, cache_size: int) -> None:
    sys.path.insert(0, str(HERE.parent / "src"))
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles

    from townsquare.config import load
    from townsquare.store import open_store
    from townsquare.web import create_app
    from townsquare.web.serve import bind, server

    config = load({"db": db}, environ={})
    store = open_store(db)
    site = create_app(config, store, cache_size=cache_size)
    app = Starlette(routes=[Mount("/floor", StaticFiles(directory=floor)), Mount("/", site)])
    sock = bind("127.0.0.1", 0)
    print(f"READY {sock.getsockname()[1]}", flush=True)
    server(app).run(sockets=[sock])


# --- measuring ----------------------------------------------------------------------------


@dataclass
class Figures:
    name: str
    path: str
    cache: bool
    bytes: int
    median_ms: float
    p99_ms: float
    rps: float
    floor_median_ms: float = 0.0
    floor_p99_ms: float = 0.0
    floor_rps: float = 0.0


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    assert found, text
    return float(found.group(1)) * _UNITS[found.group(2)]


def wrk(url: str, duration: int, connections: int = 16) -> tuple[float, float, float]:
    """(median ms, p99 ms, requests per second) from wrk, after a 1-second warm-up."""
    subprocess.run(["wrk", "-t2", f"-c{connections}", "-d1s", url], capture_output=True, check=True)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    median = re.search(r"^\s+50%\s+(\S+)\s*$", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)\s*$", out, re.M)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if "Non-2xx" in out or "Socket errors" in out or not (median and p99 and rps):
        raise SystemExit(f"wrk saw errors for {url}:\n{out}")
    return _ms(median.group(1)), _ms(p99.group(1)), float(rps.group(1))


class Server:
    def __init__(self, db: Path, floor: Path, cache_size: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "serve", "--db", str(db), "--floor", str(floor),
             "--cache-size", str(cache_size)],
            stdout=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("READY "):
            raise SystemExit(f"the server did not start: {line!r}")
        self.base = f"http://127.0.0.1:{line.split()[1]}"

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.base + path) as response:
            body: bytes = response.read()
            return body

    def close(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def pages(db: Path) -> dict[str, str]:
    sys.path.insert(0, str(HERE.parent / "src"))
    from townsquare.store import open_store
    from townsquare.web.paths import post_slug

    with open_store(str(db)) as store:
        total = store.count_posts()
        busiest = max(store.blog_activity().items(), key=lambda kv: kv[1].posts)[0]
        blog = store.source(busiest)
        post = store.river(limit=1, offset=total // 3)[0]
    deep = max(total // 10 // 2, 1)
    return {
        "river, page 1": "/",
        f"river, page {deep:,}": f"/page/{deep}",
        "blog (the busiest)": f"/blogs/{blog.slug}",
        "post": f"/posts/{post.id}-{post_slug(post.title)}",
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="command")
    s = sub.add_parser("serve", help="(internal) run the server process")
    s.add_argument("--db", required=True)
    s.add_argument("--floor", required=True)
    s.add_argument("--cache-size", type=int, default=512)
    ap.add_argument("--posts", type=int, default=100_000)
    ap.add_argument("--duration", type=int, default=10, help="seconds of load per URL")
    ap.add_argument("--dir", default=str(Path(tempfile.gettempdir()) / "townsquare-bench-web"))
    ap.add_argument("--out", help="write the figures as JSON")
    args = ap.parse_args(argv)
    if args.command == "serve":
        serve(args.db, args.floor, args.cache_size)
        return 0
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")

    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / f"store-v{STORE_VERSION}-{args.posts}.db"
    if not db.exists():
        t0 = time.monotonic()
        print(f"Building a store of {args.posts:,} posts in {db} ...", flush=True)
        build_store(db, args.posts)
        print(f"  built in {time.monotonic() - t0:.0f} s ({db.stat().st_size / 1e6:.0f} MB)")
    targets = pages(db)
    floor = folder / "floor"
    shutil.rmtree(floor, ignore_errors=True)
    floor.mkdir()

    results: list[Figures] = []
    for cache in (True, False):
        server = Server(db, floor, 512 if cache else 0)
        try:
            for i, (name, path) in enumerate(targets.items()):
                size = len(server.get(path))
                (floor / f"{i}.html").write_bytes(b"x" * size)
                figures = Figures(name, path, cache, size, *wrk(server.base + path, args.duration))
                if cache:  # the floor does not depend on our cache: measured once
                    fm, fp, fr = wrk(f"{server.base}/floor/{i}.html", args.duration)
                else:
                    same = next(r for r in results if r.path == path)
                    fm, fp, fr = same.floor_median_ms, same.floor_p99_ms, same.floor_rps
                figures.floor_median_ms, figures.floor_p99_ms, figures.floor_rps = fm, fp, fr
                results.append(figures)
                print(
                    f"  {'cached' if cache else 'rendered'}: {name}: {size:,} B, "
                    f"median {figures.median_ms:.1f} ms, p99 {figures.p99_ms:.1f} ms, "
                    f"{figures.rps:,.0f} req/s (floor {fr:,.0f} req/s)", flush=True,
                )  # fmt: skip
        finally:
            server.close()

    print(f"\nWebsite, {args.posts:,} posts, 16 connections, {args.duration} s each (wrk)")
    head = f"{'page':<22}{'mode':<10}{'bytes':>9}{'median':>9}{'p99':>9}{'req/s':>9}"
    print(head + f"{'floor req/s':>13}{'÷ floor':>9}{'floor p99':>11}")
    for r in results:
        print(
            f"{r.name:<22}{'cached' if r.cache else 'rendered':<10}{r.bytes:>9,}"
            f"{r.median_ms:>7.1f}ms{r.p99_ms:>7.1f}ms{r.rps:>9,.0f}{r.floor_rps:>13,.0f}"
            f"{r.rps / r.floor_rps:>9.2f}{r.floor_p99_ms:>9.1f}ms"
        )
    river = results[0]
    slowest = max(r.p99_ms for r in results if r.cache)
    print(
        f"\nTargets: p99 under 100 ms on every page (cached: worst {slowest:.1f} ms); river "
        f"page 1 at least 0.5 of the floor's req/s ({river.rps / river.floor_rps:.2f})."
    )
    if args.out:
        Path(args.out).write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
