"""parse | clean for one body: the pipeline's CPU work, done in worker processes.

A large pass runs ``parse_and_clean`` in one process per core, at a lower priority (see
``pipeline`` and ``processes``).
This module imports only what that work needs, so each worker starts small.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from datetime import datetime

from ..errors import ParseError
from ..model import CleanPost, FetchResult
from .clean import clean_feed, feed_hub, feed_site
from .parse import parse_feed

log = logging.getLogger(__name__)
FAULT = (
    "Townsquare could not read this feed because of a fault in Townsquare itself ({kind}); "
    "please report it, with the feed's address"
)


@dataclass(frozen=True, slots=True)
class Cleaned:
    """What parse | clean made of one body."""

    posts: list[CleanPost]
    site_url: str | None = None
    hub: tuple[str, str] | None = None  # the WebSub hub and topic it advertises
    error: str | None = None  # why it could not be parsed


def body_hash(result: FetchResult) -> str:
    """What a fetched feed is, for telling whether the next fetch brought the same: its
    length and the CRC-32 of its bytes, address and Content-Type (each of which changes
    what is read from it).  A CRC-32 costs a fifth of a cryptographic hash, and two
    different feeds of one blog, of the same length, would have to match by chance
    (once in four billion)."""
    check = zlib.crc32(result.body)
    # A header's bytes that are not UTF-8 come as lone surrogates.
    where = f"\n{result.final_url}\n{result.content_type}".encode("utf-8", "surrogatepass")
    check = zlib.crc32(where, check)
    return f"{len(result.body)}:{check:08x}"


def parse_and_clean(result: FetchResult, now: datetime) -> Cleaned:
    """parse | clean for one body."""
    try:
        feed = parse_feed(result.body, result.final_url, result.content_type)
        return Cleaned(
            clean_feed(feed, now), feed_site(feed, result.final_url), feed_hub(feed, result)
        )
    except ParseError as exc:
        return Cleaned([], error=str(exc))
    except Exception as exc:  # a fault of ours must cost one feed, never the whole pass
        log.warning("fault while reading %s: %s: %s", result.final_url, type(exc).__name__, exc)
        return Cleaned([], error=FAULT.format(kind=type(exc).__name__))
