"""Searching the visible posts: a ``Query`` to one page of matches.

    Query ──resolve blogs, categories──▶ match (FTS5 expression or tsquery)
          ──count──▶ order (relevance or date) ──page──▶ marks ──▶ SearchPage

Both backends give the same answers to the same query:

- Every term must match (in the title, text, blog name or author); an
  excluded term must not.  Words match in any form ("identities" finds
  "identity").  Hidden and duplicate posts never match.
- Relevance puts title matches first (then blog name and author, then the
  text); among equals, newer posts first.  Date order is newest first.
- ``total`` is exact up to ``RANK_WINDOW`` matches.  Past that it is given
  as ``RANK_WINDOW`` with ``exact`` false, and relevance ranks the newest
  ``RANK_WINDOW`` matches.  Date order is over every match (but see phrases
  of common words below).
- Titles and snippets come back as plain text with each match between
  ``highlight.START`` and ``highlight.END``.

Ranking on SQLite is BM25 (title weighed most), but BM25 reads the whole
posting list of every term to weigh it, which for a word in a third of a
million posts takes longer than a search may.  So when any word of the
query is in more than ``COMMON`` posts, relevance is simpler and bounded:
those with every term in the title come first, newest first within each.
PostgreSQL ranks the newest ``RANK_WINDOW`` matches with ``ts_rank_cd``.

Two more bounds on SQLite, both about FTS5 reading far more than it finds:

- A phrase checks word positions in every post with all its words.  When
  every word of the query is common and it has a phrase, only the newest
  ``PHRASE_POSTS`` posts with its rarest word are searched; when that cuts
  the search short, the page says since when (``searched_since``), and a
  date range reaches further.
- FTS5 does not stop at a bound on the rowid until it finds a real match, so
  a query for title matches among the newest matches would read on to the
  next title match, often the end of the index.  ``_keys_until`` ends such a
  scan on purpose: see its docstring.

On SQLite the index is the FTS5 table ``post_search``, whose rowid is the
search key (the minute published, then a slot of that minute, negated: newest
first is ascending order; ``search_rows`` gives each key's post); on
PostgreSQL it is ``posts.search_vector`` with a partial GIN index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from ..ingest.clean import plain_text
from ..model import Post
from ..search.highlight import END, START
from ..search.query import Query, Sort
from ..text import slugify
from .db import Row
from .posts import _POST_COLUMNS, VISIBLE, PostStore, _post
from .search_index import SLOTS

RANK_WINDOW = 5_000
COMMON = 10_000  # posts a word may be in for BM25 ranking (SQLite)
# Posts with its rarest word searched, when every word of a query is common and it has a
# phrase (SQLite).
PHRASE_POSTS = 25_000
SNIPPET_WORDS = 32
EXCERPT_CHARACTERS = 240
_HEADLINE_TEXT = 20_000  # characters of text PostgreSQL looks through for a snippet
_TEXT_COLUMNS = "{title body blog author}"
# Relevance weights for title, body, blog and author (SQLite's bm25).
_BM25 = "bm25(post_search, 8.0, 1.0, 3.0, 3.0, 0.0)"
_PG_MARKS = f"StartSel={START}, StopSel={END}"


@dataclass(frozen=True, slots=True)
class SearchRow:
    post: Post
    title: str  # marked plain text
    snippet: str  # marked plain text


@dataclass(frozen=True, slots=True)
class SearchPage:
    rows: list[SearchRow]
    total: int  # matches in all, up to RANK_WINDOW
    exact: bool  # False when more than RANK_WINDOW posts matched
    # Set when only the posts published since then were searched (a phrase of common
    # words, on SQLite): ``total`` counts their matches.
    searched_since: datetime | None = None


_EMPTY = SearchPage([], 0, True)


def _key_time(search_key: int) -> datetime:
    """When the post with this search key was published, to the minute (migration 0016)."""
    return datetime.fromtimestamp(-search_key // SLOTS * 60, UTC)


class _Common:
    """Whether words are in more than ``COMMON`` posts (a bounded count, once a word)."""

    def __init__(self, store: SearchStore) -> None:
        self._store = store
        self._known: dict[str, bool] = {}

    def word(self, word: str) -> bool:
        if word not in self._known:
            row = self._store.db.fetchone(
                f"""SELECT count(*) AS n FROM
                    (SELECT 1 FROM post_search WHERE post_search MATCH ? LIMIT {COMMON + 1})""",
                (fts5_string(word),),
            )
            self._known[word] = row is not None and row["n"] > COMMON
        return self._known[word]

    def any_word(self, query: Query) -> bool:
        return any(self.word(w) for t in query.terms for w in t.split())


def fts5_string(text: str) -> str:
    """Text as an FTS5 string: a word or phrase, never syntax."""
    return '"' + text.replace('"', '""') + '"'


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _excerpt(post: Post) -> str:
    return plain_text(post.content_html, limit=EXCERPT_CHARACTERS)


class SearchStore(PostStore):
    def search_posts(
        self, query: Query, *, sort: Sort = Sort.RELEVANCE, limit: int = 20, offset: int = 0
    ) -> SearchPage:
        """One page of the visible posts that match."""
        if query.is_empty:
            return _EMPTY
        sources = self._filter_sources(query)
        if sources is not None and not sources:
            return _EMPTY
        if not query.terms:
            sort = Sort.DATE  # nothing to rank by
        if self.db.dialect == "sqlite":
            return self._search_sqlite(query, sources, sort, limit, offset)
        return self._search_postgres(query, sources, sort, limit, offset)

    # --- filters ------------------------------------------------------------------------

    def _filter_sources(self, query: Query) -> dict[str, list[int]] | None:
        """Ids of the blogs and categories asked for, or None when there is no such filter.

        An empty list for a kind means nothing matched: no post can match either.
        """
        if not (query.blogs or query.categories):
            return None
        found: dict[str, list[int]] = {}
        if query.blogs:
            found["s"] = self._match_names("sources", query.blogs)
        if query.categories:
            found["c"] = self._match_names("categories", query.categories)
        return found if all(found.values()) else {}

    def _match_names(self, table: str, names: Sequence[str]) -> list[int]:
        """Ids whose slug or name is each name, or else contains it."""
        column = "title" if table == "sources" else "name"
        ids: dict[int, None] = {}
        for name in names:
            slug = slugify(name, fallback="")
            rows = self.db.fetchall(
                f"SELECT id FROM {table} WHERE slug = ? OR lower({column}) = lower(?)",
                (slug, name),
            ) or self.db.fetchall(
                f"""SELECT id FROM {table}
                    WHERE (? <> '' AND slug LIKE ? ESCAPE '\\')
                       OR lower({column}) LIKE ? ESCAPE '\\'
                    ORDER BY id""",
                (slug, _like(slug), _like(name)),
            )
            ids.update((r["id"], None) for r in rows)
        return list(ids)

    def _category_sources(self, category_ids: list[int]) -> list[int]:
        marks = ",".join("?" * len(category_ids))
        rows = self.db.fetchall(
            f"SELECT DISTINCT source_id FROM source_categories WHERE category_id IN ({marks})",
            category_ids,
        )
        return [r["source_id"] for r in rows]

    def _posts_by_id(self, ids: list[int]) -> dict[int, Post]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.db.fetchall(
            f"""SELECT {_POST_COLUMNS} FROM posts p JOIN sources s ON s.id = p.source_id
                WHERE p.id IN ({marks}) AND {VISIBLE}""",
            ids,
        )
        return {r["id"]: _post(r) for r in rows}

    # --- SQLite: FTS5 -------------------------------------------------------------------

    def _search_sqlite(
        self,
        query: Query,
        sources: dict[str, list[int]] | None,
        sort: Sort,
        limit: int,
        offset: int,
    ) -> SearchPage:
        match = _fts5_match(query, sources)
        rowids = ""  # more conditions on the rowid (the search key), all whole numbers
        if query.after:
            rowids += f" AND rowid <= {self._search_key(query.after)}"
        if query.before:
            rowids += f" AND rowid > {self._search_key(query.before + timedelta(days=1))}"
        common = _Common(self)
        end = self._phrase_end(query, sources, rowids, common)
        # One pass over the newest matches: how many (up to the window), and the oldest.
        newest: list[int] | None = None  # the window's keys, when they were read
        if end is None:
            counted = self.db.fetchone(
                f"""SELECT count(*) AS n, max(k) AS oldest FROM
                    (SELECT rowid AS k FROM post_search WHERE post_search MATCH ? {rowids}
                     ORDER BY rowid LIMIT {RANK_WINDOW + 1})""",
                (match,),
            )
            assert counted is not None
            found, oldest = int(counted["n"]), counted["oldest"]
        else:
            newest = self._keys_until(match, rowids, end, RANK_WINDOW + 1)
            found, oldest = len(newest), newest[-1] if newest else None
            newest = newest[:RANK_WINDOW]
        exact = found <= RANK_WINDOW
        total = min(found, RANK_WINDOW)
        stop = int(oldest) if found > RANK_WINDOW else end  # where the window ends
        if sort is Sort.DATE:
            if newest is not None and offset + limit <= len(newest):
                keys = newest[offset : offset + limit]
            elif end is None:
                keys = self._keys(match, rowids, "rowid", limit, offset)
            else:
                keys = self._keys_until(match, rowids, end, offset + limit)[offset:]
        elif common.any_word(query):
            keys = self._keys_title_first(query, sources, rowids, stop, limit, offset, newest)
        else:
            window = rowids if stop is None else f"{rowids} AND rowid < {stop}"
            keys = self._keys(match, window, f"{_BM25}, rowid", limit, offset)
        rows = self._sqlite_rows(match, keys, marked=bool(query.terms))
        # Said only when the bound cut the search short: a full window never reaches it.
        since = None if end is None or not exact else _key_time(end)
        return SearchPage(rows, total, exact, since)

    def _keys(self, match: str, rowids: str, order: str, limit: int, offset: int) -> list[int]:
        rows = self.db.fetchall(
            f"""SELECT rowid AS k FROM post_search WHERE post_search MATCH ? {rowids}
                ORDER BY {order} LIMIT ? OFFSET ?""",
            (match, limit, offset),
        )
        return [int(r["k"]) for r in rows]

    def _keys_until(self, expression: str, rowids: str, end: int, limit: int) -> list[int]:
        """Up to ``limit`` (-1: all) keys of matches newer than the key ``end``, in order.

        FTS5 (3.40) does not stop at a bound on the rowid until it reaches a real
        match: past the last match before ``end`` it reads on, through every post with
        all the words, to the next match, which for a phrase of common words or a
        title match may be at the end of the index.  So the query also matches the post
        at ``end``, through its blog's tag: that ends the scan there.  The blog's other
        posts before ``end`` come with it, and are left out unless they match too (two
        queries over that one blog's posts).
        """
        before = f"{rowids} AND rowid < {end}"
        row = self.db.fetchone(
            """SELECT p.source_id FROM search_rows r JOIN posts p ON p.id = r.post_id
               WHERE r.search_key = ?""",
            (end,),
        )
        if row is None:  # deleted since: no end to the scan, but the same answer
            return self._keys(expression, before, "rowid", limit, 0)
        blog = "tags : " + fts5_string(f"s{row['source_id']}")
        its = set(self._keys(blog, before, "rowid", -1, 0))
        matching = set(self._keys(f"({expression}) AND {blog}", before, "rowid", -1, 0))
        wanted = limit + len(its) if limit >= 0 else -1
        keys = self._keys(f"({expression}) OR {blog}", before, "rowid", wanted, 0)
        kept = [k for k in keys if k not in its or k in matching]
        return kept[:limit] if limit >= 0 else kept

    def _keys_title_first(
        self,
        query: Query,
        sources: dict[str, list[int]] | None,
        rowids: str,
        stop: int | None,
        limit: int,
        offset: int,
        window: list[int] | None,
    ) -> list[int]:
        """Matches with every term in the title, newest first, then the others, newest first,
        among the matches newer than the key ``stop`` (None: every match), whose keys are
        ``window`` when they have been read."""
        in_title = _fts5_match(query, sources, columns="title")
        if stop is None:
            titled = self._keys(in_title, rowids, "rowid", offset + limit, 0)
        else:
            titled = self._keys_until(in_title, rowids, stop, offset + limit)
        first = titled[offset : offset + limit]
        if len(first) == limit:
            return first
        # Fewer than asked for: ``titled`` holds every title match in the window.
        more, skip = limit - len(first), max(0, offset - len(titled))
        if window is not None:
            seen = set(titled)
            return first + [k for k in window if k not in seen][skip : skip + more]
        terms = "title : (" + " AND ".join(fts5_string(t) for t in query.terms) + ")"
        rest = f"({_fts5_match(query, sources)}) NOT {terms}"
        if stop is None:
            return first + self._keys(rest, rowids, "rowid", more, skip)
        return first + self._keys_until(rest, rowids, stop, skip + more)[skip:]

    def _phrase_end(
        self,
        query: Query,
        sources: dict[str, list[int]] | None,
        rowids: str,
        common: _Common,
    ) -> int | None:
        """Where to stop looking when every word of the query is common and it has a phrase:
        the key of the ``PHRASE_POSTS``th newest post with its rarest word (and its blogs,
        categories and authors) (None: look at every post).

        FTS5 checks a phrase's word positions in every post that has all its words; when
        few of those match, that is most posts: 1.7 seconds at a million posts for "is of
        to the".  This bounds that work as the window bounds ranking common words.  (An
        excluded word is checked in FTS5's own loop, which nothing but the end of the
        index stops: "council -councils" reads every post with "council".)
        """
        words = list(dict.fromkeys(w for t in query.terms for w in t.split()))
        phrase = any(" " in t for t in query.terms)
        if not (phrase and all(map(common.word, words))):
            return None
        ends = []
        for word in words:
            only = replace(query, words=(word,), phrases=(), excluded=())
            row = self.db.fetchone(
                f"""SELECT rowid AS k FROM post_search WHERE post_search MATCH ? {rowids}
                    ORDER BY rowid LIMIT 1 OFFSET {PHRASE_POSTS}""",
                (_fts5_match(only, sources),),
            )
            if row is None:  # a word in fewer posts: their number bounds the work
                return None
            ends.append(int(row["k"]))
        return max(ends)

    def _search_key(self, day: date) -> int:
        """The largest search key of a post published on this day or later (migration 0016)."""
        row = self.db.fetchone(
            f"SELECT -((CAST(strftime('%s', ?) AS INTEGER) / 60) * {SLOTS}) AS k",
            (_day_start(day).isoformat(),),
        )
        assert row is not None
        return int(row["k"])

    def _sqlite_rows(self, match: str, keys: list[int], *, marked: bool) -> list[SearchRow]:
        if not keys:
            return []
        in_keys = ",".join("?" * len(keys))
        posts = {
            int(r["search_key"]): _post(r)
            for r in self.db.fetchall(
                f"""SELECT r.search_key, {_POST_COLUMNS} FROM search_rows r
                    JOIN posts p ON p.id = r.post_id JOIN sources s ON s.id = p.source_id
                    WHERE r.search_key IN ({in_keys}) AND {VISIBLE}""",
                keys,
            )
        }
        marks: dict[int, Row] = {}
        if marked:
            marks = {
                int(r["k"]): r
                for r in self.db.fetchall(
                    f"""SELECT rowid AS k, highlight(post_search, 0, ?, ?) AS title,
                            snippet(post_search, 1, ?, ?, '…', {SNIPPET_WORDS}) AS snippet
                        FROM post_search WHERE post_search MATCH ? AND rowid IN ({in_keys})""",
                    (START, END, START, END, match, *keys),
                )
            }
        rows = []
        for key in keys:
            post = posts.get(key)
            if post is None:  # hidden since; never shown
                continue
            mark = marks.get(key)
            rows.append(
                SearchRow(
                    post,
                    mark["title"] if mark else post.title,
                    mark["snippet"] if mark else _excerpt(post),
                )
            )
        return rows

    # --- PostgreSQL: tsvector -----------------------------------------------------------

    def _search_postgres(
        self,
        query: Query,
        sources: dict[str, list[int]] | None,
        sort: Sort,
        limit: int,
        offset: int,
    ) -> SearchPage:
        tsquery, tsparams = _tsquery(query)
        where = [VISIBLE]
        params: list[object] = []
        if query.terms:
            where.append("p.search_vector @@ q.q")
        elif query.excluded:
            where.append("NOT (coalesce(p.search_vector, '') @@ q.q)")
        if query.authors:
            where.append(
                "("
                + " OR ".join(
                    "to_tsvector('simple', coalesce(p.author, '')) @@ phraseto_tsquery('simple', ?)"
                    for _ in query.authors
                )
                + ")"
            )
            params += query.authors
        if sources:
            source_ids = set(sources.get("s") or ())
            if "c" in sources:
                in_categories = self._category_sources(sources["c"])
                source_ids = (
                    source_ids & set(in_categories) if "s" in sources else set(in_categories)
                )
            if not source_ids:
                return _EMPTY
            where.append(f"p.source_id IN ({','.join('?' * len(source_ids))})")
            params += sorted(source_ids)
        if query.after:
            where.append("p.published >= ?")
            params.append(_day_start(query.after))
        if query.before:
            where.append("p.published < ?")
            params.append(_day_start(query.before + timedelta(days=1)))
        base = f"""FROM posts p CROSS JOIN (SELECT {tsquery} AS q) q
                   WHERE {" AND ".join(where)}"""
        all_params = [*tsparams, *params]
        counted = self.db.fetchone(
            f"SELECT count(*) AS n FROM (SELECT 1 {base} LIMIT {RANK_WINDOW + 1}) m", all_params
        )
        assert counted is not None
        exact = int(counted["n"]) <= RANK_WINDOW
        total = min(int(counted["n"]), RANK_WINDOW)
        # the newest RANK_WINDOW matches, ranked
        window = f"""SELECT p.id, p.published, ts_rank_cd(p.search_vector, q.q) AS rank {base}
                     ORDER BY p.published DESC, p.id DESC LIMIT {RANK_WINDOW}"""
        newest = "published DESC, id DESC"
        order = f"rank DESC, {newest}" if sort is Sort.RELEVANCE else newest
        ids = [
            int(r["id"])
            for r in self.db.fetchall(
                f"SELECT id FROM ({window}) w ORDER BY {order} LIMIT ? OFFSET ?",
                (*all_params, limit, offset),
            )
        ]
        posts = self._posts_by_id(ids)
        found = [posts[i] for i in ids if i in posts]
        titles = [p.title for p in found]
        snippets = [_excerpt(p) for p in found]
        if query.terms and found:
            titles = self._headlines(tsquery, tsparams, titles, "HighlightAll=true")
            texts = [plain_text(p.content_html, limit=_HEADLINE_TEXT) for p in found]
            snippets = self._headlines(
                tsquery,
                tsparams,
                texts,
                f'MaxWords={SNIPPET_WORDS}, MinWords=12, MaxFragments=2, FragmentDelimiter=" … "',
            )
        rows = [SearchRow(p, t, s) for p, t, s in zip(found, titles, snippets, strict=True)]
        return SearchPage(rows, total, exact)

    def _headlines(
        self, tsquery: str, tsparams: list[object], texts: list[str], options: str
    ) -> list[str]:
        rows = self.db.fetchall(
            f"""SELECT ts_headline('english', t.text, {tsquery}, ?) AS h
                FROM unnest(?::text[]) WITH ORDINALITY AS t(text, n) ORDER BY t.n""",
            (*tsparams, f"{options}, {_PG_MARKS}", texts),
        )
        return [str(r["h"]) for r in rows]


def _fts5_match(
    query: Query, sources: dict[str, list[int]] | None, *, columns: str = _TEXT_COLUMNS
) -> str:
    """The FTS5 expression for a query: every user word quoted, so never syntax.

    ``columns``: where the terms must be (``title``: every term in the title).
    """
    required = [f"{columns} : {fts5_string(t)}" for t in query.terms]
    if query.authors:
        required.append(f"author : ({' OR '.join(fts5_string(a) for a in query.authors)})")
    for kind, ids in (sources or {}).items():
        required.append(f"tags : ({' OR '.join(fts5_string(f'{kind}{i}') for i in ids)})")
    expression = "(" + (" AND ".join(required) or "tags : all") + ")"
    for term in query.excluded:
        expression += f" NOT {_TEXT_COLUMNS} : {fts5_string(term)}"
    return expression + " NOT tags : hidden"


def _tsquery(query: Query) -> tuple[str, list[object]]:
    """A PostgreSQL tsquery expression and its parameters: terms required, exclusions not."""
    parts = [
        "phraseto_tsquery('english', ?)" if " " in term else "plainto_tsquery('english', ?)"
        for term in query.terms
    ]
    params: list[object] = list(query.terms)
    if query.terms:
        parts += ["!! phraseto_tsquery('english', ?)" for _ in query.excluded]
    else:  # matched with NOT (...): any excluded term
        parts = [" || ".join("phraseto_tsquery('english', ?)" for _ in query.excluded)]
    params += query.excluded
    return "(" + (" && ".join(p for p in parts if p) or "''::tsquery") + ")", params
