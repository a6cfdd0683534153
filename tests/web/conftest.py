"""Website fixtures: the bundled sample blogs ingested through the normal path, and the
site served by a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import asyncio
import http.client
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, sync_playwright

from conftest import BACKEND, SECRET, fresh_schema
from smtp_sink import SMTPServer
from townsquare.config import Config, load
from townsquare.curation.passwords import hash_password
from townsquare.demo.server import add_sample_blogs, serve_samples
from townsquare.ingest.pipeline import Ingest
from townsquare.store import Store, open_store
from townsquare.web import create_app
from townsquare.web.serve import address, bind, server

from .browsing import ARGS, CHROMIUM
from .client import Client


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


class LiveSite:
    """The website on a real uvicorn server in a thread."""

    def __init__(self, config: Config, store: Store, *, cache_size: int = 512) -> None:
        sock = bind("127.0.0.1", 0)
        self.url = address(sock)
        self.server = server(create_app(config, store, cache_size=cache_size))
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the web server did not start"
            time.sleep(0.01)

    def get(self, path: str, headers: dict[str, str] | None = None, method: str = "GET") -> Answer:
        """One request, no redirects followed, no decompression."""
        parts = urlsplit(self.url)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        try:
            conn.request(method, path, headers=headers or {})
            response = conn.getresponse()
            body = response.read()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
        finally:
            conn.close()

    def close(self) -> None:
        self.server.should_exit = True
        self._thread.join(10)


def ingest_samples(store: Store, config: Config) -> None:
    """The sample blogs, through the same path as any blog."""
    with serve_samples() as base:
        add_sample_blogs(store, base, datetime.now(UTC))
        ingest = Ingest(store, config)
        try:
            # In a thread of its own: a browser test may hold this thread's event loop.
            with ThreadPoolExecutor(1) as pool:
                pool.submit(asyncio.run, ingest.run_pass(force=True)).result()
        finally:
            ingest.close()


def site_config(db: str, **settings: object) -> Config:
    return load({"db": db, **settings}, environ={"TOWNSQUARE_ALLOW_NETWORKS": "127.0.0.1/32"})


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo's database, of the backend under test, kept for the whole run."""
    if BACKEND == "postgresql":
        with fresh_schema() as url:
            yield url
        return
    yield str(tmp_path_factory.mktemp("demo") / "demo.db")


@pytest.fixture(scope="session")
def demo_config(demo_db: str) -> Config:
    db = demo_db
    return site_config(
        db,
        site_name="Public sector blogs",
        contact="curator@example.org",
        base_url="https://blogs.example.org/",
    )


@pytest.fixture(scope="session")
def demo_store(demo_config: Config) -> Iterator[Store]:
    with open_store(demo_config.db) as store:
        ingest_samples(store, demo_config)
        yield store


@pytest.fixture(scope="session")
def demo_site(demo_config: Config, demo_store: Store) -> Iterator[LiveSite]:
    site = LiveSite(demo_config, demo_store)
    yield site
    site.close()


# --- the admin area -------------------------------------------------------------------

CURATOR = "ada"
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def samples_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample blogs ingested once, with a curator; each test gets a copy."""
    path = tmp_path_factory.mktemp("samples") / "samples.db"
    config = site_config(str(path))
    with open_store(config.db) as store:
        ingest_samples(store, config)
        store.add_curator(CURATOR, hash_password(PASSWORD), datetime.now(UTC))
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@dataclass
class Curated:
    """A website of its own over a copy of the sample blogs, with curator 'ada'."""

    config: Config
    store: Store
    site: LiveSite

    def client(self) -> Client:
        return Client(self.site.url)

    def signed_in(self) -> Client:
        client = self.client()
        assert client.sign_in(CURATOR, PASSWORD).status == 303
        return client


def samples_copy(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A database of the sample blogs and curator 'ada', for one test."""
    if BACKEND == "postgresql":  # a schema of its own, filled through the pipeline
        db: str = request.getfixturevalue("new_db")()
        with open_store(db) as store:
            ingest_samples(store, site_config(db))
            store.add_curator(CURATOR, hash_password(PASSWORD), datetime.now(UTC))
        return db
    db = str(tmp_path / "site.db")
    shutil.copy(request.getfixturevalue("samples_db"), db)
    return db


@pytest.fixture
def curated(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Curated]:
    db = samples_copy(tmp_path, request)
    config = site_config(db, site_name="Public sector blogs", base_url="http://blogs.example.org/")
    with open_store(config.db) as store:
        site = LiveSite(config, store)
        yield Curated(config, store, site)
        site.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, through Playwright (which cannot download browsers here)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def axe() -> Axe:
    return Axe()


# --- email (issue 7) ---------------------------------------------------------------------


@dataclass
class Emailing(Curated):
    smtp: SMTPServer  # where the site's email goes


@pytest.fixture
def emailing(
    tmp_path: Path, request: pytest.FixtureRequest, smtp: SMTPServer
) -> Iterator[Emailing]:
    """A website over a copy of the sample blogs that sends email to the ``smtp`` server."""
    db = samples_copy(tmp_path, request)
    config = site_config(
        db,
        site_name="Public sector blogs",
        base_url="http://blogs.example.org/",
        contact="curator@example.org",
        secret_key=SECRET,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_security="none",
        smtp_from="Public sector blogs <digest@blogs.example.org>",
        smtp_timeout=10.0,
    )
    with open_store(config.db) as store:
        site = LiveSite(config, store)
        yield Emailing(config, store, site, smtp)
        site.close()
