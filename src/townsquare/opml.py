"""OPML: reading a list of blogs (folders become categories).

A feed listed in several folders, as feed readers export a feed in several
categories, is one feed with all those categories.  Writing OPML is
``townsquare.publish.opml``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, replace

from lxml import etree

from .errors import InputError
from .ingest.clean import plain_text, safe_url

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=True
)


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    url: str
    title: str | None
    site_url: str | None
    categories: tuple[str, ...]


def read_opml(data: bytes, *, where: str = "the file") -> list[OpmlFeed]:
    """The feeds in an OPML document; an outline folder's name is their category."""
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise InputError(f"{where} is not OPML: {exc.msg}") from None
    if root is None or root.tag != "opml" or root.find("body") is None:
        raise InputError(f"{where} is not OPML: it has no <opml> with a <body>")
    feeds: list[OpmlFeed] = []
    _walk(root.find("body"), (), feeds)
    return _merge(feeds)


def _merge(feeds: list[OpmlFeed]) -> list[OpmlFeed]:
    """One entry per feed URL, in first-seen order, with every category it was under."""
    by_url: dict[str, OpmlFeed] = {}
    for feed in feeds:
        first = by_url.get(feed.url)
        if first is None:
            by_url[feed.url] = feed
        else:
            categories = tuple(dict.fromkeys(first.categories + feed.categories))
            by_url[feed.url] = replace(first, categories=categories)
    return list(by_url.values())


def _walk(parent: etree._Element | None, folders: tuple[str, ...], out: list[OpmlFeed]) -> None:
    if parent is None:
        return
    for outline in parent.iterfind("outline"):
        raw = outline.get("title") or outline.get("text")
        # Entities are often escaped twice; angle brackets are the blog's own name.
        name = plain_text(html.unescape(raw) if raw else None, is_html=False)
        url = safe_url(outline.get("xmlUrl") or outline.get("xmlurl"))
        if url:
            category = outline.get("category")
            extra = tuple(
                c.strip().strip("/") for c in (category or "").split(",") if c.strip().strip("/")
            )
            out.append(
                OpmlFeed(
                    url=url,
                    title=name or None,
                    site_url=safe_url(outline.get("htmlUrl")),
                    categories=folders[-1:] + extra,
                )
            )
        _walk(outline, folders + ((name,) if name and not url else ()), out)
