"""Digest benchmark (issue 7): one daily digest run for N subscribers, against a floor.

    python bench/digest.py                      # 10,000 subscribers; plain, then DKIM-signed
    python bench/digest.py --subscribers 1000 --db postgresql://127.0.0.1:5432/test

Everything runs on 127.0.0.1.  An aiosmtpd server in its own process counts
what it accepts.  The database is filled through the real paths: 20 blogs
served by a local HTTP server and ingested by ``townsquare.ingest``, then
subscribers (half take every category, half one or two of five) confirmed
two days ago.  Each measured step is its own process; its wall time, peak
RSS and CPU come from ``os.wait4``:

- ``townsquare``: ``townsquare digest send --frequency daily --json``, and the
  same with DKIM signing on a fresh copy of the database.
- ``floor``: the least any sender must do: smtplib sends N ready-made messages
  of the same size over the same kind of connection (a new one every 100
  messages), with no database, no rendering and no signing.

The closing table gives the ratio townsquare ÷ floor.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SRC = REPO / "src"
DKIM_KEY = REPO / "tests" / "data" / "dkim" / "test-only.key"
CATEGORIES = ["Digital", "Health", "Local government", "Housing", "Comms"]
SECRET = "bench-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the SMTP server, in its own process ----------------------------------------------


def serve_smtp(port: int, out: Path) -> None:
    from aiosmtpd.controller import Controller

    class Counter:
        messages = 0
        size = 0

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            Counter.messages += 1
            Counter.size += len(envelope.original_content)
            return "250 OK"

    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    controller.stop()
    out.write_text(json.dumps({"messages": Counter.messages, "bytes": Counter.size}))


class SMTPProcess:
    def __init__(self, tmp: Path, name: str) -> None:
        self.port = free_port()
        self.out = tmp / f"smtp-{name}.json"
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "serve-smtp", str(self.port), str(self.out)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"

    def stop(self) -> dict[str, int]:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.communicate(timeout=30)
        return dict(json.loads(self.out.read_text()))


# -- the floor: ready-made messages through smtplib -------------------------------------


def floor(port: int, count: int, size: int) -> None:
    line = b"x" * 76 + b"\r\n"
    body = line * max(1, size // len(line))
    t0 = time.perf_counter()
    smtp: smtplib.SMTP | None = None
    for i in range(count):
        if smtp is None or i % 100 == 0:
            if smtp is not None:
                smtp.quit()
            smtp = smtplib.SMTP("127.0.0.1", port)
            smtp.ehlo()
        to = f"reader{i}@example.org"
        smtp.sendmail("digest@bench.example", [to], b"To: " + to.encode() + b"\r\n\r\n" + body)
    if smtp is not None:
        smtp.quit()
    print(json.dumps({"seconds": time.perf_counter() - t0}))


# -- filling the database through the real paths -----------------------------------------


def _feed(i: int, posts: int) -> bytes:
    site = f"https://blog{i}.example/"
    rng = random.Random(i)
    items = "".join(
        f"""<item><title>Post {j} of blog {i}: notes on services</title>
        <link>{site}p{j}</link><guid>{site}p{j}</guid>
        <pubDate>Tue, 24 Nov 2026 {10 + j % 10}:00:00 GMT</pubDate>
        <author>a@b.example (Author {i})</author>
        <description>{escape("<p>" + " ".join(rng.choice(WORDS) for _ in range(120)) + "</p>")}
        </description></item>"""
        for j in range(posts)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Blog {i}</title>'
        f"<link>{site}</link>{items}</channel></rss>"
    ).encode()


WORDS = ["the", "service", "users", "we", "team", "data", "form", "council", "housing", "care"]


def populate(db: str, subscribers: int, blogs: int, posts: int) -> None:
    sys.path.insert(0, str(SRC))
    import asyncio

    from townsquare.config import load
    from townsquare.ingest.pipeline import Ingest
    from townsquare.model import Frequency
    from townsquare.store import open_store

    feeds = {f"/feed{i}.xml": _feed(i, posts) for i in range(blogs)}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = feeds.get(self.path, b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{http.server_address[1]}"
    config = load({"db": db}, environ={"TOWNSQUARE_ALLOW_NETWORKS": "127.0.0.1/32"})
    now = datetime.now(UTC)
    with open_store(db) as store:
        for i in range(blogs):
            store.add_source(
                f"{base}/feed{i}.xml",
                f"Blog {i}",
                site_url=f"https://blog{i}.example/",
                categories=[CATEGORIES[i % len(CATEGORIES)]],
                now=now,
            )
        ingest = Ingest(store, config)
        try:
            asyncio.run(ingest.run_pass(force=True))
        finally:
            ingest.close()
        # As if fetched an hour ago: a run covers posts first seen 5 minutes before it.
        store.db.execute("UPDATE posts SET first_seen = ?", (now - timedelta(hours=1),))
        ids = {c.name: c.id for c in store.categories()}
        rng = random.Random(1)
        confirmed = now - timedelta(days=2)
        for n in range(subscribers):
            chosen = None
            if n % 2:
                chosen = [ids[c] for c in rng.sample(CATEGORIES, rng.randint(1, 2))]
            address = f"reader{n:05d}@example.org"
            sub = store.request_subscription(address, address, Frequency.DAILY, chosen, confirmed)
            store.confirm_subscriber(sub.id, confirmed)
    http.shutdown()


# -- measuring ----------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    rc: int
    wall_s: float
    peak_rss_mb: float
    cpu_s: float
    stdout: str
    stderr: str


def measured(name: str, cmd: list[str], env: dict[str, str], timeout: float) -> Run:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env={**os.environ, **env}
        )
        timer = threading.Timer(timeout, p.kill)
        timer.start()
        _, status, usage = os.wait4(p.pid, 0)
        timer.cancel()
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        return Run(
            name,
            os.waitstatus_to_exitcode(status),
            wall,
            usage.ru_maxrss / 1024,
            usage.ru_utime + usage.ru_stime,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
        )


def copy_db(source: str, target: str) -> str:
    if "://" in source:
        raise SystemExit("--dkim with PostgreSQL needs a second database: use SQLite for both")
    shutil.copyfile(source, target)
    return target


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--subscribers", type=int, default=10_000)
    ap.add_argument("--blogs", type=int, default=20)
    ap.add_argument("--posts", type=int, default=5, help="posts per blog")
    ap.add_argument("--db", help="a postgresql:// URL (default: SQLite in a temp dir)")
    ap.add_argument("--no-dkim", action="store_true", help="skip the DKIM-signed run")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--out", type=Path, help="write the results as JSON")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="townsquare-bench-digest-"))
    db = args.db or str(tmp / "digest.db")
    log(f"filling {db}: {args.blogs} blogs x {args.posts} posts, {args.subscribers} subscribers")
    t0 = time.perf_counter()
    populate(db, args.subscribers, args.blogs, args.posts)
    log(f"filled in {time.perf_counter() - t0:.1f} s")
    plain_db = db
    dkim_db = None if args.no_dkim or "://" in db else copy_db(db, str(tmp / "dkim.db"))

    env = {
        "PYTHONPATH": str(SRC),
        "TOWNSQUARE_SECRET_KEY": SECRET,
        "TOWNSQUARE_BASE_URL": "https://bench.example/",
        "TOWNSQUARE_SMTP_HOST": "127.0.0.1",
        "TOWNSQUARE_SMTP_SECURITY": "none",
        "TOWNSQUARE_SMTP_FROM": "Bench <digest@bench.example>",
    }
    cmd = [sys.executable, "-m", "townsquare", "digest", "send", "--frequency", "daily", "--json"]
    startup = measured("start-up", [sys.executable, "-m", "townsquare", "--help"], env, 60)
    rows: list[tuple[Run, dict[str, Any], dict[str, int]]] = []
    for name, database, extra in (
        ("townsquare", plain_db, {}),
        ("townsquare+dkim", dkim_db, {"TOWNSQUARE_DKIM_PRIVATE_KEY": str(DKIM_KEY)}),
    ):
        if database is None:
            continue
        smtp = SMTPProcess(tmp, name)
        log(f"{name}: sending")
        run = measured(
            name,
            [*cmd[:3], "--db", database, *cmd[3:]],
            {**env, **extra, "TOWNSQUARE_SMTP_PORT": str(smtp.port)},
            args.timeout,
        )
        received = smtp.stop()
        if run.rc != 0:
            log(f"{name} failed ({run.rc}): {run.stderr.strip()[-2000:]}")
            return 1
        rows.append((run, json.loads(run.stdout)[0], received))

    sent = rows[0][2]
    average = sent["bytes"] // max(1, sent["messages"])
    smtp = SMTPProcess(tmp, "floor")
    log(f"floor: {sent['messages']} messages of {average} bytes")
    floor_run = measured(
        "floor",
        [sys.executable, __file__, "floor", str(smtp.port), str(sent["messages"]), str(average)],
        {},
        args.timeout,
    )
    floor_received = smtp.stop()

    print(
        f"\n== One daily digest run: {args.subscribers} subscribers, "
        f"{args.blogs * args.posts} new posts =="
    )
    print(
        f"townsquare --help: {startup.wall_s:.2f} s wall, {startup.peak_rss_mb:.0f} MB peak RSS "
        "(start-up, included below)"
    )
    print(
        f"{'':<17}{'wall s':>8}{'CPU s':>8}{'peak RSS MB':>13}{'sent':>8}{'digests/s':>11}"
        f"{'avg KB':>8}"
    )
    results: dict[str, Any] = {"subscribers": args.subscribers, "startup": startup.__dict__}
    for run, report, received in [*rows, (floor_run, {}, floor_received)]:
        rate = received["messages"] / run.wall_s
        kb = received["bytes"] / max(1, received["messages"]) / 1024
        print(
            f"{run.name:<17}{run.wall_s:>8.1f}{run.cpu_s:>8.1f}{run.peak_rss_mb:>13.0f}"
            f"{received['messages']:>8}{rate:>11.0f}{kb:>8.1f}"
        )
        results[run.name] = {**run.__dict__, "report": report, "received": received}
    for run, _, _ in rows:
        print(f"{run.name} ÷ floor: {run.wall_s / floor_run.wall_s:.1f}x wall time")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, default=str))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve-smtp":
        serve_smtp(int(sys.argv[2]), Path(sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "floor":
        floor(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        raise SystemExit(main())
