"""Checking a suggested blog before the curator looks at it.

In order, stopping at the first that fails (a blocked or listed site is not
fetched at all):

    not on the block list → not already listed → reachable →
    has a feed that parses → has recent posts

Every request goes through the guarded ``Fetcher`` and feed discovery, the
same way the curator's "add a blog" does.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from ..config import Config
from ..errors import FeedError, FetchError
from ..ingest.clean import canonical_url
from ..ingest.discover import Discovery, discover
from ..ingest.fetch import Fetcher
from ..model import Source
from ..store import Check, FoundFeed, Store
from ..text import long_date
from .health import sentence

RECENT = timedelta(days=183)  # "recent posts": one published in the last six months

BLOCK = "Not on the block list"
LISTED = "Not already listed"
REACHABLE = "Reachable"
FEED = "Has a feed that parses"
POSTS = "Has recent posts"


def listed_as(store: Store, url: str) -> Source | None:
    """The listed blog with this feed URL, or whose website is this address."""
    found = store.source_by_url(url)
    if found is not None:
        return found
    wanted = canonical_url(url)
    return next((s for s in store.sources() if canonical_url(s.site_url) == wanted), None)


def _block_check(store: Store, url: str) -> Check:
    host = (urlsplit(url).hostname or "").lower()
    blocked = store.blocked(host)
    if blocked is None:
        return Check(BLOCK, True, f"{host} is not on the block list.")
    why = f": {blocked.reason}" if blocked.reason else ""
    return Check(BLOCK, False, f"{blocked.host} is on the block list{why}.")


def _listed_check(store: Store, url: str) -> Check:
    found = listed_as(store, url)
    if found is None:
        return Check(LISTED, True, "No listed blog has this address.")
    return Check(LISTED, False, f"Already listed as {found.title}.")


def _recent_check(found: Discovery, now: datetime) -> Check:
    dates = [p.published for p in found.posts if p.published is not None]
    if not dates:
        return Check(POSTS, False, "The feed has no dated posts.")
    newest = max(dates)
    if now - newest > RECENT:
        return Check(POSTS, False, f"The latest post was published on {long_date(newest)}.")
    return Check(POSTS, True, f"The latest post was published on {long_date(newest)}.")


async def check_blog(
    store: Store, config: Config, url: str, now: datetime
) -> tuple[list[Check], FoundFeed | None]:
    """The checks of a suggested address, and the feed found (if one was)."""
    checks = [_block_check(store, url)]
    if checks[-1].passed:
        checks.append(_listed_check(store, url))
    if not checks[-1].passed:
        return checks, None
    async with Fetcher(config) as fetcher:
        try:
            found = await discover(fetcher, url)
        except FetchError as exc:
            checks.append(Check(REACHABLE, False, sentence(str(exc))))
            return checks, None
        except FeedError as exc:
            checks.append(Check(REACHABLE, True, "The address answered."))
            checks.append(Check(FEED, False, sentence(str(exc))))
            return checks, None
    checks.append(Check(REACHABLE, True, "The address answered."))
    checks.append(Check(FEED, True, f"Found a feed at {found.feed_url}."))
    feed = FoundFeed(found.feed_url, found.title, found.site_url)
    if found.feed_url != url:  # the feed may be elsewhere, and blocked or listed there
        for again in (_block_check(store, found.feed_url), _listed_check(store, found.feed_url)):
            if not again.passed:
                checks.append(again)
                return checks, feed
    checks.append(_recent_check(found, now))
    return checks, feed


async def check_item(store: Store, config: Config, item_id: int) -> None:
    """Check a suggestion in the queue and keep what was found with it."""
    item = store.item(item_id)
    now = datetime.now(UTC)
    checks, feed = await check_blog(store, config, item.url, now)
    store.save_checks(item.id, checks, feed, datetime.now(UTC))
