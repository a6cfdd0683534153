"""A small feed server on 127.0.0.1 for the bundled sample blogs.

The demo needs no internet: it serves ``demo/feeds/`` at ``/feeds/<file>``
with ETag and Last-Modified, and Townsquare ingests them through the normal
path, the way it would any blog.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

from ..store import Store

_TYPES = {
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".rdf": "application/rdf+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
}


@dataclass(frozen=True, slots=True)
class SampleBlog:
    file: str
    title: str
    site_url: str
    categories: tuple[str, ...]
    excerpts_only: bool = False


def sample_blogs() -> list[SampleBlog]:
    raw = json.loads((resources.files("townsquare.demo") / "blogs.json").read_text("utf-8"))
    return [
        SampleBlog(
            b["file"],
            b["title"],
            b["site_url"],
            tuple(b.get("categories", ())),
            bool(b.get("excerpts_only", False)),
        )
        for b in raw
    ]


def add_sample_blogs(store: Store, base: str, now: datetime) -> int:
    """List the sample blogs served at ``base`` (from ``serve_samples``); gives how many."""
    blogs = sample_blogs()
    for blog in blogs:
        url = f"{base}feeds/{blog.file}"
        if store.source_by_url(url) is None:
            source = store.add_source(
                url, blog.title, site_url=blog.site_url, categories=blog.categories, now=now
            )
            if blog.excerpts_only:
                store.update_source(source.id, excerpts_only=True)
    return len(blogs)


def _feed(name: str) -> bytes | None:
    if "/" in name or name.startswith("."):
        return None
    path = resources.files("townsquare.demo") / "feeds" / name
    return path.read_bytes() if path.is_file() else None


class _Handler(BaseHTTPRequestHandler):
    server_version = "TownsquareDemo"
    started = formatdate(usegmt=True)

    def do_GET(self) -> None:
        name = self.path.split("?", 1)[0].removeprefix("/feeds/")
        body = _feed(name) if self.path.startswith("/feeds/") else None
        if body is None:
            self.send_error(404)
            return
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        suffix = "." + name.rsplit(".", 1)[-1]
        self.send_response(200)
        self.send_header("Content-Type", _TYPES.get(suffix, "application/octet-stream"))
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", self.started)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve_samples() -> Iterator[str]:
    """Serve the sample feeds; yields the base URL, for example http://127.0.0.1:41234/."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
