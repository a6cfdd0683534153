"""The live river: Server-Sent Events that tell an open river page of new posts.

    GET /events?after=<post id>    an event ``posts`` with ``{"above": N}`` whenever
                                   the number of visible posts above that post changes

The river's first page names this address (with its first post) in a
``<meta>``; ``static/live.js`` listens, fetches the page again when posts
arrive and puts the new ones at the top, announced politely to screen
readers.  Without JavaScript the page is as it always was.

Each process has one ``LiveRiver``: a watcher that reads the store's revision
counter four times a second while anyone listens, so posts written by any process
(a worker, a WebSub push) reach every open page, and a hundred open pages
cost one query per change, not a hundred.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager, suppress

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from ..errors import InputError
from ..store import Store

POLL = 0.25  # seconds between looks at the store's revision
HEARTBEAT = 20.0  # seconds of quiet before a comment keeps the line open
LONGEST = 15 * 60.0  # seconds a stream stays open; the browser then opens another
MAX_LISTENERS = 1000  # open streams per process
RETRY_MS = 5000  # how long a browser waits before it reconnects
_ID = re.compile(r"0|[1-9][0-9]{0,17}")


class LiveRiver:
    """One per process: the store's revision as it moves, and counts of new posts."""

    def __init__(self, store: Store, *, poll: float = POLL, limit: int = MAX_LISTENERS) -> None:
        self.store = store
        self.poll = poll
        self.limit = limit
        self.listeners = 0
        self._revision: int | None = None
        self._changed = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None
        self._counts: OrderedDict[tuple[int, int], int | None] = OrderedDict()

    @contextmanager
    def listening(self) -> Iterator[None]:
        self.listeners += 1
        try:
            yield
        finally:
            self.listeners -= 1

    def above(self, post_id: int, revision: int) -> int | None:
        """Visible posts above ``post_id`` at ``revision`` (None: no such post)."""
        key = (revision, post_id)
        if key not in self._counts:
            self._counts[key] = self.store.posts_above(post_id)
            while len(self._counts) > 64:
                self._counts.popitem(last=False)
        return self._counts[key]

    async def next_revision(self, seen: int, timeout: float) -> int:
        """The revision once it is no longer ``seen``, or ``seen`` after ``timeout``."""
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watch())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._revision is None or self._revision == seen:
            left = deadline - loop.time()
            if left <= 0:
                return seen
            with suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)
        return self._revision

    async def _watch(self) -> None:
        while self.listeners > 0:
            revision = self.store.revision().value
            if revision != self._revision:
                self._revision = revision
                changed, self._changed = self._changed, asyncio.Event()
                changed.set()
            await asyncio.sleep(self.poll)
        self._revision = None


def _event(above: int) -> str:
    return f"event: posts\ndata: {json.dumps({'above': above})}\n\n"


async def _stream(live: LiveRiver, after: int, revision: int, above: int) -> AsyncIterator[str]:
    with live.listening():
        yield f"retry: {RETRY_MS}\n\n"
        if above:
            yield _event(above)
        sent = above
        ends = time.monotonic() + LONGEST
        while time.monotonic() < ends:
            latest = await live.next_revision(revision, HEARTBEAT)
            if latest == revision:
                yield ": still here\n\n"
                continue
            revision = latest
            count = live.above(after, revision)
            if count is None:
                return
            if count != sent:
                yield _event(count)
                sent = count


async def events(request: Request) -> Response:
    live: LiveRiver = request.app.state.site.live
    raw = request.query_params.get("after", "0")
    if not _ID.fullmatch(raw):
        raise InputError("'after' must be the number of a post")
    if live.listeners >= live.limit:
        return PlainTextResponse(
            "Too many pages are open at once. Try again in a minute.", 503, {"Retry-After": "60"}
        )
    after = int(raw)
    revision = live.store.revision().value
    above = live.above(after, revision)
    if above is None:
        return Response(status_code=204)  # the post is gone: the browser stops asking
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(
        _stream(live, after, revision, above), media_type="text/event-stream", headers=headers
    )
