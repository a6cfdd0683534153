"""What the search index holds of a post: the words of its HTML.

On SQLite, FTS5 does not keep its own copy of this text (migration 0013): it
reads it through the SQL function ``search_text``, which every connection of the
store has, when a search shows a snippet and when a post leaves the index.  So
this must give, for the same HTML, what it gave when the post was indexed.
"""

from __future__ import annotations

from ..ingest.clean import text_of

MAX_TEXT = 500_000  # characters of a post's text that are searchable (PostgreSQL: of its HTML)


def search_text(html: str | None) -> str:
    """The searchable text of a post's (sanitised) HTML."""
    return text_of(html)[:MAX_TEXT] if html else ""


def searchable(text: bytes) -> bytes:
    """A post's text in UTF-8 (``CleanPost.text_utf8``), cut as ``search_text`` cuts it."""
    return text if len(text) <= MAX_TEXT else text.decode()[:MAX_TEXT].encode()
