"""The search box's language, read into a ``Query``.

What people already know from web search::

    digital identity            posts with both words (in any form: "identities" too)
    "digital identity"          the exact phrase
    -blockchain  -"web 3"       leave out posts with this word or phrase
    blog:northshire             from a blog (its short name, or part of its name)
    category:health             from blogs in a category
    author:"ann lee"            by an author
    after:2026-01-01 before:2026-06-30   published between these dates (both included);
                                from: and to: mean the same; 2026 or 2026-03 cover the year
                                or month; 31/12/2026 is read as a UK date
    sort:date  sort:relevance   newest first, or best match first (the default)

Nothing a person types is an error: a stray quote is ignored, an operator
with nothing after it (``blog:``), an unknown one (``foo:bar``) or a date
that cannot be read is searched for as plain words, and characters that
mean something to a search engine (``*``, ``^``, ``(``, ``NEAR``) are just
text.  Blog and category names are matched later, by the store.
"""

from __future__ import annotations

import enum
import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import date

MAX_QUERY_LENGTH = 500
MAX_TERMS = 32

_WORD = re.compile(r"\w", re.UNICODE)
_EDGE = re.compile(r"^\W+|\W+$", re.UNICODE)
_SPLIT = re.compile(r"[^\w\-'’.@]+", re.UNICODE)  # what joins a word: e-mail, gov.uk, O'Neill
_KEY = re.compile(r"([A-Za-z]+):")
_ISO = re.compile(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")
_UK = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "″": '"'})


class Sort(enum.StrEnum):
    RELEVANCE = "relevance"  # best match first; newer first among equals
    DATE = "date"  # newest first


_SORTS = {
    "relevance": Sort.RELEVANCE,
    "best": Sort.RELEVANCE,
    "date": Sort.DATE,
    "newest": Sort.DATE,
    "recent": Sort.DATE,
}


@dataclass(frozen=True, slots=True)
class Query:
    """A search, read from what a person typed; every part may be empty."""

    words: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()  # words or phrases to leave out
    blogs: tuple[str, ...] = ()  # any of these blogs
    categories: tuple[str, ...] = ()  # any of these categories
    authors: tuple[str, ...] = ()  # any of these authors
    after: date | None = None  # the first day included
    before: date | None = None  # the last day included
    sort: Sort | None = None  # as asked for in the text, if it was

    @property
    def terms(self) -> tuple[str, ...]:
        """The words and phrases a post must contain."""
        return self.words + self.phrases

    @property
    def is_empty(self) -> bool:
        """True when there is nothing to search for."""
        return not (
            self.terms
            or self.excluded
            or self.blogs
            or self.categories
            or self.authors
            or self.after
            or self.before
        )

    def __str__(self) -> str:
        """The query written back in its own language, tidied."""
        parts = [*self.words, *(_quoted(p) for p in self.phrases)]
        parts += ["-" + (_quoted(x) if " " in x else x) for x in self.excluded]
        for key, values in (
            ("blog", self.blogs),
            ("category", self.categories),
            ("author", self.authors),
        ):
            parts += [f"{key}:{_quoted(v) if ' ' in v else v}" for v in values]
        if self.after:
            parts.append(f"after:{self.after.isoformat()}")
        if self.before:
            parts.append(f"before:{self.before.isoformat()}")
        if self.sort:
            parts.append(f"sort:{self.sort.value}")
        return " ".join(parts)


def _quoted(text: str) -> str:
    return f'"{text}"'


def _has_word(text: str) -> bool:
    return bool(_WORD.search(text))


def _tidy(text: str) -> str:
    return " ".join(text.split())


def _day(text: str, *, end: bool) -> date | None:
    """A date from 2026-03-01, 2026-03 or 2026 (the last day with ``end``), or 01/03/2026."""
    try:
        uk = _UK.fullmatch(text)
        if uk:
            return date(int(uk[3]), int(uk[2]), int(uk[1]))
        iso = _ISO.fullmatch(text)
        if not iso:
            return None
        year = int(iso[1])
        if iso[3]:
            return date(year, int(iso[2]), int(iso[3]))
        if iso[2]:
            month = int(iso[2])
            return date(year, month, monthrange(year, month)[1] if end else 1)
        return date(year, 12, 31) if end else date(year, 1, 1)
    except ValueError:  # 2026-02-30, month 13, year 0
        return None


@dataclass(slots=True)
class _Token:
    negated: bool
    key: str | None  # lowercase, when the token was key:value with a key we know
    value: str
    quoted: bool
    raw: str  # the token as typed, for falling back to plain words


_KEYS = {"blog", "category", "author", "after", "before", "from", "to", "sort"}


def _tokens(text: str) -> list[_Token]:
    text = text.translate(_QUOTES)[:MAX_QUERY_LENGTH]
    if text.count('"') % 2:  # a stray quote: ignore the last one
        cut = text.rfind('"')
        text = text[:cut] + " " + text[cut + 1 :]
    out: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start = i
        negated = text[i] == "-" and i + 1 < n and not text[i + 1].isspace()
        if negated:
            i += 1
        key = None
        match = _KEY.match(text, i)
        if match and match[1].lower() in _KEYS:
            key = match[1].lower()
            i = match.end()
        if i < n and text[i] == '"':
            end = text.index('"', i + 1)  # quotes are balanced by now
            value, quoted = text[i + 1 : end], True
            i = end + 1
        else:
            end = i
            while end < n and not text[end].isspace() and text[end] != '"':
                end += 1
            value, quoted = text[i:end], False
            i = end
        if i == start:  # a lone '-' at the very end
            i += 1
            continue
        out.append(_Token(negated, key, _tidy(value), quoted, text[start:i]))
    return out


def parse_query(text: str) -> Query:
    """Read a search box's text; never fails (see the module's docstring)."""
    words: list[str] = []
    phrases: list[str] = []
    excluded: list[str] = []
    filters: dict[str, list[str]] = {"blog": [], "category": [], "author": []}
    after: date | None = None
    before: date | None = None
    sort: Sort | None = None

    def plain(raw: str, *, negated: bool = False, quoted: bool = False) -> None:
        """Fall back: the text as words (or a phrase, when it was quoted)."""
        term = _tidy(_EDGE.sub("", raw.strip().strip('"')))
        if not _has_word(term):
            return
        if negated:
            excluded.append(term)
        elif quoted and " " in term:
            phrases.append(term)
        else:
            words.extend(w for w in (_EDGE.sub("", part) for part in _SPLIT.split(term)) if w)

    for token in _tokens(text):
        key, value = token.key, token.value
        if key is None or token.negated or not _has_word(value):
            if key is None:
                plain(value, negated=token.negated, quoted=token.quoted)
            else:  # -blog:x or a lone "blog:": plain words
                plain(token.raw.lstrip("-").replace(":", " "), negated=token.negated)
            continue
        if key in filters:
            filters[key].append(value)
        elif key == "sort" and value.lower() in _SORTS:
            sort = _SORTS[value.lower()]
        elif key in {"after", "from"} and (day := _day(value, end=False)):
            after = day
        elif key in {"before", "to"} and (day := _day(value, end=True)):
            before = day
        else:  # after:yesterday, sort:funny
            plain(f"{key} {value}")
    if after and before and after > before:
        after, before = before, after
    budget = MAX_TERMS
    kept: list[list[str]] = []
    for group in (words, phrases, excluded):
        group = list(dict.fromkeys(group))[:budget]
        budget -= len(group)
        kept.append(group)
    return Query(
        words=tuple(kept[0]),
        phrases=tuple(kept[1]),
        excluded=tuple(kept[2]),
        blogs=tuple(dict.fromkeys(filters["blog"])),
        categories=tuple(dict.fromkeys(filters["category"])),
        authors=tuple(dict.fromkeys(filters["author"])),
        after=after,
        before=before,
        sort=sort,
    )
