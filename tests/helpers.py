"""Small builders shared by the tests: feeds written in a line, a pass run in one, and
blogs on the local feed server fetched into a store."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape

from conftest import FeedServer
from townsquare.config import Config
from townsquare.ingest.pipeline import Ingest, PassReport
from townsquare.model import Source
from townsquare.store import Store


@dataclass(frozen=True)
class Item:
    title: str
    link: str | None = None
    guid: str | None = None
    date: str | None = "Fri, 05 Jul 2024 10:00:00 GMT"
    content: str = "<p>Post text.</p>"


def rss(
    items: Iterable[Item], *, title: str = "Test blog", site: str = "https://blog.example/"
) -> str:
    """An RSS 2.0 feed with full content in content:encoded."""
    parts = []
    for item in items:
        parts.append(
            "<item>"
            f"<title>{escape(item.title)}</title>"
            + (f"<link>{escape(item.link)}</link>" if item.link else "")
            + (f'<guid isPermaLink="false">{escape(item.guid)}</guid>' if item.guid else "")
            + (f"<pubDate>{item.date}</pubDate>" if item.date else "")
            + f"<content:encoded><![CDATA[{item.content}]]></content:encoded>"
            "</item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel><title>{escape(title)}</title><link>{escape(site)}</link>"
        + "".join(parts)
        + "</channel></rss>"
    )


def run_pass(store: Store, config: Config, **kwargs: object) -> PassReport:
    """One pass of the real pipeline (``Ingest.run_pass``), as ``townsquare fetch`` runs it."""
    ingest = Ingest(store, config)
    try:
        return asyncio.run(ingest.run_pass(**kwargs))  # type: ignore[arg-type]
    finally:
        ingest.close()


@dataclass(frozen=True)
class Entry:
    """A post as a blog publishes it, for the tests that search what was fetched."""

    guid: str
    title: str
    body: str  # HTML
    published: datetime
    author: str = "Ann Lee"
    link: str | None = None  # default: https://FIRST-WORD-OF-THE-BLOG.example/GUID


def entries_rss(title: str, entries: Iterable[Entry]) -> str:
    """An RSS 2.0 feed of a blog's entries, with full content in content:encoded."""
    host = f"https://{title.split()[0].lower()}.example/"
    items = "".join(
        f"""<item><title>{escape(e.title)}</title><guid isPermaLink="false">{e.guid}</guid>
        <link>{escape(e.link or host + e.guid)}</link>
        <pubDate>{format_datetime(e.published)}</pubDate><author>x@y.example ({e.author})</author>
        <content:encoded><![CDATA[{e.body}]]></content:encoded></item>"""
        for e in entries
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>{escape(title)}</title><link>https://blog.example/</link>{items}</channel></rss>"""


@dataclass
class Blogs:
    """Blogs served by the local feed server, fetched into a store by the real pipeline."""

    server: FeedServer
    store: Store
    config: Config
    paths: dict[str, str] = field(default_factory=dict)  # a blog's name: its feed's path

    def blog(self, name: str, entries: list[Entry], categories: tuple[str, ...] = ()) -> Source:
        self.paths[name] = f"/{uuid.uuid4().hex[:8]}.xml"
        url = self.server.feed(self.paths[name], entries_rss(name, entries))
        return self.store.add_source(url, name, categories=categories, now=datetime.now(UTC))

    def edit(self, name: str, entries: list[Entry]) -> None:
        """The blog's feed from now on (the next fetch reads it)."""
        self.server.feed(self.paths[name], entries_rss(name, entries))

    def fetch(self) -> None:
        """One pass over every blog; each must be fetched without failing."""
        report = run_pass(self.store, self.config, force=True)
        assert report.failed == 0, [r.error for r in report.sources]
