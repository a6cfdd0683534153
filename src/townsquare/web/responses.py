"""HTTP responses done once: validators, 304s, compression and the page cache.

Every page and API answer is rendered to bytes and sent by ``send``, which
gives it a strong ETag (a hash of the bytes), answers ``If-None-Match`` and
``If-Modified-Since`` with 304, and sends the gzip copy to clients that
accept it.  ``PageCache`` keeps rendered answers until the store's revision
moves, so a busy page is rendered once per change, not once per request.
"""

from __future__ import annotations

import gzip
import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime

from starlette.requests import Request
from starlette.responses import Response

MIN_GZIP = 512  # bytes; smaller bodies are sent as they are
HTML = "text/html; charset=utf-8"
JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Rendered:
    """One answer, ready to send as it is or compressed."""

    body: bytes
    gzipped: bytes | None
    media_type: str
    etag: str  # without quotes
    last_modified: datetime | None
    cache_control: str
    link: str | None = None  # a Link header (a feed names its WebSub hub and itself)
    status: int = 200  # another for a page that says what is wrong (a search past its end)

    @classmethod
    def of(
        cls,
        body: bytes,
        media_type: str = HTML,
        *,
        last_modified: datetime | None = None,
        cache_control: str = "no-cache",
        link: str | None = None,
        status: int = 200,
    ) -> Rendered:
        small = len(body) < MIN_GZIP
        return cls(
            body=body,
            gzipped=None if small else gzip.compress(body, compresslevel=6, mtime=0),
            media_type=media_type,
            etag=hashlib.blake2b(body, digest_size=12).hexdigest(),
            last_modified=last_modified,
            cache_control=cache_control,
            link=link,
            status=status,
        )


def _accepts_gzip(request: Request) -> bool:
    for part in request.headers.get("accept-encoding", "").lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() in ("gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _etag_matches(header: str, etag: str) -> bool:
    """Weak comparison (RFC 9110 13.1.2); the gzip copy's tag names the same content."""
    if header.strip() == "*":
        return True
    for tag in header.split(","):
        tag = tag.strip().removeprefix("W/").strip('"').removesuffix("-gzip")
        if tag == etag:
            return True
    return False


def _not_modified_since(header: str, last_modified: datetime) -> bool:
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return False
    return since.tzinfo is not None and last_modified <= since


def send(request: Request, page: Rendered) -> Response:
    """The response for ``page``, a 304 when the client's copy is current."""
    status = page.status
    zipped = page.gzipped is not None and _accepts_gzip(request)
    etag = f'"{page.etag}-gzip"' if zipped else f'"{page.etag}"'
    headers = {"ETag": etag, "Cache-Control": page.cache_control, "Vary": "Accept-Encoding"}
    if page.last_modified is not None:
        headers["Last-Modified"] = format_datetime(page.last_modified, usegmt=True)
    if page.link is not None:
        headers["Link"] = page.link
    if status == 200 and request.method in ("GET", "HEAD"):
        if_none_match = request.headers.get("if-none-match")
        if if_none_match is not None:
            fresh = _etag_matches(if_none_match, page.etag)
        else:
            since = request.headers.get("if-modified-since")
            modified = page.last_modified
            fresh = bool(since and modified and _not_modified_since(since, modified))
        if fresh:
            return Response(status_code=304, headers=headers)
    if zipped:
        assert page.gzipped is not None
        headers["Content-Encoding"] = "gzip"
        return Response(page.gzipped, status, headers, media_type=page.media_type)
    return Response(page.body, status, headers, media_type=page.media_type)


class PageCache:
    """Rendered answers by address, kept while the store's revision stays the same."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._pages: OrderedDict[str, tuple[int, Rendered]] = OrderedDict()

    def get(self, key: str, revision: int) -> Rendered | None:
        found = self._pages.get(key)
        if found is None or found[0] != revision:
            return None
        self._pages.move_to_end(key)
        return found[1]

    def put(self, key: str, revision: int, page: Rendered) -> None:
        self._pages[key] = (revision, page)
        self._pages.move_to_end(key)
        while len(self._pages) > self.size:
            self._pages.popitem(last=False)
