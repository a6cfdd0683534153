"""OPML 2.0 lists of the blogs, for feed readers and for other Townsquares.

    blogs_opml(store, config)            every blog, in a folder per category
    category_opml(store, config, slug)   one category's blogs, in its folder
        │
        ▼
    render_opml(title, owner, groups)    a Document (pure)

A blog in two categories appears in both folders, as feed readers expect;
blogs in no category come last, outside any folder.  Every blog's outline
has ``type="rss"`` (what readers look for, whatever the feed's format),
its name as ``text`` and ``title``, its feed as ``xmlUrl`` and its site as
``htmlUrl``.  Reading OPML is ``townsquare.opml.read_opml``.
"""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

from ..config import Config
from ..model import Source
from ..store import Store
from .document import Document
from .paths import OPML_CONTENT_TYPE
from .xmlout import add, xml_bytes

OPML_DOCS = "http://opml.org/spec2.opml"

Group = tuple[str | None, Sequence[Source]]  # a folder's name (None: no folder) and its blogs


def blogs_opml(store: Store, config: Config) -> Document:
    """Every listed blog (not the retired ones), grouped by category."""
    sources = [s for s in store.sources() if not s.retired]
    groups: list[Group] = [
        (c.name, [s for s in sources if c.name in s.categories]) for c in store.categories()
    ]
    groups.append((None, [s for s in sources if not s.categories]))
    return render_opml(f"Blogs on {config.site_name}", config.site_name, groups)


def category_opml(store: Store, config: Config, slug: str) -> Document:
    """One category's blogs; raises ``CategoryNotFoundError`` for an unknown slug."""
    category = store.category_by_slug(slug)
    listed = [s for s in store.sources(category_id=category.id) if not s.retired]
    groups: list[Group] = [(category.name, listed)]
    return render_opml(f"{category.name} blogs on {config.site_name}", config.site_name, groups)


def render_opml(title: str, owner: str, groups: Sequence[Group]) -> Document:
    root = etree.Element("opml", version="2.0")
    head = add(root, "head")
    add(head, "title", title)
    add(head, "ownerName", owner)
    add(head, "docs", OPML_DOCS)
    body = add(root, "body")
    for name, sources in groups:
        if not sources:
            continue
        folder = body if name is None else add(body, "outline", text=name, title=name)
        for source in sources:
            links = {"htmlUrl": source.site_url} if source.site_url else {}
            add(
                folder,
                "outline",
                type="rss",
                text=source.title,
                title=source.title,
                xmlUrl=source.url,
                **links,
            )
    return Document(xml_bytes(root), OPML_CONTENT_TYPE)
