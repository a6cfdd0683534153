"""Real time: how long a post takes from entering one Townsquare to showing on another's river.

    python bench/websub.py                   # 30 posts
    python bench/websub.py --posts 100 --out websub.json

Two Townsquare instances, A and B, in processes of their own on 127.0.0.1:

- A's website, with its feeds and its hub (``/websub/hub``); until the website
  serves the feeds itself, this script serves them in front of it, as
  ``publish`` renders them;
- A's ``townsquare websub run``, which sends A's new posts to A's subscribers;
- B's website (``townsquare serve``), whose callback receives them.

B follows A's river (``townsquare add``, then ``fetch``, which learns A's hub
from A's feed) and subscribes there (``townsquare websub renew``).  Then, post
by post: a blog on a server in this process gains a post; this process
ingests it into A through the pipeline (the clock starts when that pass
returns and the post is in A's store); then it asks for B's river page every
2 ms until the post's title is on it.

The floor is the same wait for a post ingested straight into B (B's own
pipeline, then B's page): what pushing adds is the rest.  Hourly polling, the
default, would show a post 30 minutes after it appeared, on average.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
sys.path.insert(0, str(SRC))

from townsquare.config import Config, load  # noqa: E402
from townsquare.ingest.pipeline import Ingest  # noqa: E402
from townsquare.store import Store, open_store  # noqa: E402
from townsquare.store.websub import SubscriptionState  # noqa: E402

POLL = 0.002  # seconds between looks at B's river
HOURLY_POLLING = 1800.0  # seconds: the average wait for a post under hourly polling


class Blog:
    """A blog whose RSS feed gains a post at a time, on a plain HTTP server."""

    def __init__(self) -> None:
        self.items: list[str] = []
        blog = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = blog.feed().encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/feed.rss"

    def write(self, title: str) -> None:
        n = len(self.items) + 1
        self.items.insert(
            0,
            f"<item><title>{title}</title><link>https://blog.example/{n}</link>"
            f"<guid>post-{n}</guid><description>&lt;p&gt;Post {n}.&lt;/p&gt;</description></item>",
        )

    def feed(self) -> str:
        return (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>Blog</title>'
            "<link>https://blog.example/</link>" + "".join(self.items[:20]) + "</channel></rss>"
        )


def serve_with_feeds(db: str) -> None:
    """Child mode: A's website with its feeds in front, on a free port; prints the address."""
    from dataclasses import replace

    from starlette.responses import Response
    from starlette.types import Receive, Scope, Send

    from townsquare.publish.feeds import load_feed, render_feed
    from townsquare.publish.paths import feed_at
    from townsquare.web import create_app
    from townsquare.web.serve import address, bind, server

    sock = bind("127.0.0.1", 0)
    config = replace(settings(db), base_url=address(sock))
    store = open_store(db)
    site = create_app(config, store)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            found = feed_at(scope["path"].lstrip("/"))
            if found is not None:
                document = render_feed(load_feed(store, config, found[0]), found[1])
                await Response(document.body, headers=document.headers)(scope, receive, send)
                return
        await site(scope, receive, send)

    print(f"A is at {config.base_url}", flush=True)
    server(app).run(sockets=[sock])


def settings(db: str, base_url: str | None = None) -> Config:
    env = {"TOWNSQUARE_ALLOW_NETWORKS": "127.0.0.1/32"}
    if base_url:
        env["TOWNSQUARE_BASE_URL"] = base_url
    return load({"db": db}, environ=env)


def environment(base_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "PYTHONUNBUFFERED": "1",
        "TOWNSQUARE_ALLOW_NETWORKS": "127.0.0.1/32",
        "TOWNSQUARE_BASE_URL": base_url,
    }


def start(args: list[str], env: dict[str, str], marker: str) -> tuple[subprocess.Popen[str], str]:
    """Start a process; gives it and the address on the line that starts with ``marker``."""
    proc = subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if marker in line:
            return proc, line.split(" is at ")[-1].split()[0] if " is at " in line else ""
    raise SystemExit(f"{' '.join(args)} stopped before it started")


def townsquare(db: str, env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "townsquare", "--db", db, *args], env=env, check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip


def ingest(store: Store, config: Config) -> None:
    async def run() -> None:
        pipeline = Ingest(store, config)
        try:
            await pipeline.run_pass(force=True)
        finally:
            pipeline.close()

    asyncio.run(run())


def until_shown(url: str, title: str, timeout: float = 30.0) -> float:
    """Seconds until ``title`` is on the page at ``url``."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        with urllib.request.urlopen(url, timeout=10) as answer:
            if title.encode() in answer.read():
                return time.monotonic() - began
        time.sleep(POLL)
    raise SystemExit(f"{title!r} did not reach {url} within {timeout:g} seconds")


def summary(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    return {
        "min_ms": round(ms[0], 1),
        "median_ms": round(statistics.median(ms), 1),
        "p95_ms": round(ms[max(0, round(0.95 * len(ms)) - 1)], 1),
        "max_ms": round(ms[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=30)
    parser.add_argument("--out", help="write the figures as JSON here too")
    parser.add_argument("--serve-with-feeds", metavar="DB", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_with_feeds:
        serve_with_feeds(args.serve_with_feeds)
        return

    folder = Path(tempfile.mkdtemp(prefix="townsquare-bench-websub-"))
    a_db, b_db = str(folder / "a.db"), str(folder / "b.db")
    blog, local = Blog(), Blog()
    children: list[subprocess.Popen[str]] = []
    try:
        a_store = open_store(a_db)
        a_store.add_source(blog.url, "Blog", now=datetime.now(UTC))
        blog.write("First post")
        web, a_url = start(
            [sys.executable, __file__, "--serve-with-feeds", a_db], environment(""), "A is at"
        )
        children.append(web)
        a_config = settings(a_db, a_url)
        ingest(a_store, a_config)
        hub, _ = start(
            [sys.executable, "-m", "townsquare", "--db", a_db, "websub", "run"],
            environment(a_url),
            "Sending and receiving",
        )
        children.append(hub)
        b_web, b_url = start(
            [sys.executable, "-m", "townsquare", "--db", b_db, "serve", "--port", "0"],
            environment(""),
            "is at",
        )
        children.append(b_web)
        townsquare(b_db, environment(b_url), "add", a_url + "feed.atom", "--title", "A")
        townsquare(b_db, environment(b_url), "fetch")  # learns A's hub from A's feed
        townsquare(b_db, environment(b_url), "websub", "renew")
        b_store = open_store(b_db)
        b_store.add_source(local.url, "Local blog", now=datetime.now(UTC))
        deadline = time.monotonic() + 10
        while not any(s.state is SubscriptionState.ACTIVE for s in b_store.subscriptions()):
            if time.monotonic() > deadline:
                found = [(s.state, s.last_error) for s in b_store.subscriptions()]
                raise SystemExit(f"B's subscription at A's hub was not confirmed: {found}")
            time.sleep(0.05)

        pushed, floor = [], []
        rng = random.Random(6)
        b_config = settings(b_db, b_url)
        for n in range(1, args.posts + 1):
            blog.write(f"Pushed post {n}")
            ingest(a_store, a_config)
            pushed.append(until_shown(b_url, f"Pushed post {n}"))
            local.write(f"Local post {n}")
            ingest(b_store, b_config)
            floor.append(until_shown(b_url, f"Local post {n}"))
            time.sleep(rng.uniform(0.1, 0.4))  # no rhythm for the hub's tick to fall into
    finally:
        for child in children:
            child.terminate()
            child.wait(10)

    push, base = summary(pushed), summary(floor)
    median = statistics.median(pushed)
    print(f"{args.posts} posts, A to B's river page, over real HTTP on 127.0.0.1\n")
    print(f"{'':<24}{'min':>9}{'median':>9}{'p95':>9}{'max':>9}")
    for name, row in (("pushed from A (WebSub)", push), ("straight into B (floor)", base)):
        cells = "".join(f"{row[k]:>7.0f}ms" for k in ("min_ms", "median_ms", "p95_ms", "max_ms"))
        print(f"{name:<24}{cells}")
    print(f"\npush ÷ floor (median): {median / statistics.median(floor):.1f}")
    print(f"hourly polling ÷ push (median): {HOURLY_POLLING / median:,.0f}")
    if args.out:
        Path(args.out).write_text(json.dumps({"posts": args.posts, "push": push, "floor": base}))


if __name__ == "__main__":
    main()
