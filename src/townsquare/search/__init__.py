"""Search across every blog: what a person typed to a page of results.

    text ──parse_query──▶ Query ──store.search_posts──▶ SearchPage ──marked_html──▶ SearchResults

``query.py`` reads the search box's language (it never fails);
``store/search.py`` finds and orders the matches on SQLite (FTS5) or
PostgreSQL (tsvector); ``highlight.py`` turns marked titles and snippets
into safe HTML.  The website, the command line and the feeds all call
``search`` and show what it gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ..model import Post
from ..text import long_date
from .highlight import marked_html, unmarked
from .query import Query, Sort, parse_query

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["Query", "SearchHit", "SearchResults", "Sort", "parse_query", "search"]

PER_PAGE = 20
MAX_PER_PAGE = 100


@dataclass(frozen=True, slots=True)
class SearchHit:
    post: Post
    title_html: str  # the title, escaped, with matches in <mark>
    snippet_html: str  # a passage of the text, escaped, with matches in <mark>
    snippet_text: str  # the same passage as plain text


@dataclass(frozen=True, slots=True)
class SearchResults:
    query: Query
    sort: Sort
    hits: tuple[SearchHit, ...]
    total: int  # how many posts matched (see total_is_exact)
    total_is_exact: bool  # False: more than `total` matched
    page: int  # from 1
    per_page: int
    # Only posts published since then were searched (a phrase of very common words on
    # SQLite: see docs/search.md), and `total` counts their matches; None: every post.
    searched_since: datetime | None = None

    @property
    def count_text(self) -> str:
        """'1 result', '1,234 results', 'More than 5,000 results', '151 results in posts
        since 3 March 2025'."""
        n = self.total
        text = f"{n:,} result{'' if n == 1 else 's'}"
        if not self.total_is_exact:
            text = f"More than {n:,} results"
        if self.searched_since is not None:
            text += f" in posts since {long_date(self.searched_since)}"
        return text

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def search(
    store: Store,
    text: str,
    *,
    sort: Sort | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> SearchResults:
    """One page of results for a search box's text, best first unless asked otherwise.

    ``sort`` overrides a ``sort:`` in the text; a page past the last is empty.
    """
    query = parse_query(text)
    chosen = sort or query.sort or Sort.RELEVANCE
    page = max(1, page)
    per_page = min(max(1, per_page), MAX_PER_PAGE)
    found = store.search_posts(query, sort=chosen, limit=per_page, offset=(page - 1) * per_page)
    hits = tuple(
        SearchHit(row.post, marked_html(row.title), marked_html(row.snippet), unmarked(row.snippet))
        for row in found.rows
    )
    return SearchResults(
        query, chosen, hits, found.total, found.exact, page, per_page, found.searched_since
    )
