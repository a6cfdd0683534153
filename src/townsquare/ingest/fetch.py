"""Fetch: one URL to a ``FetchResult``, politely and within limits.

Conditional GET (ETag, Last-Modified), compression, at most five redirect
hops followed by hand so that every hop passes the network guard, a cap on
the body after decompression, and one deadline for the whole fetch.  Every
failure becomes a ``FetchResult`` with a message for the curator; nothing
here raises for a bad feed.  ``Fetcher.send`` is the same guarded client for
requests that are not feed fetches (WebSub's).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import re
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver
from multidict import CIMultiDictProxy

from ..config import Config
from ..errors import BlockedAddressError
from ..model import FetchOutcome, FetchResult, Redirect
from .guard import BlockedByGuardError, GuardedConnector, GuardedResolver, check_literal

log = logging.getLogger(__name__)
FAULT = (
    "Townsquare could not fetch this feed because of a fault in Townsquare itself ({kind}); "
    "please report it, with the feed's address"
)
MAX_REDIRECTS = 5
MAX_RETRY_AFTER = timedelta(hours=24)
_CHUNK = 65536
_REDIRECTS = {301, 302, 303, 307, 308}
_ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, "
    "application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, "
    "application/json;q=0.8, text/html;q=0.7, */*;q=0.5"
)
_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]*)*)")
_REL = re.compile(r"""rel\s*=\s*"?([^";,]+)"?""", re.I)
_MAX_AGE = re.compile(r"max-age\s*=\s*([0-9]+)", re.I)
_SECONDS = re.compile(r"[0-9]+")
_DAY = 86_400  # seconds; no server can make us wait longer


def _seconds(digits: str) -> int:
    """A number of seconds from a header, at most a day (however many digits it has)."""
    return min(int(digits), _DAY) if len(digits) <= 9 else _DAY


def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """Retry-After as a moment, from seconds or an HTTP date, at most 24 hours away."""
    if not value:
        return None
    value = value.strip()
    if _SECONDS.fullmatch(value):
        moment = now + timedelta(seconds=_seconds(value))
    else:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    return max(now, min(moment, now + MAX_RETRY_AFTER))


def parse_link_header(values: list[str], base: str) -> tuple[tuple[str, ...], str | None]:
    """WebSub hubs and the self link from ``Link`` headers."""
    hubs: list[str] = []
    self_link = None
    for value in values:
        for match in _LINK.finditer(value):
            target, params = match.group(1).strip(), match.group(2)
            rel = _REL.search(params)
            rels = rel.group(1).lower().split() if rel else []
            try:
                url = urljoin(base, target)
            except ValueError:  # not a URL at all: ignore the link, as a browser would
                continue
            if "hub" in rels:
                hubs.append(url)
            if "self" in rels:
                self_link = url
    return tuple(hubs), self_link


def _max_age(headers: CIMultiDictProxy[str]) -> int | None:
    match = _MAX_AGE.search(headers.get("Cache-Control", ""))
    return _seconds(match.group(1)) if match else None


def parse_expires(value: str | None) -> datetime | None:
    """The Expires header as a moment; a date that cannot be read means already stale."""
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def describe_status(status: int, reason: str | None) -> str:
    return f"the server answered {status} {reason or ''}".rstrip()


def _size(limit: int) -> str:
    return f"{limit / 1_000_000:g} MB"


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to a request that is not a feed fetch (``Fetcher.send``)."""

    status: int | None  # None: no answer came
    body: bytes = b""  # its first bytes only
    error: str | None = None  # why no answer came, for the curator

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def describe(self) -> str:
        """What happened, in words: 'the server answered 404 ...' or the error."""
        if self.status is None:
            return self.error or "no answer"
        text = self.body[:200].decode("utf-8", "replace").strip()
        said = f": {' '.join(text.split())}" if text else ""
        return f"the server answered {self.status}{said}"


class _FetchFailedError(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _location(current: str, location: str, status: int) -> str:
    try:
        return urljoin(current, location)
    except ValueError:
        raise _FetchFailedError(
            f"the server redirected to an address that is not valid: {location!r}", status
        ) from None


class Fetcher:
    """An HTTP client session with Townsquare's limits; use ``async with``."""

    def __init__(self, config: Config, *, dns: AbstractResolver | None = None) -> None:
        """``dns`` answers name lookups (the system resolver by default); the
        network guard checks every answer, whoever gives it."""
        self.config = config
        self._dns = dns
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Fetcher:
        allow = self.config.allow_networks
        connector = GuardedConnector(
            allow,
            limit=max(1, self.config.fetch_concurrency),
            limit_per_host=max(1, self.config.fetch_per_host),
            resolver=GuardedResolver(allow, self._dns),
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": self.config.user_agent, "Accept": _ACCEPT},
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.config.connect_timeout),
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """GET a feed (or a page); never raises for network or HTTP trouble."""
        redirects: list[Redirect] = []
        now = datetime.now(UTC)
        try:
            async with asyncio.timeout(self.config.fetch_timeout):
                return await self._fetch(url, etag, last_modified, redirects, now)
        except TimeoutError:
            seconds = self.config.fetch_timeout
            message = f"no complete answer within {seconds:g} second{'' if seconds == 1 else 's'}"
            return self._failed(url, redirects, message, None)
        except _FetchFailedError as exc:
            return self._failed(url, redirects, exc.message, exc.status)
        except Exception as exc:  # a fault of ours must cost one feed, never the whole pass
            log.warning("fault while fetching %s: %s: %s", url, type(exc).__name__, exc)
            return self._failed(url, redirects, FAULT.format(kind=type(exc).__name__), None)

    async def send(
        self,
        method: str,
        url: str,
        *,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        limit: int = 65_536,
    ) -> Reply:
        """One request that is not a feed fetch (WebSub subscriptions, checks and
        deliveries): the same guard and deadline, no redirects followed, and only the
        first ``limit`` bytes of the answer read.  Never raises for network trouble."""
        assert self._session is not None, "use 'async with Fetcher(...)'"
        try:
            async with asyncio.timeout(self.config.fetch_timeout):
                self._check_url(url)
                async with self._session.request(
                    method, url, data=body, headers=headers or {}, allow_redirects=False
                ) as resp:
                    data = b""
                    while len(data) < limit:
                        chunk = await resp.content.read(limit - len(data))
                        if not chunk:
                            break
                        data += chunk
                    return Reply(resp.status, data)
        except TimeoutError:
            return Reply(None, error=f"no answer within {self.config.fetch_timeout:g} seconds")
        except _FetchFailedError as exc:
            return Reply(None, error=exc.message)
        except BlockedAddressError as exc:
            return Reply(None, error=str(exc))
        except aiohttp.ClientConnectorError as exc:
            return Reply(None, error=self._connect_error(exc))
        except (aiohttp.ClientError, ssl.SSLError, OSError) as exc:
            return Reply(None, error=f"the connection failed: {exc}")

    def _failed(
        self, url: str, redirects: list[Redirect], message: str, status: int | None
    ) -> FetchResult:
        final = redirects[-1].location if redirects else url
        return FetchResult(
            url=url,
            final_url=final,
            outcome=FetchOutcome.ERROR,
            status=status,
            error=message,
            redirects=tuple(redirects),
        )

    async def _fetch(
        self,
        url: str,
        etag: str | None,
        last_modified: str | None,
        redirects: list[Redirect],
        now: datetime,
    ) -> FetchResult:
        assert self._session is not None, "use 'async with Fetcher(...)'"
        current = url
        seen = {url}
        while True:
            self._check_url(current)
            headers = {}
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
            try:
                async with self._session.get(
                    current, headers=headers, allow_redirects=False
                ) as resp:
                    if resp.status in _REDIRECTS and "Location" in resp.headers:
                        target = _location(current, resp.headers["Location"], resp.status)
                        redirects.append(Redirect(resp.status, current, target))
                        if target in seen:
                            raise _FetchFailedError("the feed redirects in a loop", resp.status)
                        if len(redirects) > MAX_REDIRECTS:
                            raise _FetchFailedError(
                                f"more than {MAX_REDIRECTS} redirects in a row", resp.status
                            )
                        seen.add(target)
                        current = target
                        continue
                    return await self._result(url, current, resp, redirects, now)
            except _FetchFailedError:
                raise
            except BlockedAddressError as exc:
                raise _FetchFailedError(str(exc)) from None
            except aiohttp.ClientConnectorError as exc:
                raise _FetchFailedError(self._connect_error(exc)) from None
            except aiohttp.ClientPayloadError:
                raise _FetchFailedError(
                    "the connection closed before the whole body arrived"
                ) from None
            except aiohttp.TooManyRedirects:  # pragma: no cover - redirects are followed by hand
                raise _FetchFailedError("too many redirects") from None
            except aiohttp.ClientResponseError as exc:
                # aiohttp's message can quote the bytes at fault over several lines: keep
                # the first words, which say what was wrong.
                what = re.split(r"[:\n]", exc.message, maxsplit=1)[0].strip().rstrip(".")
                raise _FetchFailedError(
                    f"the server's answer was not valid HTTP ({what[:1].lower()}{what[1:100]})"
                ) from None
            except aiohttp.ServerDisconnectedError:
                raise _FetchFailedError(
                    "the connection failed: the server closed it without answering"
                ) from None
            except aiohttp.InvalidURL:
                raise _FetchFailedError(f"not a valid web address: {current!r}") from None
            except (aiohttp.ClientError, ssl.SSLError, OSError) as exc:
                raise _FetchFailedError(f"the connection failed: {exc}") from None

    def _check_url(self, url: str) -> None:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises for a port out of range
        except ValueError:
            raise _FetchFailedError(f"not a valid web address: {url!r}") from None
        if parts.scheme not in ("http", "https"):
            raise _FetchFailedError(f"only http and https addresses can be fetched, not {url!r}")
        if not parts.hostname:
            raise _FetchFailedError(f"not a valid web address: {url!r}")
        try:
            check_literal(parts.hostname, self.config.allow_networks)
        except BlockedAddressError as exc:
            raise _FetchFailedError(str(exc)) from None

    def _connect_error(self, exc: aiohttp.ClientConnectorError) -> str:
        cause = exc.os_error
        if isinstance(cause, BlockedByGuardError):
            return str(cause.error)
        host = exc.host
        if isinstance(exc, aiohttp.ClientConnectorCertificateError):
            return f"the secure connection to {host} failed: its certificate is not valid"
        if isinstance(exc, aiohttp.ClientConnectorSSLError):
            return f"the secure connection to {host} failed"
        if isinstance(cause, socket.gaierror):
            return f"the address {host!r} could not be found"
        if isinstance(cause, ConnectionRefusedError):
            return f"could not connect to {host}: the connection was refused"
        return f"could not connect to {host}: {cause.strerror or cause}"

    async def _result(
        self,
        url: str,
        final_url: str,
        resp: aiohttp.ClientResponse,
        redirects: list[Redirect],
        now: datetime,
    ) -> FetchResult:
        hubs, self_link = parse_link_header(resp.headers.getall("Link", []), final_url)
        base = FetchResult(
            url=url,
            final_url=final_url,
            outcome=FetchOutcome.ERROR,
            status=resp.status,
            redirects=tuple(redirects),
            hub_links=hubs,
            self_link=self_link,
            max_age=_max_age(resp.headers),
            expires=parse_expires(resp.headers.get("Expires")),
        )
        if resp.status == 304:
            return replace(base, outcome=FetchOutcome.NOT_MODIFIED)
        if resp.status == 410:
            return replace(
                base,
                outcome=FetchOutcome.GONE,
                error="the feed is gone: the server answered 410 Gone",
            )
        if resp.status in (429, 503):
            return replace(
                base,
                outcome=FetchOutcome.RETRY_LATER,
                retry_after=parse_retry_after(resp.headers.get("Retry-After"), now),
                error=describe_status(resp.status, resp.reason) + " (asked us to come back later)",
            )
        if not 200 <= resp.status < 300:
            return replace(base, error=describe_status(resp.status, resp.reason))
        limit = self.config.max_body_bytes
        if resp.content_length is not None and resp.content_length > limit:
            raise _FetchFailedError(
                f"the feed is larger than the {_size(limit)} limit", resp.status
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise _FetchFailedError(
                    f"the feed is larger than the {_size(limit)} limit", resp.status
                )
            chunks.append(chunk)
        return replace(
            base,
            outcome=FetchOutcome.OK,
            body=b"".join(chunks),
            content_type=resp.headers.get("Content-Type"),
            etag=resp.headers.get("ETag"),
            last_modified=resp.headers.get("Last-Modified"),
        )
