"""Posts: stored once per source, updated in place when edited."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlsplit

from ..errors import NotFoundError
from ..model import CleanPost, FetchState, Post, SaveCounts, Source
from .claims import ClaimStore
from .db import Row, to_datetime

_CHUNK = 400

_POST_COLUMNS = """p.id, p.source_id, s.title AS source_title, s.slug AS source_slug,
    s.site_url AS source_site_url, p.guid, p.link, p.title, p.author, p.published,
    p.updated, p.first_seen, p.content_html, p.summary_html, p.categories"""

VISIBLE = "p.duplicate_of IS NULL AND p.hidden_reason IS NULL"


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


@dataclass(frozen=True, slots=True)
class FetchLogEntry:
    fetched_at: datetime
    outcome: str
    http_status: int | None
    error: str | None
    duration_ms: int


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


@dataclass(slots=True)
class _Existing:
    id: int
    guid: str | None
    link: str | None
    content_hash: str


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


class PostStore(ClaimStore):
    def save_fetch(
        self,
        source: Source,
        state: FetchState,
        posts: Sequence[CleanPost],
        log: FetchLogEntry,
    ) -> SaveCounts:
        """Store one fetch's outcome in one transaction: posts, source state, log."""
        if source.site_url is None and state.site_url:  # learnt from this very fetch
            source = replace(source, site_url=state.site_url)
        with self.db.transaction():
            counts = self._save_posts(source, posts, state.fetched_at) if posts else SaveCounts()
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
                    f"""SELECT id, guid, link, content_hash FROM posts
                        WHERE source_id = ? AND {column} IN ({marks})""",
                    (source_id, *chunk),
                ):
                    found[r["id"]] = _Existing(r["id"], r["guid"], r["link"], r["content_hash"])
        return list(found.values())

    def _save_posts(self, source: Source, posts: Sequence[CleanPost], now: datetime) -> SaveCounts:
        unique = _unique(posts)
        existing = self._existing(source.id, unique)
        by_guid = {e.guid: e for e in existing if e.guid}
        by_link = {e.link: e for e in existing if e.link}
        by_hash = {e.content_hash: e for e in existing if not e.guid and not e.link}
        new = updated = unchanged = 0
        claimed: set[int] = set()
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
                    updated += 1
            else:
                self._insert_post(source, post, now)
                new += 1
        return SaveCounts(new=new, updated=updated, unchanged=unchanged)

    def _update_post(self, post_id: int, post: CleanPost, now: datetime) -> None:
        self.db.execute(
            """UPDATE posts SET title = ?, author = ?, published = coalesce(?, published),
                   updated = ?, content_html = ?, summary_html = ?, categories = ?,
                   content_hash = ?, last_changed = ?
               WHERE id = ?""",
            (
                post.title,
                post.author,
                post.published,
                post.updated,
                post.content_html,
                post.summary_html,
                json.dumps(list(post.categories)),
                post.content_hash,
                now,
                post_id,
            ),
        )

    def _insert_post(self, source: Source, post: CleanPost, now: datetime) -> None:
        duplicate_of = None
        other = None
        if post.canonical_link:
            other = self.db.fetchone(
                """SELECT p.id, s.site_url, s.url FROM posts p JOIN sources s ON s.id = p.source_id
                   WHERE p.canonical_link = ? AND p.source_id <> ? AND p.duplicate_of IS NULL
                   ORDER BY p.id LIMIT 1""",
                (post.canonical_link, source.id),
            )
        if other is not None:
            link_host = _host(post.canonical_link)
            ours = _host(source.site_url or source.url) == link_host
            theirs = _host(other["site_url"] or other["url"]) == link_host
            if not (ours and not theirs):
                duplicate_of = other["id"]
        post_id = self.db.insert(
            """INSERT INTO posts (source_id, guid, link, canonical_link, title, author, published,
                   updated, first_seen, last_changed, content_html, summary_html, categories,
                   content_hash, duplicate_of)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
            (
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
                post.content_html,
                post.summary_html,
                json.dumps(list(post.categories)),
                post.content_hash,
                duplicate_of,
            ),
        )
        if other is not None and duplicate_of is None:
            # This source is where the post lives: the other copy steps aside.
            self.db.execute(
                "UPDATE posts SET duplicate_of = ? WHERE id = ?", (post_id, other["id"])
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
        row = self.db.fetchone(
            f"""SELECT {_POST_COLUMNS} FROM posts p JOIN sources s ON s.id = p.source_id
                WHERE p.id = ? AND {VISIBLE}""",
            (post_id,),
        )
        if row is None:
            raise NotFoundError(f"no such post: {post_id}")
        return _post(row)

    def count_posts(self, *, visible_only: bool = True) -> int:
        where = f"WHERE {VISIBLE}" if visible_only else ""
        row = self.db.fetchone(f"SELECT count(*) AS n FROM posts p {where}")
        assert row is not None
        return int(row["n"])
