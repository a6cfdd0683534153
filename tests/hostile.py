"""Helpers for the hostile-input tests: build feeds, run a real pass, read what it stored."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from conftest import Result
from townsquare.store import Store

T = TypeVar("T")


def rss(items: str, *, title: str = "A blog", head: str = "", prolog: str = "") -> bytes:
    """An RSS 2.0 feed around the given ``<item>`` markup."""
    return (
        f'<?xml version="1.0" encoding="utf-8"?>{prolog}'
        f'<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel><title>{title}</title><link>https://blog.example/</link>{head}"
        f"{items}</channel></rss>"
    ).encode()


def item(
    n: int, *, title: str | None = None, content: str = "<p>Hello.</p>", site: str = "blog"
) -> str:
    """One ``<item>``; its link is on ``https://{site}.example/``, so that feeds with
    different ``site`` never share a post (a shared link is a cross-post, shown once)."""
    return (
        f"<item><title>{title if title is not None else f'Post {n}'}</title>"
        f"<guid>post-{n}</guid><link>https://{site}.example/{n}</link>"
        f"<content:encoded><![CDATA[{content}]]></content:encoded></item>"
    )


def small_feed(site: str) -> bytes:
    """Two posts, linked from ``https://{site}.example/``."""
    return rss(item(1, site=site) + item(2, site=site))


def within(seconds: float, work: Callable[[], T]) -> T:
    """Run ``work``; fail the test (rather than hang the suite) if it takes too long."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # re-raised in the test's thread
            box["error"] = exc

    began = time.monotonic()
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise AssertionError(
            f"still running after {seconds} s (it took {time.monotonic() - began:.1f} s so far)"
        )
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


@dataclass
class Outcome:
    """What one pass stored, as the command line reports it."""

    sources: dict[str, dict[str, Any]]  # by title
    posts: list[dict[str, Any]]
    fetch: Result

    def source(self, title: str) -> dict[str, Any]:
        return self.sources[title]

    def posts_of(self, title: str) -> list[dict[str, Any]]:
        return [p for p in self.posts if p["source_id"] == self.sources[title]["id"]]


def add(store: Store, url: str, title: str) -> None:
    store.add_source(url, title, now=datetime.now(UTC))


def run_pass(run: Callable[..., Result], *args: str) -> Outcome:
    """``townsquare fetch``, then ``sources --json`` and ``posts --json``."""
    fetched = run("fetch", *args)
    assert fetched.code == 0, fetched.err
    sources = {s["title"]: s for s in json.loads(run("sources", "--json").out)}
    posts = json.loads(run("posts", "--json", "--limit", "100000").out)
    return Outcome(sources, posts, fetched)
