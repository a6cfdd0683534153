"""WebSub fixtures: whole Townsquare instances on real uvicorn servers, a stand-in
subscriber or hub on a plain HTTP server, and WebSub's background work in a thread.

Everything talks over real HTTP on 127.0.0.1; every post enters a store through
the ingest pipeline.
"""

from __future__ import annotations

import asyncio
import http.client
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import TypeVar
from urllib.parse import parse_qsl, urlsplit

import pytest

from conftest import FeedServer, _Server
from helpers import Item, rss
from townsquare.config import Config, load
from townsquare.ingest.pipeline import Ingest, PassReport
from townsquare.store import open_store
from townsquare.web import create_app
from townsquare.web.serve import address, bind, server
from townsquare.websub import WebSub
from townsquare.websub.subscriber import Maintenance

T = TypeVar("T")


def in_thread(work: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine on an event loop of its own (a browser may hold this thread's)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(work())).result()  # type: ignore[arg-type]


def wait_for(check: Callable[[], T], *, timeout: float = 10.0, every: float = 0.01) -> T:
    """Poll ``check`` until it gives something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(every)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


class Instance:
    """One Townsquare: its own database, its website (and feeds) on a real uvicorn server,
    and its WebSub background work when started."""

    def __init__(self, db: str, **settings: object) -> None:
        self.db = db
        sock = bind("127.0.0.1", 0)
        self.url = address(sock)
        self.config = load(
            {"db": self.db, "base_url": self.url, **settings},
            environ={"TOWNSQUARE_ALLOW_NETWORKS": "127.0.0.1/32"},
        )
        self.store = open_store(self.db)  # the test's own connection
        self._web_store = open_store(self.db)
        self.server = server(create_app(self.config, self._web_store))
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        wait_for(lambda: self.server.started)
        self._loop: WebSubLoop | None = None

    @property
    def feed(self) -> str:
        return self.url + "feed.atom"

    @property
    def hub(self) -> str:
        return self.url + "websub/hub"

    def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Answer:
        parts = urlsplit(self.url)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        try:
            conn.request(method, path, body=body or None, headers=headers or {})
            response = conn.getresponse()
            return Answer(
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                response.read(),
            )
        finally:
            conn.close()

    def get(self, path: str) -> Answer:
        return self.request("GET", path)

    def ingest(self) -> PassReport:
        """A pass over every blog, through the pipeline, in this instance's store."""

        async def run() -> PassReport:
            ingest = Ingest(self.store, self.config)
            try:
                return await ingest.run_pass(force=True)
            finally:
                ingest.close()

        return in_thread(run)

    def renew(self, now: datetime | None = None) -> Maintenance:
        """One pass over our own subscriptions (``townsquare websub renew``)."""

        async def run() -> Maintenance:
            async with WebSub(self.store, self.config) as websub:
                return await websub.renew(now)

        return in_thread(run)

    def start_websub(self) -> None:
        self._loop = WebSubLoop(self.db, self.config)

    def close(self) -> None:
        if self._loop is not None:
            self._loop.close()
        self.server.should_exit = True
        self._thread.join(10)
        self.store.close()
        self._web_store.close()


class WebSubLoop:
    """``WebSub.run`` in a thread, with a store of its own, looking every 20 ms."""

    def __init__(self, db: str, config: Config) -> None:
        self._ready = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(db, config),))
        self._thread.start()
        assert self._ready.wait(10)

    async def _main(self, db: str, config: Config) -> None:
        self._stop = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        with open_store(db) as store:
            async with WebSub(store, config) as websub:
                self._ready.set()
                await websub.run(self._stop, every=0.02)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@pytest.fixture
def instances(new_db: Callable[[], str]) -> Iterator[Callable[..., Instance]]:
    """Townsquares of their own, each with a fresh database of the backend under test."""
    made: list[Instance] = []

    def make(name: str, **settings: object) -> Instance:
        instance = Instance(new_db(), **settings)
        made.append(instance)
        return instance

    yield make
    for instance in made:
        instance.close()


class Blog:
    """A blog on the test server whose feed gains posts as a test writes them."""

    def __init__(self, server: FeedServer, title: str = "Kelbrook council news") -> None:
        self.server = server
        self.title = title
        self.items: list[Item] = []
        self.url = self.server.feed("/blog.rss", rss([], title=title))

    def write(self, title: str, content: str = "<p>News.</p>") -> None:
        n = len(self.items) + 1
        date = (
            datetime(2026, 11, 1, 9, tzinfo=UTC)
            .replace(day=n)
            .strftime("%a, %d %b %Y %H:%M:%S GMT")
        )
        self.items.insert(
            0, Item(title, link=f"https://kelbrook.example/{n}", date=date, content=content)
        )
        self.server.feed("/blog.rss", rss(self.items, title=self.title))


@pytest.fixture
def blog(server: FeedServer) -> Blog:
    return Blog(server)


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Stub:
    """A plain HTTP server standing in for a subscriber (or another hub).

    A GET carrying ``hub.challenge`` is answered with the challenge while ``echo``
    holds; each POST is answered with the next of ``statuses`` (then 204).
    """

    echo: bool = True
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self, status: int, body: bytes = b"") -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _record(self) -> Received:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                got = Received(
                    self.command,
                    parts.path,
                    dict(parse_qsl(parts.query)),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                stub.received.append(got)
                return got

            def do_GET(self) -> None:
                got = self._record()
                challenge = got.query.get("hub.challenge", "")
                if stub.echo and challenge:
                    self._answer(200, challenge.encode())
                else:
                    self._answer(404, b"not mine")

            def do_POST(self) -> None:
                self._record()
                self._answer(stub.statuses.pop(0) if stub.statuses else 204)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        ).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"

    def of(self, method: str) -> list[Received]:
        return [r for r in self.received if r.method == method]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def stub() -> Iterator[Stub]:
    made = Stub()
    yield made
    made.close()
