"""A published file: its bytes, its type and its HTTP validators.

``Document.is_fresh`` answers a conditional GET (RFC 9110, section 13):
``If-None-Match`` wins when given; ``If-Modified-Since`` counts only
without it.  A feed's ``Link`` header names its WebSub hub and itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime


def http_date(moment: datetime) -> str:
    """'Tue, 24 Nov 2026 10:00:00 GMT' (also the RFC 822 date RSS wants)."""
    return format_datetime(utc(moment), usegmt=True)


def utc(moment: datetime) -> datetime:
    """An aware UTC datetime to the second (naive values are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class Document:
    body: bytes
    content_type: str  # with its charset
    last_modified: datetime | None = None
    link: str | None = None  # a Link header: a feed's WebSub hub and its own address
    etag: str = field(init=False)  # strong, from the bytes: same bytes, same ETag

    def __post_init__(self) -> None:
        digest = hashlib.blake2b(self.body, digest_size=16).hexdigest()
        object.__setattr__(self, "etag", f'"{digest}"')

    @property
    def headers(self) -> dict[str, str]:
        """Content-Type, ETag and (when known) Last-Modified and Link."""
        out = {"Content-Type": self.content_type, "ETag": self.etag}
        if self.last_modified is not None:
            out["Last-Modified"] = http_date(self.last_modified)
        if self.link is not None:
            out["Link"] = self.link
        return out

    def is_fresh(self, if_none_match: str | None, if_modified_since: str | None) -> bool:
        """True when the client's copy is current: answer 304 Not Modified."""
        if if_none_match is not None:
            tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
            return "*" in tags or self.etag in tags
        if if_modified_since is None or self.last_modified is None:
            return False
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            return False  # RFC 9110 dates are GMT; a date without a zone is not one
        return utc(self.last_modified) <= since
