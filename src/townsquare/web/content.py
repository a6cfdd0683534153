"""Showing a post's stored HTML, which is already clean, inside a page.

``shift_headings`` moves the post's own headings below the page's: a post
shown under an ``<h2>`` title has its headings start at ``<h3>``, and no
level is skipped, so the page's heading outline stays in order.  It only
renames heading tags.  The stored HTML was serialised by the sanitiser, so a
``<`` in text is always ``&lt;``; a ``<h2`` inside an attribute value would
only have that value's text renamed.  Renaming ``h1``–``h6`` cannot open or
close anything else.
"""

from __future__ import annotations

import re

from ..ingest.clean import plain_text
from ..model import Post

_HEADING = re.compile(r"<(/?)h([1-6])(?=[\s>/])", re.IGNORECASE)
EXCERPT_LENGTH = 300


def shift_headings(html: str, top: int) -> str:
    """Renumber the headings of ``html`` to start at level ``top`` (at most 6), in order."""
    if "<h" not in html and "<H" not in html:
        return html
    found = [int(level) for close, level in _HEADING.findall(html) if not close]
    if not found:
        return html
    shallowest = min(found)
    previous = top - 1
    open_level = top

    def rename(match: re.Match[str]) -> str:
        nonlocal previous, open_level
        if match.group(1):  # a closing tag closes the heading last opened
            return f"</h{open_level}"
        wanted = top + int(match.group(2)) - shallowest
        open_level = max(top, min(wanted, previous + 1, 6))
        previous = open_level
        return f"<h{open_level}"

    return _HEADING.sub(rename, html)


def excerpt(post: Post) -> str:
    """A short plain-text excerpt, for blogs that ask for excerpts only."""
    return plain_text(post.summary_html or post.content_html, limit=EXCERPT_LENGTH)
