"""Small text helpers shared by the store, the website and the command line."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

_NON_WORD = re.compile(r"[^a-z0-9]+")


def slugify(text: str, *, fallback: str = "item", max_length: int = 60) -> str:
    """A lowercase ASCII slug: 'Comms & Digital – Notes' -> 'comms-digital-notes'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = _NON_WORD.sub("-", ascii_text.lower()).strip("-")
    slug = slug[:max_length].rstrip("-")
    return slug or fallback


def long_date(moment: datetime) -> str:
    """A date the way GOV.UK writes it: '26 November 2020'."""
    return f"{moment.day} {moment:%B %Y}"
