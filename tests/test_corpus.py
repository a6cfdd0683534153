"""The feed corpus: one file per quirk in tests/data/feeds, its expectation beside it.

Each ``NAME.EXT`` has a twin ``NAME.expect.json`` saying what a curator should
end up with: the feed's format, title and site, how many posts, and the fields
of chosen posts (matched by guid, else by title). Each file is served by a
real HTTP server on 127.0.0.1 and goes the one path every post takes
(fetch | parse | clean | store); the posts are then read back from the store.

In expectations, ``{base}`` is the test server's address and ``{feed}`` the
feed's own URL; a ``published`` of ``"first_seen"`` means the post is dated
the moment it was first seen.
"""

from __future__ import annotations

import asyncio
import gc
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from conftest import FEEDS, FeedServer
from townsquare.config import Config
from townsquare.ingest.clean import feed_title
from townsquare.ingest.parse import parse_feed
from townsquare.ingest.pipeline import Ingest
from townsquare.ingest.read import parse_and_clean
from townsquare.model import FetchOutcome, FetchResult, Post
from townsquare.store import Store

_TYPES = {
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".rdf": "application/rdf+xml",
    ".json": "application/feed+json",
    ".html": "text/html",
    ".xml": "application/xml",
}
_POST_FIELDS = ("guid", "title", "link", "author", "categories", "content_html", "summary_html")


def _feed_files() -> list[Path]:
    return sorted(p for p in FEEDS.iterdir() if not p.name.endswith(".expect.json"))


def _expectation(feed: Path) -> Path:
    return feed.with_name(feed.name.split(".")[0] + ".expect.json")


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        for name, text in names.items():
            value = value.replace("{" + name + "}", text)
        return value
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    return value


def _find(posts: list[Post], want: dict[str, Any]) -> Post:
    key = "guid" if want.get("guid") is not None else "title"
    found = [p for p in posts if getattr(p, key) == want[key]]
    seen = [(p.guid, p.title) for p in posts]
    assert len(found) == 1, f"no single post with {key} {want[key]!r} in {seen}"
    return found[0]


def _check_post(post: Post, want: dict[str, Any]) -> None:
    for name in _POST_FIELDS:
        if name in want:
            got = list(post.categories) if name == "categories" else getattr(post, name)
            assert got == want[name], f"{name} of {post.title!r}"
    for name in ("published", "updated"):
        if name not in want:
            continue
        moment: datetime | None = getattr(post, name)
        if want[name] == "first_seen":
            assert moment == post.first_seen, f"{name} of {post.title!r} is not first seen"
        else:
            assert (moment.isoformat() if moment else None) == want[name], name
    for text in want.get("content_has", []):
        assert text in post.content_html, f"{text!r} missing from {post.content_html!r}"
    for text in want.get("content_lacks", []):
        assert text.lower() not in post.content_html.lower(), f"{text!r} left in the content"


def test_every_feed_has_an_expectation() -> None:
    feeds = {p.name.split(".")[0] for p in _feed_files()}
    twins = {p.name.removesuffix(".expect.json") for p in FEEDS.glob("*.expect.json")}
    assert feeds == twins
    assert len(feeds) >= 40


@pytest.mark.parametrize("feed", _feed_files(), ids=lambda p: p.name)
def test_corpus(feed: Path, server: FeedServer, store: Store, config: Config) -> None:
    raw = json.loads(_expectation(feed).read_text("utf-8"))
    body = feed.read_bytes()
    content_type = raw.get("served_as", _TYPES[feed.suffix])
    url = server.feed(f"/feeds/{feed.name}", body, content_type)
    want = _fill(raw, {"base": server.base, "feed": url})

    source = store.add_source(url, "Corpus", now=datetime.now(UTC))
    ingest = Ingest(store, config)
    try:
        before = datetime.now(UTC).replace(microsecond=0)
        asyncio.run(ingest.run_pass(force=True))
    finally:
        ingest.close()
    source = store.source(source.id)
    posts = store.river(source_id=source.id, limit=1000)

    if "error" in want:
        assert source.status.value == "error"
        assert source.last_error == want["error"]
        assert posts == []
        return
    assert source.status.value == "ok", source.last_error
    assert source.last_error is None
    parsed = parse_feed(body, url, content_type)
    assert parsed.format == want["format"]
    assert feed_title(parsed, "(none)") == want["title"]
    if "site_url" in want:
        assert source.site_url == want["site_url"]
    if "entries" in want:
        assert len(posts) == want["entries"], [p.title for p in posts]
    for post in posts:
        assert post.first_seen >= before
    for expected in want.get("posts", []):
        _check_post(_find(posts, expected), expected)


@pytest.mark.parametrize("feed", _feed_files(), ids=lambda p: p.name)
def test_what_reading_a_feed_leaves_is_freed_at_once(feed: Path) -> None:
    """A pass reads thousands of feeds in one process: none may leave its tree (or anything
    else) waiting for Python's cycle collector, which runs too seldom to keep memory flat."""
    url = "http://127.0.0.1/feed"
    raw = json.loads(_expectation(feed).read_text("utf-8"))
    content_type = raw.get("served_as", _TYPES[feed.suffix])
    result = FetchResult(
        url, url, FetchOutcome.OK, 200, body=feed.read_bytes(), content_type=content_type
    )
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector finds is kept in gc.garbage
    try:
        parse_and_clean(result, datetime.now(UTC))
        gc.collect()
        left = [o for o in gc.garbage if type(o).__module__.startswith(("lxml", "townsquare"))]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert left == []
