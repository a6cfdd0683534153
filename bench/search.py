"""Search benchmark (issue 8): a synthetic store of N posts, the index, 20 typical queries.

    python bench/search.py                       # 1,000,000 posts in a temp dir on /tmp
    python bench/search.py --posts 100000 --runs 20 --out results.json
    python bench/search.py --db /tmp/big.db --keep   # keep (or reuse) the database
    python bench/search.py --url http://127.0.0.1:8000   # also time GET /search on a server

1. **Store.** A fresh Townsquare SQLite database (``open_store``), then N posts
   written straight into ``posts`` with ``executemany`` in big transactions:
   one blog per 300 posts in 12 categories, 1-4 authors a blog, dates over ten
   years, titles of 4-12 words and bodies of 40-4,000 words (log-normal,
   median about 450) in paragraphs of HTML.  Words follow a Zipf law over
   function words, public-sector words and a long tail of made-up words, with
   a few phrases ("digital identity", "freedom of information") planted.
   Posts are generated in two processes; a given seed gives the same store.
2. **Index.** ``open_store`` finds posts with no index and builds it
   (``Store.rebuild_search_index()``, the same code that indexes posts written
   by ingest), timed.  Size from ``dbstat``: the FTS5 tables
   (index and stored text) against the posts table.
3. **Queries.** 20 typical searches (common, middling and rare words,
   phrases, each filter, a date range, date order, an exclusion, malformed
   text), each run once to warm up, then ``--runs`` times through
   ``townsquare.search.search`` (page 1, 20 results, snippets and all).
   Median and 99th percentile per query and over all runs.  The floor is
   FTS5 alone for the plain-word queries: ``ORDER BY rank LIMIT 20`` with no
   filters, window or snippets (the ratio shows what the rest costs, and
   what ranking every match of a common word would cost).
4. **Web.** With ``--url``, the same queries through ``GET /search?q=`` on a
   running Townsquare website (see ``time_web``): page 1 as a reader gets it,
   rendered, over HTTP on the loopback, one request at a time.  The machine's
   load average is printed before and after.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from townsquare.search import search
from townsquare.store import open_store

SEED = 8
POSTS_PER_BLOG = 300
BATCH = 20_000
START = datetime(2016, 6, 1, tzinfo=UTC)
SPAN_SECONDS = 10 * 365 * 86400

FUNCTION = (  # noqa: SIM905 (a word list reads best as text)
    "the of and to a in is that for it as with was on be by this are we from at or an have "
    "not but they which you one all were can there their more if about when will would so "
    "what out up them some into than its only other time could these two may then first any "
    "like new over also our such after most way how people work been has had who just do "
    "make year years us get need because see well good through many those each much where "
    "use used what's being very back help around know last next week month"
).split()
COMMON = (  # noqa: SIM905
    "service services digital council team data users user public local government health "
    "care design support staff community project content website online policy research "
    "information residents housing organisation change working social media teams approach "
    "system systems process products product delivery plan strategy budget funding "
    "council's agile sprint weeknotes meeting meetings workshop colleagues partners "
    "training skills learning open technology platform cloud security"
).split()
MIDDLE = (  # noqa: SIM905
    "accessibility procurement identity transformation consultation citizens patients nurses "
    "doctors schools education volunteers charity library libraries privacy cyber GDPR "
    "prototype discovery alpha beta roadmap backlog standup retrospective hackathon "
    "dashboard analytics survey interviews wellbeing adult children families "
    "carers homelessness recycling waste planning transport parking highways elections "
    "councillors cabinet scrutiny audit inspection regulator ombudsman archive museum "
    "heritage parks leisure tenants landlords repairs benefits pensions tax revenue "
    "inclusion diversity apprentices graduates recruitment leadership culture"
).split()
RARE = (  # noqa: SIM905
    "misinformation FOI blockchain chatbot algorithmic interoperability tokenisation "
    "geospatial ransomware phishing deepfake microsites sandboxing taxonomy metadata "
    "ontology crowdsourcing gamification biometric"
).split()
PHRASES = (
    "digital identity",
    "user research",
    "freedom of information",
    "local government",
    "social care",
    "open data",
    "service design",
    "plain English",
)
FIRST = "Ann Bob Chloe Dev Esther Farid Grace Hana Imran Jo Kwame Lena Mo Nadia Owen Priya".split()  # noqa: SIM905
LAST = "Lee Okafor Patel Smith Jones Khan Evans Brown Walker Wright Hughes Taylor Ali".split()  # noqa: SIM905
CATEGORIES = (
    "Local government",
    "Health",
    "Digital",
    "Comms",
    "Housing",
    "Education",
    "Policing",
    "Social care",
    "Data",
    "Libraries",
    "Transport",
    "Charities",
)


def vocabulary(rng: random.Random) -> list[str]:
    """Words by rank: function words, then public-sector words, then a long tail."""
    syllables = "ba be bi bo ca ce co da de di fa fe go la le li lo ma me mo na ne no pa pe po"
    parts = (syllables + " ra re ri ro sa se so ta te ti to va ve vo za ze").split()
    tail: set[str] = set()
    while len(tail) < 50_000:
        tail.add("".join(rng.choice(parts) for _ in range(rng.randint(2, 4))))
    words = FUNCTION + COMMON + sorted(tail)
    for i, word in enumerate(MIDDLE):  # ranks 800 to about 5,000
        words.insert(800 + i * 40, word)
    for i, word in enumerate(RARE):  # ranks 8,000 to about 35,000
        words.insert(8_000 + i * 1_500, word)
    return words


class Writer:
    """Sentences, titles and bodies from one vocabulary (built once per process)."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        self.words = vocabulary(rng)
        weights = list(itertools.accumulate(1 / (r + 1) ** 1.02 for r in range(len(self.words))))
        self.sentences = []
        for _ in range(120_000):
            chosen = rng.choices(self.words, cum_weights=weights, k=rng.randint(6, 22))
            if rng.random() < 0.005:
                chosen.insert(rng.randrange(len(chosen)), rng.choice(PHRASES))
            text = " ".join(chosen)
            self.sentences.append(text[0].upper() + text[1:] + ".")
        content = self.words[len(FUNCTION) :]
        title_weights = list(itertools.accumulate(1 / (r + 1) for r in range(len(content))))
        self.titles = [
            " ".join(rng.choices(content, cum_weights=title_weights, k=rng.randint(4, 12)))
            for _ in range(20_000)
        ]

    def post(self, rng: random.Random) -> tuple[str, str]:
        words = int(min(4_000, max(40, rng.lognormvariate(math.log(450), 0.7))))
        sentences = rng.choices(self.sentences, k=max(1, words // 14))
        paragraphs = [" ".join(sentences[i : i + 5]) for i in range(0, len(sentences), 5)]
        body = "".join(
            f"<h2>{p[:40]}</h2>" if i % 7 == 6 else f"<p>{p}</p>" for i, p in enumerate(paragraphs)
        )
        title = rng.choice(self.titles)
        return title[0].upper() + title[1:], body


_WRITER: Writer | None = None


def _rows(args: tuple[int, int, int, int, int]) -> list[tuple[object, ...]]:
    """Posts [start, stop) as rows for INSERT INTO posts; deterministic per post."""
    global _WRITER
    seed, start, stop, n_blogs, total = args
    if _WRITER is None:
        _WRITER = Writer(seed)
    out: list[tuple[object, ...]] = []
    for i in range(start, stop):
        rng = random.Random(seed * 1_000_003 + i)
        title, body = _WRITER.post(rng)
        blog = rng.randrange(n_blogs)
        # mostly in date order, as a river is written; some backfill out of order
        when = rng.random() if rng.random() < 0.1 else min(1.0, i / total + rng.random() * 0.001)
        published = START + timedelta(seconds=int(when * SPAN_SECONDS))
        author = f"{FIRST[(blog + i % 3) % len(FIRST)]} {LAST[(blog * 7 + i % 2) % len(LAST)]}"
        out.append(
            (
                i + 1,
                blog + 1,
                f"g{i}",
                f"https://blog{blog}.example/{i}",
                title,
                author,
                published,
                published,
                published,
                body,
                "",
                "[]",
                f"h{i}",
            )
        )
    return out


def build_store(path: str, posts: int, seed: int, log: Callable[[str], None]) -> None:
    n_blogs = max(10, posts // POSTS_PER_BLOG)
    with open_store(path) as store:
        now = datetime.now(UTC)
        rng = random.Random(seed)
        for b in range(n_blogs):
            cats = rng.sample(CATEGORIES, rng.choice((1, 1, 2)))
            store.db.execute(
                "INSERT INTO sources (id, url, title, slug, created_at) VALUES (?, ?, ?, ?, ?)",
                (b + 1, f"https://blog{b}.example/feed", f"Blog {b} notes", f"blog-{b}", now),
            )
            for name in cats:
                store.db.execute(
                    "INSERT INTO source_categories (source_id, category_id) VALUES (?, ?)",
                    (b + 1, store.ensure_category(name)),
                )
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    started = time.perf_counter()
    chunks = [(seed, s, min(posts, s + BATCH), n_blogs, posts) for s in range(0, posts, BATCH)]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        conn.execute("BEGIN")
        for done, rows in enumerate(pool.map(_rows, chunks), 1):
            conn.executemany(
                """INSERT INTO posts (id, source_id, guid, link, title, author, published,
                       first_seen, last_changed, content_html, summary_html, categories,
                       content_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                rows,
            )
            if done % 10 == 0:
                conn.execute("COMMIT")
                conn.execute("BEGIN")
                log(f"  {done * BATCH:,} posts written")
        conn.execute("COMMIT")
    conn.close()
    log(f"Wrote {posts:,} posts in {time.perf_counter() - started:.0f} s")


def index_missing(path: str) -> bool:
    conn = sqlite3.connect(path)
    try:
        return bool(
            conn.execute("SELECT 1 FROM posts LIMIT 1").fetchone()
            and not conn.execute("SELECT 1 FROM search_rows LIMIT 1").fetchone()
        )
    finally:
        conn.close()


def queries(path: str) -> list[str]:
    conn = sqlite3.connect(path)
    author = conn.execute("SELECT author FROM posts WHERE id = 1").fetchone()[0]
    conn.close()
    return [
        "digital",
        "council",
        "service design",
        "accessibility",
        "procurement",
        "identity",
        "misinformation",
        "FOI",
        "bavoleti",
        '"digital identity"',
        '"freedom of information"',
        '"user research" accessibility',
        "blog:blog-17 digital",
        "category:health nurses",
        f'author:"{author}" data',
        "digital after:2024-01-01 before:2024-06-30",
        "accessibility sort:date",
        "housing -council",
        '"digital identity',
        "NEAR(data* ^ council:",
    ]


PLAIN = {"digital", "council", "accessibility", "procurement", "identity", "misinformation", "FOI"}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)]


def time_search(path: str, texts: list[str], runs: int) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    with open_store(path) as store:
        for text in texts:
            results = search(store, text)
            samples = []
            for _ in range(runs):
                started = time.perf_counter()
                search(store, text)
                samples.append((time.perf_counter() - started) * 1000)
            since = results.searched_since
            out[text] = {
                "median_ms": statistics.median(samples),
                "p99_ms": percentile(samples, 99),
                "total": results.total,
                "exact": results.total_is_exact,
            }
            out[text]["samples"] = samples  # type: ignore[assignment]
            out[text]["since"] = since.date().isoformat() if since else None  # type: ignore[assignment]
    return out


def time_floor(path: str, texts: list[str], runs: int) -> dict[str, float]:
    conn = sqlite3.connect(path)
    out = {}
    for text in texts:
        sql = "SELECT rowid FROM post_search WHERE post_search MATCH ? ORDER BY rank LIMIT 20"
        conn.execute(sql, (f'"{text}"',)).fetchall()
        samples = []
        for _ in range(max(3, runs // 4)):
            started = time.perf_counter()
            conn.execute(sql, (f'"{text}"',)).fetchall()
            samples.append((time.perf_counter() - started) * 1000)
        out[text] = statistics.median(samples)
    conn.close()
    return out


def time_web(base_url: str, texts: list[str], runs: int) -> dict[str, dict[str, float]]:
    """The same queries through GET /search?q= on a running website (loopback only)."""
    out = {}
    for text in texts:
        url = f"{base_url.rstrip('/')}/search?{urllib.parse.urlencode({'q': text})}"
        samples = []
        for i in range(runs + 1):
            started = time.perf_counter()
            with urllib.request.urlopen(url, timeout=30) as response:
                response.read()
            if i:
                samples.append((time.perf_counter() - started) * 1000)
        out[text] = {"median_ms": statistics.median(samples), "p99_ms": percentile(samples, 99)}
        out[text]["samples"] = samples  # type: ignore[assignment]
    return out


def sizes(path: str) -> dict[str, int]:
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
    conn.close()
    by_name = dict(rows)
    fts = sum(v for k, v in by_name.items() if k.startswith(("post_search", "search_rows")))
    return {
        "file": os.path.getsize(path),
        "posts_table": by_name.get("posts", 0),
        "search_index": by_name.get("post_search_data", 0) + by_name.get("post_search_idx", 0),
        "search_rows": by_name.get("search_rows", 0),
        "search_all": fts,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30, help="timed runs per query")
    parser.add_argument("--db", help="database file (default: a temp dir on /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--url", help="also time GET URL/search?q= (a running website)")
    parser.add_argument("--out", help="write the figures as JSON")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, flush=True)

    folder = tempfile.mkdtemp(prefix="townsquare-search-", dir="/tmp")
    path = args.db or str(Path(folder) / "search.db")
    report: dict[str, object] = {"posts": args.posts}
    try:
        if not Path(path).exists():
            build_store(path, args.posts, args.seed, log)
        if index_missing(path):
            started = time.perf_counter()
            with open_store(path):  # finds posts without an index, and builds it
                report["index_build_s"] = time.perf_counter() - started
            log(f"Built the search index in {report['index_build_s']:.0f} s")
        report["sizes"] = sizes(path)
        report["load_before"] = os.getloadavg()
        texts = queries(path)
        timed = time_search(path, texts, args.runs)
        floor = time_floor(path, [t for t in texts if t in PLAIN], args.runs)
        report["queries"] = timed
        report["floor_ms"] = floor
        if args.url:
            report["web"] = time_web(args.url, texts, args.runs)
        report["load_after"] = os.getloadavg()
        _print(report)
        if args.out:
            Path(args.out).write_text(json.dumps(report, indent=2))
    finally:
        if not args.keep and not args.db:
            for name in os.listdir(folder):
                os.remove(Path(folder) / name)
            os.rmdir(folder)
    return 0


def _print(report: dict[str, object]) -> None:
    mb = 1024 * 1024
    s: dict[str, int] = report["sizes"]  # type: ignore[assignment]
    print(f"\nSearch over {report['posts']:,} posts (SQLite FTS5)")
    if "index_build_s" in report:
        print(f"Index build: {report['index_build_s']:.0f} s")
    print(
        f"Database {s['file'] / mb:,.0f} MB: posts {s['posts_table'] / mb:,.0f} MB, "
        f"search index {s['search_index'] / mb:,.0f} MB, what each row was indexed with "
        f"but its text {s['search_rows'] / mb:,.0f} MB, all search tables "
        f"{s['search_all'] / mb:,.0f} MB"
    )
    timed: dict[str, dict[str, float]] = report["queries"]  # type: ignore[assignment]
    floor: dict[str, float] = report["floor_ms"]  # type: ignore[assignment]
    web: dict[str, dict[str, float]] = report.get("web", {})  # type: ignore[assignment]
    print(f"\n{'query':<46} {'matches':>9} {'median':>8} {'p99':>8} {'FTS5 floor':>11}", end="")
    print(f" {'web p50':>8} {'web p99':>8}" if web else "")
    for text, t in timed.items():
        total = f"{t['total']:,}" + ("" if t["exact"] else "+") + ("*" if t["since"] else "")
        line = f"{text[:46]:<46} {total:>9} {t['median_ms']:>6.1f}ms {t['p99_ms']:>6.1f}ms"
        line += f" {floor[text]:>9.1f}ms" if text in floor else " " * 12
        if web:
            line += f" {web[text]['median_ms']:>6.1f}ms {web[text]['p99_ms']:>6.1f}ms"
        print(line)
    for text, t in timed.items():
        if t["since"]:
            print(f"* {text!r}: a phrase of common words, searched in posts since {t['since']}")
    samples = [v for t in timed.values() for v in t["samples"]]  # type: ignore[attr-defined]
    print(
        f"\nAll {len(samples)} searches: median {statistics.median(samples):.1f} ms, "
        f"99th percentile {percentile(samples, 99):.1f} ms (target: under 100 ms)"
    )
    worst = max(timed.items(), key=lambda kv: kv[1]["p99_ms"])
    print(f"Slowest query at p99: {worst[0]!r} {worst[1]['p99_ms']:.1f} ms")
    if web:
        through = [v for t in web.values() for v in t["samples"]]  # type: ignore[attr-defined]
        slowest = max(web.items(), key=lambda kv: kv[1]["p99_ms"])
        print(
            f"Through the website, all {len(through)} requests: median "
            f"{statistics.median(through):.1f} ms, 99th percentile {percentile(through, 99):.1f} ms"
            f"; slowest query at p99: {slowest[0]!r} {slowest[1]['p99_ms']:.1f} ms"
        )
    before, after = (
        " ".join(f"{x:.2f}" for x in report[k])  # type: ignore[attr-defined]
        for k in ("load_before", "load_after")
    )
    print(f"Load average (1, 5, 15 minutes): {before} before, {after} after")


if __name__ == "__main__":
    sys.exit(main())
