"""Small builders shared by the ingest tests: feeds written in a line, a pass run in one."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape

from townsquare.config import Config
from townsquare.ingest.pipeline import Ingest, PassReport
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
