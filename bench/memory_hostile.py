"""Peak memory of a pass over many hostile sources (issue 3), against an ordinary pass.

    PYTHONPATH=src .venv/bin/python bench/memory_hostile.py            # 96 sources
    PYTHONPATH=src .venv/bin/python bench/memory_hostile.py --sources 96,384,1536

A server in its own process serves a mix of hostile feeds: bodies at and over the
10 MB cap (with and without Content-Length), gzip and brotli bombs, servers that
drip or never answer, a flood of 400,000 items, a post of 1.2 million unclosed
``<img`` tags, billion laughs, a feed of 10,000 posts, and ordinary small feeds.
``townsquare fetch --all`` runs over them as its own process, with the default
limits (32 fetches at once) except a 15-second deadline and no per-host limit (all
sources are on one host here, and the point is the worst case: every slot busy
with a hostile body at once).  Peak RSS is given for all its processes together
(sampled from /proc every 0.1 s: large passes parse in worker processes) and for
the largest one (``os.wait4``).  The same is done for the same number of
ordinary small feeds, for comparison.

Memory should not grow with the number of hostile sources: it is bounded by how
many bodies are in flight (``fetch_concurrency`` × ``max_body_bytes``) and by the
parsing threads or processes, whatever the pass's length.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CAP = 10_000_000
SMALL = (
    '<?xml version="1.0"?><rss version="2.0"><channel><title>Blog {n}</title>'
    "<link>https://blog{n}.example/</link>"
    + "".join(
        f"<item><title>Post {k}</title><guid>p{k}</guid><link>https://blog{{n}}.example/{k}</link>"
        f"<description>&lt;p&gt;{'Words. ' * 300}&lt;/p&gt;</description></item>"
        for k in range(10)
    )
    + "</channel></rss>"
)


def _rss(items: str) -> bytes:
    head = '<?xml version="1.0"?><rss version="2.0"><channel><title>H</title>'
    return f"{head}{items}</channel></rss>".encode()


def _bodies() -> dict[str, tuple[bytes, dict[str, str]]]:
    """Each hostile kind: its body and extra headers."""
    import brotli

    zeros = b"\0" * (500 * 1_000_000)
    laughs = "".join(f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    at_cap = _rss(
        "<item><title>Huge</title><guid>h</guid><description>&lt;p&gt;"
        + "x" * (CAP - 300)
        + "&lt;/p&gt;</description></item>"
    )
    return {
        "at-cap": (at_cap[:CAP], {}),
        "over-cap": (b"<rss>" + b"x" * (2 * CAP), {}),
        "gzip-bomb": (gzip.compress(zeros, compresslevel=6), {"Content-Encoding": "gzip"}),
        "brotli-bomb": (brotli.compress(zeros, quality=5), {"Content-Encoding": "br"}),
        "items": (
            _rss("".join(f"<item><guid>{n}</guid></item>" for n in range(400_000)))[:CAP],
            {},
        ),
        "img": (
            _rss(f"<item><guid>i</guid><description>{'&lt;img ' * 1_200_000}</description></item>"),
            {},
        ),
        "laughs": (
            f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY l0 "lol">{laughs}]>'.encode()
            + _rss("<item><title>&l9;</title><guid>l</guid></item>")[21:],
            {},
        ),
        "ten-thousand": (
            _rss(
                "".join(
                    f"<item><title>P{n}</title><guid>{n}</guid><link>https://t.example/{n}</link>"
                    f"<description>&lt;p&gt;Post {n}.&lt;/p&gt;</description></item>"
                    for n in range(10_000)
                )
            ),
            {},
        ),
    }


KINDS = ["at-cap", "over-cap", "gzip-bomb", "brotli-bomb", "drip", "silent", "items", "img",
         "laughs", "ten-thousand", "small", "small"]  # fmt: skip


def serve() -> None:
    """The hostile server: prints its port, serves until stdin closes."""
    bodies = _bodies()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            kind, _, n = self.path.strip("/").partition("/")
            try:
                if kind == "drip":
                    self.send_response(200)
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    for _ in range(100):
                        self.wfile.write(b"<")
                        self.wfile.flush()
                        time.sleep(0.2)
                    return
                if kind == "silent":
                    time.sleep(30)
                    return
                if kind == "small":
                    body, headers = SMALL.replace("{n}", n).encode(), {}
                else:
                    body, headers = bodies[kind]
                self.send_response(200)
                for name, value in {"Content-Type": "application/rss+xml", **headers}.items():
                    self.send_header(name, value)
                if kind == "over-cap":
                    self.send_header("Connection", "close")  # no length: read until close
                else:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up on us, as it should

        def handle(self) -> None:
            with contextlib.suppress(OSError):  # the client hung up: fine
                super().handle()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.request_queue_size = 1024
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()


def _tree_rss(root: int) -> int:
    """Resident memory of a process and all its descendants, in kB (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss[int(entry)] = int(line.split()[1])
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def measure(port: int, kinds: list[str], workdir: Path) -> tuple[float, float, float, str]:
    """Run one pass over these sources; give (peak RSS of all its processes together and
    of the largest one, in MB; wall seconds; its summary line)."""
    from townsquare.store import open_store

    db = str(workdir / f"memory-{len(kinds)}-{kinds[0]}.db")
    with open_store(db) as store:
        now = datetime.now(UTC)
        for n, kind in enumerate(kinds):
            store.add_source(f"http://127.0.0.1:{port}/{kind}/{n}", f"{kind} {n}", now=now)
    env = {
        **os.environ,
        "TOWNSQUARE_ALLOW_NETWORKS": "127.0.0.1/32",
        "TOWNSQUARE_FETCH_TIMEOUT": "15",
        "TOWNSQUARE_FETCH_PER_HOST": "64",
    }
    began = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "townsquare", "--db", db, "fetch", "--all"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:  # parsing may run in worker processes: add them all up
        nonlocal peak
        while not done.wait(0.1):
            peak = max(peak, _tree_rss(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert process.stdout is not None
    out = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    done.set()
    sampler.join()
    wall = time.monotonic() - began
    summary = out.strip().splitlines()[-1]
    if os.environ.get("SHOW_FAILURES"):
        print(out)
    if status != 0:
        raise SystemExit(f"townsquare fetch failed ({status}): {out}")
    return peak / 1024, usage.ru_maxrss / 1024, wall, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", default="96", help="comma-separated source counts")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    print("Preparing the hostile server (compressing the bombs takes a few seconds)...")
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert server.stdout is not None and server.stdin is not None
    port = int(server.stdout.readline())
    try:
        with tempfile.TemporaryDirectory(prefix="townsquare-memory-") as tmp:
            print(f"{'sources':>8}  {'pass':<8}  {'all':>7}  {'largest':>7}  {'wall':>6}  summary")
            for count in (int(c) for c in args.sources.split(",")):
                hostile = [KINDS[n % len(KINDS)] for n in range(count)]
                for label, kinds in (("hostile", hostile), ("ordinary", ["small"] * count)):
                    tree, largest, wall, summary = measure(port, kinds, Path(tmp))
                    print(
                        f"{count:>8}  {label:<8}  {tree:>4.0f} MB  {largest:>4.0f} MB"
                        f"  {wall:>5.1f}s  {summary}"
                    )
    finally:
        server.stdin.close()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
