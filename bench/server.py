"""The feed server of the ingest benchmark: aiohttp.web on 127.0.0.1, its own process.

Serves feed ``i`` of the corpus at ``/feeds/<i>.<ext>`` with its Content-Type, a
strong ETag and Last-Modified, and answers 304 to If-None-Match (or, without
it, If-Modified-Since); with ``--no-validators``, neither, and the whole feed
every time, as many servers do.  ``GET /_stats`` counts responses since the last
``POST /_stats/reset``, with the server's CPU seconds.

Prints ``READY <port>`` on stdout once listening; exits on SIGTERM/SIGINT or
when its stdin closes (so it never outlives the benchmark).

    python bench/server.py --dir CORPUS_DIR --feeds 1000 [--port 0] [--gzip] [--no-validators]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus


@dataclass(frozen=True, slots=True)
class Entry:
    body: bytes
    gz: bytes | None
    content_type: str
    etag: str
    last_modified: str
    updated: datetime


class Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.status: dict[int, int] = {}
        self.bytes = 0
        self.cpu0 = time.process_time()
        self.t0 = time.monotonic()
        self.conditional = 0

    def as_json(self) -> dict[str, object]:
        return {
            "status": {str(k): v for k, v in sorted(self.status.items())},
            "requests": sum(self.status.values()),
            "conditional_requests": self.conditional,
            "bytes": self.bytes,
            "server_cpu_s": round(time.process_time() - self.cpu0, 3),
            "since_reset_s": round(time.monotonic() - self.t0, 3),
        }


def _etag_matches(header: str, etag: str) -> bool:
    bare = etag.removeprefix("W/")
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == bare:
            return True
    return False


def load(directory: Path, n: int, seed: int, use_gzip: bool) -> dict[str, Entry]:
    feeds: dict[str, Entry] = {}
    for m in corpus.corpus_meta(n, seed):
        body = (directory / m.filename).read_bytes()
        feeds[m.filename] = Entry(
            body=body,
            gz=gzip.compress(body, compresslevel=6, mtime=0) if use_gzip else None,
            content_type=m.content_type,
            etag=corpus.etag_of(body),
            last_modified=m.last_modified,
            updated=m.updated,
        )
    return feeds


def make_app(feeds: dict[str, Entry], stats: Stats, validators: bool = True) -> web.Application:
    async def feed(request: web.Request) -> web.StreamResponse:
        e = feeds.get(request.match_info["name"])
        if e is None:
            stats.status[404] = stats.status.get(404, 0) + 1
            raise web.HTTPNotFound()
        gz = e.gz is not None and "gzip" in request.headers.get("Accept-Encoding", "")
        etag = e.etag[:-1] + '-gz"' if gz else e.etag
        headers = {"Cache-Control": "max-age=0"}
        if validators:  # else like the many servers that send the whole feed every time
            headers |= {"ETag": etag, "Last-Modified": e.last_modified}
        if e.gz is not None:
            headers["Vary"] = "Accept-Encoding"
        inm = request.headers.get("If-None-Match")
        ims = request.headers.get("If-Modified-Since")
        if inm is not None or ims is not None:
            stats.conditional += 1
        fresh = False
        if not validators:
            inm = ims = None
        if inm is not None:
            fresh = _etag_matches(inm, e.etag) or _etag_matches(inm, etag)
        elif ims is not None:
            try:
                fresh = e.updated <= parsedate_to_datetime(ims)
            except (TypeError, ValueError):
                fresh = False
        if fresh:
            stats.status[304] = stats.status.get(304, 0) + 1
            return web.Response(status=304, headers=headers)
        body = e.gz if gz and e.gz is not None else e.body
        if gz:
            headers["Content-Encoding"] = "gzip"
        headers["Content-Type"] = e.content_type
        stats.status[200] = stats.status.get(200, 0) + 1
        stats.bytes += len(body)
        return web.Response(body=body, headers=headers)

    async def get_stats(request: web.Request) -> web.Response:
        return web.json_response(stats.as_json())

    async def reset_stats(request: web.Request) -> web.Response:
        stats.reset()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/feeds/{name}", feed)
    app.router.add_get("/_stats", get_stats)
    app.router.add_post("/_stats/reset", reset_stats)
    return app


async def serve(feeds: dict[str, Entry], host: str, port: int, validators: bool = True) -> None:
    stats = Stats()
    runner = web.AppRunner(
        make_app(feeds, stats, validators), access_log=None, handle_signals=False
    )
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(4096)
    site = web.SockSite(runner, sock, backlog=4096)
    await site.start()

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def watch_stdin() -> None:
        # The benchmark holds our stdin open; EOF means it went away.
        try:
            while sys.stdin.buffer.read(1024):
                pass
        except (OSError, ValueError):
            pass
        with contextlib.suppress(RuntimeError):  # the loop may be closed already
            loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch_stdin, daemon=True).start()
    print(f"READY {sock.getsockname()[1]}", flush=True)
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--dir", type=Path, required=True, help="corpus directory (see corpus.py)")
    ap.add_argument("--feeds", type=int, required=True)
    ap.add_argument("--seed", type=int, default=corpus.DEFAULT_SEED)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--gzip", action="store_true", help="serve gzip to clients that accept it")
    ap.add_argument(
        "--no-validators",
        action="store_true",
        help="send no ETag or Last-Modified, and never 304: the whole feed every time",
    )
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    feeds = load(a.dir, a.feeds, a.seed, a.gzip)
    print(
        f"loaded {len(feeds)} feeds in {time.perf_counter() - t0:.1f}s",
        file=sys.stderr,
        flush=True,
    )
    asyncio.run(serve(feeds, a.host, a.port, not a.no_validators))
    return 0


if __name__ == "__main__":
    sys.exit(main())
