"""A published file: its bytes and its type; and the dates feeds are written with.

The website sends a ``Document`` through its one path for HTTP answers
(``web/responses.py``: ETag, Last-Modified, 304, gzip); ``townsquare build``
writes its bytes.  A feed's ``Link`` header names its WebSub hub and itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime


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
    link: str | None = None  # a Link header: a feed's WebSub hub and its own address
