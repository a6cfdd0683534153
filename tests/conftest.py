"""Shared fixtures: a real HTTP server on 127.0.0.1, a fresh store (SQLite, or PostgreSQL
with TOWNSQUARE_TEST_BACKEND=postgresql), the command line."""

from __future__ import annotations

import hashlib
import io
import ipaddress
import itertools
import os
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field, replace
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from smtp_sink import Sink, SMTPServer
from townsquare import cli
from townsquare.config import Config, load
from townsquare.store import Store, open_store
from townsquare.store.db import connect

DATA = Path(__file__).parent / "data"
SRC = Path(__file__).parent.parent / "src"
# Commands the tests start in their own processes run this checkout's code too.
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p
)
FEEDS = DATA / "feeds"
LOOPBACK = (ipaddress.ip_network("127.0.0.1/32"),)
POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
# The backend every test's store uses: TOWNSQUARE_TEST_BACKEND=postgresql runs the whole
# suite on PostgreSQL, each test in a schema of its own.
BACKEND = os.environ.get("TOWNSQUARE_TEST_BACKEND", "sqlite")
if BACKEND not in ("sqlite", "postgresql"):
    raise ValueError(f"TOWNSQUARE_TEST_BACKEND={BACKEND!r}: expected sqlite or postgresql")


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


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # not a client hanging up early
            super().handle_error(request, client_address)  # type: ignore[arg-type]


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

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
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


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A new, empty PostgreSQL schema, dropped afterwards; gives its database URL."""
    try:
        admin = psycopg.connect(POSTGRES, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        if BACKEND == "postgresql":  # the backend under test must be there
            pytest.fail(f"PostgreSQL is not running at {POSTGRES}")
        pytest.skip(f"PostgreSQL is not running at {POSTGRES}")
    schema = "test_" + uuid.uuid4().hex[:12]
    with admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


class SchemaPool:
    """PostgreSQL schemas migrated once a run and emptied for each test that takes one.

    Migrating a schema takes over a second (a dozen migrations, each with yoyo's
    bookkeeping); emptying one takes a few milliseconds.  Emptying truncates every
    table, then puts back the rows and sequence values the migrations left.
    """

    def __init__(self, stack: ExitStack) -> None:
        self._stack = stack
        self._free: list[str] = []
        self._rows: dict[str, list[dict[str, object]]] = {}
        self._sequences: dict[str, tuple[int, bool]] = {}
        self._remembered = False

    def take(self) -> str:
        if not self._free:
            url = self._stack.enter_context(fresh_schema())
            open_store(url).close()  # migrated, as any database is when first opened
            if not self._remembered:
                self._remember(url)
                self._remembered = True
            return url
        url = self._free.pop()
        self._empty(url)
        return url

    def give_back(self, url: str) -> None:
        self._free.append(url)

    def _tables(self, conn: psycopg.Connection[dict[str, object]]) -> list[str]:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            " AND tablename NOT LIKE '%yoyo%' ORDER BY tablename"
        ).fetchall()
        return [str(r["tablename"]) for r in rows]

    def _remember(self, url: str) -> None:
        with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
            for table in self._tables(conn):
                rows = conn.execute(f"SELECT * FROM {table}").fetchall()
                if rows:
                    self._rows[table] = rows
            for r in conn.execute(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()"
            ).fetchall():
                name = str(r["sequencename"])
                state = conn.execute(f"SELECT last_value, is_called FROM {name}").fetchone()
                assert state is not None
                self._sequences[name] = (int(state["last_value"]), bool(state["is_called"]))

    def _empty(self, url: str) -> None:
        with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
            conn.execute("SET lock_timeout = '10s'")
            with conn.transaction():
                tables = self._tables(conn)
                conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
                for table, rows in self._rows.items():
                    columns = list(rows[0])
                    marks = ", ".join(["%s"] * len(columns))
                    with conn.cursor() as cur:
                        cur.executemany(
                            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                            [[row[c] for c in columns] for row in rows],
                        )
                for name, (value, called) in self._sequences.items():
                    conn.execute("SELECT setval(%s, %s, %s)", (name, value, called))


@pytest.fixture(scope="session")
def schema_pool() -> Iterator[SchemaPool]:
    with ExitStack() as stack:
        yield SchemaPool(stack)


@pytest.fixture
def new_db(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[[], str]]:
    """Makes fresh, empty databases of the backend under test; gives their addresses."""
    names = itertools.count(1)
    taken: list[str] = []

    def make() -> str:
        if BACKEND == "postgresql":
            pool: SchemaPool = request.getfixturevalue("schema_pool")
            taken.append(pool.take())
            return taken[-1]
        return str(tmp_path / f"townsquare-{next(names)}.db")

    yield make
    if taken:
        pool = request.getfixturevalue("schema_pool")
        for url in taken:
            pool.give_back(url)


@pytest.fixture
def db_path(tmp_path: Path, new_db: Callable[[], str]) -> str:
    """The test's database: a SQLite file, or a PostgreSQL schema of its own."""
    return new_db() if BACKEND == "postgresql" else str(tmp_path / "townsquare.db")


@pytest.fixture
def config(db_path: str) -> Config:
    return load({"db": db_path}, environ={"TOWNSQUARE_ALLOW_NETWORKS": "127.0.0.1/32"})


@pytest.fixture
def store(config: Config) -> Iterator[Store]:
    with open_store(config.db) as s:
        yield s


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A schema of this run's own in the test database, migrated once."""
    with fresh_schema() as url:
        open_store(url).close()
        yield url


@pytest.fixture(params=["sqlite", "postgresql"] if BACKEND == "sqlite" else ["postgresql"])
def any_store(request: pytest.FixtureRequest, db_path: str) -> Iterator[Store]:
    """Each backend in turn: a fresh SQLite file, then PostgreSQL emptied for the test
    (PostgreSQL only when the whole suite runs on it)."""
    if request.param == "sqlite":
        with open_store(db_path) as s:
            yield s
        return
    with Store(connect(request.getfixturevalue("postgres_url"), migrate=False)) as s:
        tables = [
            r["tablename"]
            for r in s.db.fetchall(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                " AND tablename NOT LIKE '%yoyo%'"
            )
        ]
        s.db.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
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


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL schema for one test, dropped afterwards."""
    with fresh_schema() as url:
        yield url


# --- email (issue 7) ---------------------------------------------------------------------

SECRET = "test-secret-key-0123456789-abcdefghijklmnop"


@pytest.fixture(scope="session")
def _smtp_server() -> Iterator[SMTPServer]:
    server = SMTPServer(Sink())
    yield server
    server.stop()


@pytest.fixture
def smtp(_smtp_server: SMTPServer) -> SMTPServer:
    """A real SMTP server on 127.0.0.1 that keeps what it accepts (tests/smtp_sink.py).

    One server for the session (starting one takes half a second); each test
    gets it empty, with no special replies.
    """
    _smtp_server.sink.reset()
    return _smtp_server


@pytest.fixture
def mail_config(config: Config, smtp: SMTPServer) -> Config:
    """Settings that send email to the ``smtp`` server."""
    return replace(
        config,
        base_url="https://townsquare.example/",
        secret_key=SECRET,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_security="none",
        smtp_from="Townsquare <digest@townsquare.example>",
        smtp_timeout=10.0,
    )
