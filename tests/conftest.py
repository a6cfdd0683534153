"""Shared fixtures: a real HTTP server on 127.0.0.1, a fresh store, the command line."""

from __future__ import annotations

import hashlib
import io
import ipaddress
import threading
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from townsquare import cli
from townsquare.config import Config, load
from townsquare.store import Store, open_store

DATA = Path(__file__).parent / "data"
FEEDS = DATA / "feeds"
LOOPBACK = (ipaddress.ip_network("127.0.0.1/32"),)


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    path: str
    headers: dict[str, str]


Route = Callable[[Request], Response]


class FeedServer:
    """A real HTTP server on 127.0.0.1 with routes set by each test.

    ``feed(path, body)`` serves a feed with ETag and Last-Modified and answers
    conditional requests with 304; ``route(path, fn)`` gives full control.
    Every request is recorded in ``requests``.
    """

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                request = Request(self.path, {k.lower(): v for k, v in self.headers.items()})
                outer.requests.append(request)
                route = outer.routes.get(self.path)
                response = route(request) if route else Response(404, b"not found")
                self.send_response(response.status)
                headers = {"Content-Length": str(len(response.body)), **response.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if response.body:
                    self.wfile.write(response.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, handler: Route) -> str:
        self.routes[path] = handler
        return self.url(path)

    def respond(self, path: str, response: Response) -> str:
        return self.route(path, lambda _request: response)

    def feed(self, path: str, body: bytes | str, content_type: str = "application/xml") -> str:
        """Serve a feed with validators; conditional requests get 304."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        etag = '"' + hashlib.sha1(data).hexdigest() + '"'
        modified = formatdate(1_700_000_000, usegmt=True)

        def handler(request: Request) -> Response:
            if request.headers.get("if-none-match") == etag:
                return Response(304, headers={"ETag": etag})
            return Response(
                200, data, {"Content-Type": content_type, "ETag": etag, "Last-Modified": modified}
            )

        return self.route(path, handler)

    def file(self, path: str, name: str, content_type: str = "application/xml") -> str:
        return self.feed(path, (FEEDS / name).read_bytes(), content_type)

    def hits(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def server() -> Iterator[FeedServer]:
    srv = FeedServer()
    yield srv
    srv.close()


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "townsquare.db")


@pytest.fixture
def config(db_path: str) -> Config:
    return load({"db": db_path}, environ={"TOWNSQUARE_ALLOW_NETWORKS": "127.0.0.1/32"})


@pytest.fixture
def store(config: Config) -> Iterator[Store]:
    with open_store(config.db) as s:
        yield s


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def run(db_path: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run the command line in-process against the test database."""
    monkeypatch.setenv("TOWNSQUARE_ALLOW_NETWORKS", "127.0.0.1/32")
    monkeypatch.delenv("TOWNSQUARE_DB", raising=False)

    def invoke(*args: str) -> Result:
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = cli.main(["--db", db_path, *args])
        return Result(code, out.getvalue(), err.getvalue())

    return invoke
