"""The website's state: configuration, store, templates, the page cache and the index.

Handlers ask ``Site.cached`` for a page by address: when the store's revision
has not moved since the page was rendered, the rendered bytes are sent again
(or a 304); otherwise the page is rendered in a worker thread and kept.
Pages that show the clock or fetch state use ``Site.fresh`` instead.
``Site.live`` tells open river pages of new posts (``live.py``); ``Site.searches``
lets only a few searches run at once (``search.py``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..config import Config
from ..errors import BusyError
from ..store import Revision, Store
from .index import SiteIndex
from .live import LiveRiver
from .paths import Paths
from .render import Assets, Renderer
from .responses import PageCache, Rendered, send

Build = Callable[[SiteIndex, datetime], Rendered]
Check = Callable[[], Response | None]
T = TypeVar("T")
SEARCHES_AT_ONCE = 4
SEARCH_WAIT_SECONDS = 10.0


class Gate:
    """At most ``limit`` at once; others wait up to ``wait`` seconds for a turn, then get a
    ``BusyError`` (a 503)."""

    def __init__(self, limit: int, wait: float) -> None:
        self.wait = wait
        self._turns = asyncio.Semaphore(limit)

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        try:
            await asyncio.wait_for(self._turns.acquire(), self.wait)
        except TimeoutError:
            raise BusyError("too many searches at once: try again in a minute") from None
        try:
            yield
        finally:
            self._turns.release()


class Site:
    """``static_build``: rendering for ``townsquare build`` rather than for requests."""

    def __init__(
        self, config: Config, store: Store, *, cache_size: int = 512, static_build: bool = False
    ) -> None:
        self.config = config
        self.store = store
        self.paths = Paths(config.base_url)
        self.assets = Assets(self.paths)
        self.renderer = Renderer(config, self.paths, self.assets, static_build=static_build)
        self.cache = PageCache(cache_size)
        self.live = LiveRiver(store)
        self.searches = Gate(SEARCHES_AT_ONCE, SEARCH_WAIT_SECONDS)
        self.hub_checks = 0  # our WebSub hub's checks under way (web/websub.py)
        self._index: SiteIndex | None = None
        self._index_lock = threading.Lock()
        self._form_key: str | None = None

    def index(self, revision: int) -> SiteIndex:
        with self._index_lock:
            if self._index is None or self._index.revision != revision:
                self._index = SiteIndex.load(self.store, revision)
            return self._index

    def form_key(self) -> str:
        """The key that signs the public forms' tokens (``forms.py``), the same in every
        process that shares the store."""
        if self._form_key is None:
            self._form_key = self.store.site_key("forms")
        return self._form_key

    async def cached(
        self, request: Request, build: Build, *, check: Check | None = None
    ) -> Response:
        """The page at this address, rendered once per store revision.

        ``check`` runs before rendering, not for a page already kept (the store has
        not changed since it passed); it may answer instead, with a redirect.
        """
        revision = self.store.revision()
        key = request.url.path + "?" + request.url.query
        page = self.cache.get(key, revision.value)
        if page is None:
            answer = check() if check is not None else None
            if answer is not None:
                return answer
            page = await run_in_threadpool(self._render, build, revision)
            self.cache.put(key, revision.value, page)
        return send(request, page)

    async def fresh(self, request: Request, build: Build) -> Response:
        """A page rendered for this request (it shows times relative to now)."""
        return send(request, await self.render_now(build))

    async def render_now(self, build: Callable[[SiteIndex, datetime], T]) -> T:
        """What ``build`` makes now, not kept (for answers with a status of their own)."""
        return await run_in_threadpool(self._render, build, self.store.revision())

    def _render(self, build: Callable[[SiteIndex, datetime], T], revision: Revision) -> T:
        return build(self.index(revision.value), revision.changed_at)
