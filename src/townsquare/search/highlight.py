"""Matches marked in plain text, made into safe HTML.

The store marks each match in a title or snippet with two control
characters, ``START`` and ``END``, that can never occur in stored text
(cleaning removes control characters).  ``marked_html`` escapes the text
first and only then turns the marks into ``<mark>`` elements, so what a blog
wrote is never read as markup.
"""

from __future__ import annotations

import html

START = "\x02"
END = "\x03"


def marked_html(text: str) -> str:
    """Escaped text with ``<mark>`` around each marked match; always balanced.  Runs of
    space (the index keeps a post's text as it was laid out) become one."""
    out: list[str] = []
    open_mark = False
    text = " ".join(text.split())  # the marks are not space, so they stay where they were
    for i, part in enumerate(text.replace(END, START).split(START)):
        if i:
            out.append("</mark>" if open_mark else "<mark>")
            open_mark = not open_mark
        out.append(html.escape(part, quote=False))
    if open_mark:
        out.append("</mark>")
    return "".join(out).replace("<mark></mark>", "")


def unmarked(text: str) -> str:
    """The text with the marks taken out, and runs of space made one."""
    return " ".join(text.replace(START, "").replace(END, "").split())
