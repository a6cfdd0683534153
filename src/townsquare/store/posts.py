"""Posts: stored once per source, updated in place when edited."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlsplit

from ..errors import InputError, NotFoundError, PostGoneError, StoreError
from ..model import CleanPost, FetchState, Post, SaveCounts, Source, Verdict
from .claims import ClaimStore
from .db import Row, to_datetime
from .search_index import SearchIndex

_CHUNK = 400
_INSERTED = (
    "source_id",
    "guid",
    "link",
    "canonical_link",
    "title",
    "author",
    "published",
    "updated",
    "first_seen",
    "last_changed",
    "content_html",
    "summary_html",
    "categories",
    "content_hash",
    "duplicate_of",
    "hidden_reason",
    "hidden_by",
    "filter_id",
    "hidden_at",
)  # the columns of a new post
_INSERT_CHUNK = 500  # posts in one INSERT: 19 values each, under SQLite's 32,766

_POST_COLUMNS = """p.id, p.source_id, s.title AS source_title, s.slug AS source_slug,
    s.site_url AS source_site_url, p.guid, p.link, p.title, p.author, p.published,
    p.updated, p.first_seen, p.content_html, p.summary_html, p.categories"""

VISIBLE = "p.duplicate_of IS NULL AND p.hidden_reason IS NULL"
CURATOR = "curator"  # posts.hidden_by for a takedown: no fetch changes it
FILTER = "filter"  # posts.hidden_by for a post a filter leaves out: decided at every fetch


def _post(row: Row) -> Post:
    return Post(
        id=row["id"],
        source_id=row["source_id"],
        source_title=row["source_title"],
        source_slug=row["source_slug"],
        source_site_url=row["source_site_url"],
        guid=row["guid"],
        link=row["link"],
        title=row["title"],
        author=row["author"],
        published=row["published"],
        updated=row["updated"],
        first_seen=row["first_seen"],
        content_html=row["content_html"],
        summary_html=row["summary_html"],
        categories=tuple(json.loads(row["categories"])),
    )


def _hidden(row: Row) -> HiddenPost:
    return HiddenPost(_post(row), row["hidden_reason"], row["hidden_by"], row["hidden_at"])


@dataclass(frozen=True, slots=True)
class FetchLogEntry:
    fetched_at: datetime
    outcome: str
    http_status: int | None
    error: str | None
    duration_ms: int


FetchSave = tuple[Source, FetchState, Sequence[CleanPost], FetchLogEntry]  # save_fetch's


@dataclass(frozen=True, slots=True)
class LoggedFetch:
    """One line of a blog's fetch history, with what it brought."""

    fetched_at: datetime
    outcome: str  # "ok", "not_modified", "error", "gone", "retry_later"
    http_status: int | None
    error: str | None
    new_posts: int
    updated_posts: int
    duration_ms: int


@dataclass(frozen=True, slots=True)
class LeftOutPost:
    """A stored post the site does not show, and why."""

    id: int
    title: str
    link: str | None
    published: datetime
    hidden_reason: str | None  # a filter's or a takedown's reason, in plain words
    duplicate_of: int | None  # the shown copy, when this is a duplicate
    duplicate_title: str | None
    duplicate_source_title: str | None
    duplicate_source_slug: str | None


@dataclass(frozen=True, slots=True)
class BlogActivity:
    posts: int
    latest: datetime


@dataclass(frozen=True, slots=True)
class HiddenPost:
    """A post the curator took down, or any post of a blog as the curator sees it."""

    post: Post
    hidden_reason: str | None
    hidden_by: str | None  # "curator", "filter" or None
    hidden_at: datetime | None


@dataclass(frozen=True, slots=True)
class FilterablePost:
    """What a filter looks at in a stored post, and what it decided last time."""

    id: int
    title: str
    content_html: str
    tags: tuple[str, ...]
    filter_id: int | None  # None: shown, or hidden by the curator (see taken_down)
    taken_down: bool


@dataclass(slots=True)
class _Existing:
    id: int
    guid: str | None
    link: str | None
    content_hash: str
    hidden_by: str | None
    filter_id: int | None


def _host(url: str | None) -> str:
    if not url:
        return ""
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


def _unique(posts: Sequence[CleanPost]) -> list[CleanPost]:
    """The first of each identity, in feed order (feeds repeat entries)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for post in posts:
        key = (
            ("guid", post.guid)
            if post.guid
            else ("link", post.link)
            if post.link
            else ("hash", post.content_hash)
        )
        if key not in seen:
            seen.add(key)
            out.append(post)
    return out


class PostStore(ClaimStore, SearchIndex):
    def save_fetch(
        self,
        source: Source,
        state: FetchState,
        posts: Sequence[CleanPost],
        log: FetchLogEntry,
    ) -> SaveCounts:
        """Store one fetch's outcome in one transaction (posts, source state, log), then
        index its posts for search."""
        later: dict[int, tuple[str, bytes]] = {}
        result = self.save_fetches([(source, state, posts, log)], later=later)[0]
        if isinstance(result, Exception):
            raise result
        self.index_pending(later)
        return result

    def save_fetches(
        self, saves: Sequence[FetchSave], *, later: dict[int, tuple[str, bytes]]
    ) -> list[SaveCounts | Exception]:
        """Several fetches, each as ``save_fetch`` stores one, in one transaction.

        Each is a savepoint of its own: one that fails is undone and its error given
        in its place, and the others are kept.  One commit for many blogs is what
        lets the one writer keep up with a large pass.

        The posts written are not indexed for search here: they are marked as waiting
        for the index, and their content hashes and texts added to ``later``, for
        ``index_pending`` to index many at once (FTS5 writes out what it holds at
        every savepoint, so indexing blog by blog would make a small segment each time).
        """
        done: list[SaveCounts | Exception] = []
        written: dict[int, CleanPost] = {}  # post id -> the post, for the search index
        with self.db.transaction():
            for save in saves:
                try:
                    with self.db.transaction():
                        done.append(self._save_one(*save, written))
                except StoreError:
                    raise  # the database itself: nothing in this transaction is kept
                except Exception as exc:  # one blog's: the others are still stored
                    done.append(exc)
            self._index_later(written, later)
        return done

    def _save_one(
        self,
        source: Source,
        state: FetchState,
        posts: Sequence[CleanPost],
        log: FetchLogEntry,
        written: dict[int, CleanPost],
    ) -> SaveCounts:
        if source.site_url is None and state.site_url:  # learnt from this very fetch
            source = replace(source, site_url=state.site_url)
        counts = SaveCounts()
        if posts:
            counts = self._save_posts(source, posts, state.fetched_at, written)
        self._save_fetch_state(source, state)
        self.db.execute(
            """INSERT INTO fetch_log (source_id, fetched_at, outcome, http_status, error,
                   new_posts, updated_posts, unchanged_posts, duration_ms)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                source.id,
                log.fetched_at,
                log.outcome,
                log.http_status,
                log.error,
                counts.new,
                counts.updated,
                counts.unchanged,
                log.duration_ms,
            ),
        )
        return counts

    def _existing(self, source_id: int, posts: list[CleanPost]) -> list[_Existing]:
        guids = [p.guid for p in posts if p.guid]
        links = [p.link for p in posts if p.link]
        hashes = [p.content_hash for p in posts if not p.guid and not p.link]
        found: dict[int, _Existing] = {}
        for column, values in (("guid", guids), ("link", links), ("content_hash", hashes)):
            for i in range(0, len(values), _CHUNK):
                chunk = values[i : i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                for r in self.db.fetchall(
                    f"""SELECT id, guid, link, content_hash, hidden_by, filter_id FROM posts
                        WHERE source_id = ? AND {column} IN ({marks})""",
                    (source_id, *chunk),
                ):
                    found[r["id"]] = _Existing(
                        r["id"],
                        r["guid"],
                        r["link"],
                        r["content_hash"],
                        r["hidden_by"],
                        r["filter_id"],
                    )
        return list(found.values())

    def _save_posts(
        self,
        source: Source,
        posts: Sequence[CleanPost],
        now: datetime,
        written: dict[int, CleanPost],
    ) -> SaveCounts:
        """Insert new posts and update edited ones; each one written goes into ``written``."""
        unique = _unique(posts)
        existing = self._existing(source.id, unique)
        by_guid = {e.guid: e for e in existing if e.guid}
        by_link = {e.link: e for e in existing if e.link}
        by_hash = {e.content_hash: e for e in existing if not e.guid and not e.link}
        updated = unchanged = 0
        claimed: set[int] = set()
        fresh: list[CleanPost] = []
        for post in unique:
            match = (
                (by_guid.get(post.guid) if post.guid else None)
                or (by_link.get(post.link) if post.link else None)
                or (by_hash.get(post.content_hash) if not post.guid and not post.link else None)
            )
            if match is not None and match.id not in claimed:
                claimed.add(match.id)
                if match.content_hash == post.content_hash:
                    unchanged += 1
                else:
                    self._update_post(match.id, post, now)
                    written[match.id] = post
                    updated += 1
                # A takedown stays whatever the feed says; a filter decides afresh.
                wanted = post.left_out.filter_id if post.left_out else None
                if match.hidden_by != CURATOR and match.filter_id != wanted:
                    self._set_left_out(match.id, post.left_out, now)
            else:
                fresh.append(post)
        if fresh:
            for post_id, post in self._insert_posts(source, fresh, now):
                written[post_id] = post
        return SaveCounts(new=len(fresh), updated=updated, unchanged=unchanged)

    def _update_post(self, post_id: int, post: CleanPost, now: datetime) -> None:
        self.db.execute(
            f"""UPDATE posts SET title = ?, author = ?, published = coalesce(?, published),
                   updated = ?, content_html = {self.db.utf8_text}, summary_html = ?,
                   categories = ?, content_hash = ?, last_changed = ?
               WHERE id = ?""",
            (
                post.title,
                post.author,
                post.published,
                post.updated,
                post.content_utf8,
                post.summary_html,
                json.dumps(list(post.categories)),
                post.content_hash,
                now,
                post_id,
            ),
        )

    def _insert_posts(
        self, source: Source, posts: list[CleanPost], now: datetime
    ) -> list[tuple[int, CleanPost]]:
        """Insert a blog's new posts, a few statements for all of them; gives their ids.

        A post whose canonical link another blog's post already has is that post's
        duplicate, unless the link is on this blog's own site and not the other's:
        then this is where the post lives, and the other copy steps aside."""
        others = self._canonical_owners(source.id, [p.canonical_link for p in posts])
        rows: list[tuple[object, ...]] = []
        step_aside: dict[tuple[str | None, str | None, str], int] = {}
        for post in posts:
            duplicate_of = None
            other = others.get(post.canonical_link) if post.canonical_link else None
            if other is not None and other["id"] in step_aside.values():
                other = None  # it has stepped aside for an earlier post of this blog
            if other is not None:
                assert post.canonical_link is not None
                link_host = _host(post.canonical_link)
                ours = _host(source.site_url or source.url) == link_host
                theirs = _host(other["site_url"] or other["url"]) == link_host
                if ours and not theirs:
                    step_aside[(post.guid, post.link, post.content_hash)] = other["id"]
                else:
                    duplicate_of = other["id"]
            left_out = post.left_out
            rows.append(
                (  # in the order of _INSERTED
                    source.id,
                    post.guid,
                    post.link,
                    post.canonical_link,
                    post.title,
                    post.author,
                    post.published or now,
                    post.updated,
                    now,
                    now,
                    post.content_utf8,
                    post.summary_html,
                    json.dumps(list(post.categories)),
                    post.content_hash,
                    duplicate_of,
                    left_out.reason if left_out else None,
                    FILTER if left_out else None,
                    left_out.filter_id if left_out else None,
                    now if left_out else None,
                )
            )
        ids: dict[tuple[str | None, str | None, str], int] = {}
        row_marks = (
            "("
            + ", ".join(
                self.db.utf8_text if column == "content_html" else "?" for column in _INSERTED
            )
            + ")"
        )
        for i in range(0, len(rows), _INSERT_CHUNK):
            chunk = rows[i : i + _INSERT_CHUNK]
            values = ", ".join([row_marks] * len(chunk))
            for r in self.db.fetchall(
                f"""INSERT INTO posts ({", ".join(_INSERTED)})
                    VALUES {values} RETURNING id, guid, link, content_hash""",
                [value for row in chunk for value in row],
            ):
                # Rows come back in no promised order; (guid, link, hash) is unique here.
                ids[(r["guid"], r["link"], r["content_hash"])] = r["id"]
        for key, other_id in step_aside.items():
            self.db.execute("UPDATE posts SET duplicate_of = ? WHERE id = ?", (ids[key], other_id))
        return [(ids[(p.guid, p.link, p.content_hash)], p) for p in posts]

    def _canonical_owners(self, source_id: int, links: Sequence[str | None]) -> dict[str, Row]:
        """For each canonical link, the first shown post of another blog that has it."""
        wanted = sorted({link for link in links if link})
        found: dict[str, Row] = {}
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for r in self.db.fetchall(
                f"""SELECT p.id, p.canonical_link, s.site_url, s.url
                    FROM posts p JOIN sources s ON s.id = p.source_id
                    WHERE p.canonical_link IN ({marks}) AND p.source_id <> ?
                        AND p.duplicate_of IS NULL
                    ORDER BY p.id""",
                (*chunk, source_id),
            ):
                found.setdefault(r["canonical_link"], r)
        return found

    def _set_left_out(self, post_id: int, verdict: Verdict | None, now: datetime) -> None:
        """A filter's decision about a post not taken down by the curator."""
        self.db.execute(
            """UPDATE posts SET hidden_reason = ?, hidden_by = ?, filter_id = ?, hidden_at = ?
               WHERE id = ? AND (hidden_by IS NULL OR hidden_by = ?)""",
            (
                verdict.reason if verdict else None,
                FILTER if verdict else None,
                verdict.filter_id if verdict else None,
                now if verdict else None,
                post_id,
                FILTER,
            ),
        )

    def river(
        self,
        *,
        limit: int = 20,
        offset: int = 0,
        source_id: int | None = None,
        category_id: int | None = None,
        since: datetime | None = None,
        before: datetime | None = None,
        after: Post | None = None,
    ) -> list[Post]:
        """Visible posts, newest first; ``since``/``before`` bound the published time.

        ``after``: only posts that come after this one in the river, so a long
        list can be read in pieces without skipping ever more rows.
        """
        where = [VISIBLE]
        params: list[object] = []
        if after is not None:
            where.append("(p.published, p.id) < (?, ?)")
            params.extend((after.published, after.id))
        if source_id is not None:
            where.append("p.source_id = ?")
            params.append(source_id)
        if category_id is not None:
            where.append(
                "p.source_id IN (SELECT source_id FROM source_categories WHERE category_id = ?)"
            )
            params.append(category_id)
        if since is not None:
            where.append("p.published >= ?")
            params.append(since)
        if before is not None:
            where.append("p.published < ?")
            params.append(before)
        # The page's ids first, from the index alone, so a deep page skips index
        # entries rather than whole rows.
        rows = self.db.fetchall(
            f"""SELECT {_POST_COLUMNS} FROM posts p JOIN sources s ON s.id = p.source_id
                WHERE p.id IN (
                    SELECT p.id FROM posts p WHERE {" AND ".join(where)}
                    ORDER BY p.published DESC, p.id DESC LIMIT ? OFFSET ?)
                ORDER BY p.published DESC, p.id DESC""",
            (*params, limit, offset),
        )
        return [_post(r) for r in rows]

    def river_span(self) -> tuple[datetime, datetime] | None:
        """When the oldest and the newest visible posts were published."""
        oldest = self.db.fetchone(
            f"SELECT p.published FROM posts p WHERE {VISIBLE} ORDER BY p.published LIMIT 1"
        )
        newest = self.db.fetchone(
            f"SELECT p.published FROM posts p WHERE {VISIBLE} ORDER BY p.published DESC LIMIT 1"
        )
        if oldest is None or newest is None:
            return None
        return oldest["published"], newest["published"]

    def blog_activity(self) -> dict[int, BlogActivity]:
        """For each blog with visible posts: how many, and when the latest was published."""
        rows = self.db.fetchall(
            f"""SELECT p.source_id, count(*) AS posts, max(p.published) AS latest
                FROM posts p WHERE {VISIBLE} GROUP BY p.source_id"""
        )
        return {r["source_id"]: BlogActivity(r["posts"], to_datetime(r["latest"])) for r in rows}

    def latest_published(self) -> dict[int, datetime]:
        """When each blog last published a post we hold, shown or not."""
        rows = self.db.fetchall(
            "SELECT source_id, max(published) AS latest FROM posts GROUP BY source_id"
        )
        return {r["source_id"]: to_datetime(r["latest"]) for r in rows}

    def left_out_posts(self, source_id: int, *, limit: int = 100) -> list[LeftOutPost]:
        """A blog's posts that are stored but not shown, newest first, with the reason."""
        rows = self.db.fetchall(
            f"""SELECT p.id, p.title, p.link, p.published, p.hidden_reason,
                       shown.id AS shown_id, shown.title AS shown_title,
                       s.title AS shown_source_title, s.slug AS shown_source_slug
                FROM posts p
                LEFT JOIN posts shown ON shown.id = p.duplicate_of
                LEFT JOIN sources s ON s.id = shown.source_id
                WHERE p.source_id = ? AND NOT ({VISIBLE})
                ORDER BY p.published DESC, p.id DESC LIMIT ?""",
            (source_id, limit),
        )
        return [
            LeftOutPost(
                id=r["id"],
                title=r["title"],
                link=r["link"],
                published=r["published"],
                hidden_reason=r["hidden_reason"],
                duplicate_of=r["shown_id"],
                duplicate_title=r["shown_title"],
                duplicate_source_title=r["shown_source_title"],
                duplicate_source_slug=r["shown_source_slug"],
            )
            for r in rows
        ]

    def fetch_history(self, source_id: int, *, limit: int = 20) -> list[LoggedFetch]:
        """A blog's latest fetches, newest first."""
        rows = self.db.fetchall(
            """SELECT fetched_at, outcome, http_status, error, new_posts, updated_posts,
                   duration_ms
               FROM fetch_log WHERE source_id = ? ORDER BY fetched_at DESC, id DESC LIMIT ?""",
            (source_id, limit),
        )
        return [
            LoggedFetch(
                fetched_at=r["fetched_at"],
                outcome=r["outcome"],
                http_status=r["http_status"],
                error=r["error"],
                new_posts=r["new_posts"],
                updated_posts=r["updated_posts"],
                duration_ms=r["duration_ms"],
            )
            for r in rows
        ]

    def post(self, post_id: int) -> Post:
        """A shown post; ``PostGoneError`` for one the site no longer shows."""
        row = self.db.fetchone(
            f"""SELECT {_POST_COLUMNS}, p.duplicate_of, p.hidden_reason
                FROM posts p JOIN sources s ON s.id = p.source_id WHERE p.id = ?""",
            (post_id,),
        )
        if row is None or row["duplicate_of"] is not None:
            raise NotFoundError(f"no such post: {post_id}")
        if row["hidden_reason"] is not None:
            raise PostGoneError(post_id)
        return _post(row)

    # --- takedowns and filters ---------------------------------------------------------

    def any_post(self, post_id: int) -> HiddenPost:
        """A post whether shown or not, for the curator."""
        row = self.db.fetchone(
            f"""SELECT {_POST_COLUMNS}, p.hidden_reason, p.hidden_by, p.hidden_at
                FROM posts p JOIN sources s ON s.id = p.source_id WHERE p.id = ?""",
            (post_id,),
        )
        if row is None:
            raise NotFoundError(f"no such post: {post_id}")
        return _hidden(row)

    def hide_post(self, post_id: int, reason: str, now: datetime) -> HiddenPost:
        """Take a post down: it leaves every page, feed and list, and no fetch brings it
        back (the store keeps matching it by identity and leaves its hidden state alone)."""
        if not reason.strip():
            raise InputError("a takedown needs a reason: readers see it on the status page")
        self.any_post(post_id)
        self.db.execute(
            """UPDATE posts SET hidden_reason = ?, hidden_by = ?, filter_id = NULL, hidden_at = ?
               WHERE id = ?""",
            (reason, CURATOR, now, post_id),
        )
        return self.any_post(post_id)

    def show_post(self, post_id: int) -> HiddenPost:
        """Undo a takedown (the blog's filters decide again at its next fetch)."""
        self.any_post(post_id)
        self.db.execute(
            """UPDATE posts SET hidden_reason = NULL, hidden_by = NULL, hidden_at = NULL
               WHERE id = ? AND hidden_by = ?""",
            (post_id, CURATOR),
        )
        return self.any_post(post_id)

    def taken_down(self, *, limit: int = 100, offset: int = 0) -> list[HiddenPost]:
        """Posts the curator took down, latest first."""
        rows = self.db.fetchall(
            f"""SELECT {_POST_COLUMNS}, p.hidden_reason, p.hidden_by, p.hidden_at
                FROM posts p JOIN sources s ON s.id = p.source_id
                WHERE p.hidden_by = ? ORDER BY p.hidden_at DESC, p.id DESC LIMIT ? OFFSET ?""",
            (CURATOR, limit, offset),
        )
        return [_hidden(r) for r in rows]

    def posts_of(self, source_id: int, *, limit: int = 20, offset: int = 0) -> list[HiddenPost]:
        """A blog's posts, shown or not, newest first (duplicates left out)."""
        rows = self.db.fetchall(
            f"""SELECT {_POST_COLUMNS}, p.hidden_reason, p.hidden_by, p.hidden_at
                FROM posts p JOIN sources s ON s.id = p.source_id
                WHERE p.source_id = ? AND p.duplicate_of IS NULL
                ORDER BY p.published DESC, p.id DESC LIMIT ? OFFSET ?""",
            (source_id, limit, offset),
        )
        return [_hidden(r) for r in rows]

    def posts_by_link(self, link: str, canonical: str | None) -> list[HiddenPost]:
        """Stored posts whose original address is ``link``, or ``canonical`` written the
        canonical way (``ingest.clean.canonical_url``)."""
        rows = self.db.fetchall(
            f"""SELECT {_POST_COLUMNS}, p.hidden_reason, p.hidden_by, p.hidden_at
                FROM posts p JOIN sources s ON s.id = p.source_id
                WHERE p.link = ? OR p.canonical_link = ? ORDER BY p.id LIMIT 20""",
            (link, canonical),
        )
        return [_hidden(r) for r in rows]

    def filterable_posts(self, source_id: int) -> list[FilterablePost]:
        rows = self.db.fetchall(
            """SELECT id, title, content_html, categories, filter_id, hidden_by FROM posts
               WHERE source_id = ? ORDER BY id""",
            (source_id,),
        )
        return [
            FilterablePost(
                id=r["id"],
                title=r["title"],
                content_html=r["content_html"],
                tags=tuple(json.loads(r["categories"])),
                filter_id=r["filter_id"],
                taken_down=r["hidden_by"] == CURATOR,
            )
            for r in rows
        ]

    def set_left_out(self, verdicts: dict[int, Verdict | None], now: datetime) -> None:
        """Filters' new decisions, by post id (posts taken down are left alone)."""
        with self.db.transaction():
            for post_id, verdict in verdicts.items():
                self._set_left_out(post_id, verdict, now)

    def left_out_counts(self, source_id: int) -> dict[int, int]:
        """How many of a blog's posts each of its filters leaves out, by filter id."""
        rows = self.db.fetchall(
            """SELECT filter_id, count(*) AS n FROM posts
               WHERE source_id = ? AND hidden_by = ? GROUP BY filter_id""",
            (source_id, FILTER),
        )
        return {r["filter_id"]: int(r["n"]) for r in rows}

    def known_hashes(self, source_id: int, hashes: Sequence[str]) -> set[str]:
        """Which of these content hashes a blog's stored posts already have."""
        found: set[str] = set()
        unique = sorted(set(hashes))
        for i in range(0, len(unique), _CHUNK):
            chunk = unique[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            found.update(
                r["content_hash"]
                for r in self.db.fetchall(
                    f"""SELECT content_hash FROM posts
                        WHERE source_id = ? AND content_hash IN ({marks})""",
                    (source_id, *chunk),
                )
            )
        return found

    def posts_above(self, post_id: int, *, limit: int = 100) -> int | None:
        """How many visible posts the river shows above this one (at most ``limit``);
        above an empty river (``post_id`` 0) that is every post.  None: no such post."""
        ahead = ""
        params: tuple[object, ...] = ()
        if post_id:
            row = self.db.fetchone("SELECT published FROM posts WHERE id = ?", (post_id,))
            if row is None:
                return None
            ahead = " AND (p.published > ? OR (p.published = ? AND p.id > ?))"
            params = (row["published"], row["published"], post_id)
        found = self.db.fetchone(
            f"""SELECT count(*) AS n FROM (
                    SELECT p.id FROM posts p WHERE {VISIBLE}{ahead} LIMIT ?) above""",
            (*params, limit),
        )
        assert found is not None
        return int(found["n"])

    def count_posts(self, *, visible_only: bool = True) -> int:
        where = f"WHERE {VISIBLE}" if visible_only else ""
        row = self.db.fetchone(f"SELECT count(*) AS n FROM posts p {where}")
        assert row is not None
        return int(row["n"])
