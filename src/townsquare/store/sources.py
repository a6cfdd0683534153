"""Sources: the blogs we follow, and their fetch state."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from ..errors import SourceExistsError, SourceNotFoundError
from ..model import FetchState, Source, SourceStatus
from ..text import slugify
from .categories import CategoryStore, _first_free
from .db import Row

_ID_CHUNK = 400  # ids per IN (...) list: well under every driver's parameter limit

_SOURCE_COLUMNS = """s.id, s.url, s.site_url, s.title, s.slug, s.enabled, s.excerpts_only,
    s.status, s.http_status, s.last_error, s.consecutive_failures, s.last_fetched_at,
    s.last_success_at, s.next_due_at, s.etag, s.last_modified, s.created_at,
    s.redirect_url, s.redirect_count, s.disabled_reason, s.retry_after, s.hub_url, s.topic_url,
    s.push_until, s.extract_full, s.retired, s.activity_since, s.activity_posts, s.body_hash"""


def _source(row: Row, categories: tuple[str, ...] = ()) -> Source:
    return Source(
        id=row["id"],
        url=row["url"],
        site_url=row["site_url"],
        title=row["title"],
        slug=row["slug"],
        enabled=bool(row["enabled"]),
        excerpts_only=bool(row["excerpts_only"]),
        status=SourceStatus(row["status"]),
        http_status=row["http_status"],
        last_error=row["last_error"],
        consecutive_failures=row["consecutive_failures"],
        last_fetched_at=row["last_fetched_at"],
        last_success_at=row["last_success_at"],
        next_due_at=row["next_due_at"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        created_at=row["created_at"],
        categories=categories,
        redirect_url=row["redirect_url"],
        redirect_count=row["redirect_count"],
        disabled_reason=row["disabled_reason"],
        retry_after=row["retry_after"],
        activity_since=row["activity_since"],
        activity_posts=row["activity_posts"],
        hub_url=row["hub_url"],
        topic_url=row["topic_url"],
        push_until=row["push_until"],
        extract_full=bool(row["extract_full"]),
        retired=bool(row["retired"]),
        body_hash=row["body_hash"],
    )


class SourceStore(CategoryStore):
    def add_source(
        self,
        url: str,
        title: str,
        *,
        site_url: str | None = None,
        categories: Iterable[str] = (),
        now: datetime,
    ) -> Source:
        """List a new blog; it is due for fetching at once."""
        existing = self.source_by_url(url)
        if existing is not None:
            raise SourceExistsError(url, existing.title)
        with self.db.transaction():
            slug = self._free_source_slug(slugify(title, fallback="blog"))
            source_id = self.db.insert(
                """INSERT INTO sources (url, site_url, title, slug, created_at, next_due_at)
                   VALUES (?, ?, ?, ?, ?, ?) RETURNING id""",
                (url, site_url, title, slug, now, now),
            )
            names = list(categories)
            if names:
                self.set_source_categories(source_id, names)
        return self.source(source_id)

    def source(self, source_id: int) -> Source:
        row = self.db.fetchone(
            f"SELECT {_SOURCE_COLUMNS} FROM sources s WHERE s.id = ?", (source_id,)
        )
        if row is None:
            raise SourceNotFoundError(source_id)
        return _source(row, self._categories_of([source_id]).get(source_id, ()))

    def source_by_url(self, url: str) -> Source | None:
        """The source fetched from this URL, or once known by it."""
        row = self.db.fetchone(
            f"""SELECT {_SOURCE_COLUMNS} FROM sources s WHERE s.url = ?
                UNION ALL
                SELECT {_SOURCE_COLUMNS} FROM sources s
                JOIN source_urls u ON u.source_id = s.id WHERE u.url = ?""",
            (url, url),
        )
        return None if row is None else self.source(row["id"])

    def source_by_slug(self, slug: str) -> Source:
        row = self.db.fetchone("SELECT id FROM sources WHERE slug = ?", (slug,))
        if row is None:
            raise SourceNotFoundError(slug)
        return self.source(row["id"])

    def find_source(self, key: str) -> Source:
        """A source by id, feed URL or slug, as typed on the command line."""
        if key.isdigit():
            return self.source(int(key))
        found = self.source_by_url(key)
        if found is None:
            row = self.db.fetchone("SELECT id FROM sources WHERE slug = ?", (key,))
            if row is None:
                raise SourceNotFoundError(key)
            return self.source(row["id"])
        return found

    def sources(self, *, category_id: int | None = None) -> list[Source]:
        if category_id is None:
            rows = self.db.fetchall(
                f"SELECT {_SOURCE_COLUMNS} FROM sources s ORDER BY lower(s.title), s.id"
            )
        else:
            rows = self.db.fetchall(
                f"""SELECT {_SOURCE_COLUMNS} FROM sources s
                    JOIN source_categories sc ON sc.source_id = s.id
                    WHERE sc.category_id = ? ORDER BY lower(s.title), s.id""",
                (category_id,),
            )
        cats = self._categories_of([r["id"] for r in rows])
        return [_source(r, cats.get(r["id"], ())) for r in rows]

    def sources_by_ids(self, ids: Iterable[int]) -> dict[int, Source]:
        """The sources with these ids, by id (ids not stored are left out)."""
        wanted = sorted(set(ids))
        rows: list[Row] = []
        for i in range(0, len(wanted), _ID_CHUNK):
            chunk = wanted[i : i + _ID_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows += self.db.fetchall(
                f"SELECT {_SOURCE_COLUMNS} FROM sources s WHERE s.id IN ({marks})", chunk
            )
        categories = self._categories_of(wanted)
        return {r["id"]: _source(r, categories.get(r["id"], ())) for r in rows}

    def remove_source(self, source_id: int) -> None:
        if self.db.execute("DELETE FROM sources WHERE id = ?", (source_id,)) == 0:
            raise SourceNotFoundError(source_id)

    def update_source(
        self,
        source_id: int,
        *,
        title: str | None = None,
        enabled: bool | None = None,
        excerpts_only: bool | None = None,
        extract_full: bool | None = None,
        next_due_at: datetime | None = None,
    ) -> Source:
        """Change what the curator may change; enabling a blog also brings it back from
        retirement."""
        changes: dict[str, object] = {}
        if title is not None:
            changes["title"] = title
        if enabled is not None:
            changes["enabled"] = enabled
            changes["disabled_reason"] = None if enabled else "disabled by the curator"
            if enabled:
                changes["retired"] = False
        if excerpts_only is not None:
            changes["excerpts_only"] = excerpts_only
        if extract_full is not None:
            changes["extract_full"] = extract_full
        if next_due_at is not None:
            changes["next_due_at"] = next_due_at
        if changes:
            assignments = ", ".join(f"{k} = ?" for k in changes)
            self.db.execute(
                f"UPDATE sources SET {assignments} WHERE id = ?", (*changes.values(), source_id)
            )
        return self.source(source_id)

    def retire_source(self, source_id: int) -> Source:
        """Stop following a blog but keep its posts: it leaves the list of blogs, and its
        posts stay where they were published."""
        self.db.execute(
            "UPDATE sources SET enabled = ?, retired = ?, disabled_reason = ? WHERE id = ?",
            (False, True, "retired by the curator", source_id),
        )
        return self.source(source_id)

    def _save_fetch_state(self, source: Source, state: FetchState) -> None:
        """Part of ``PostStore.save_fetch``: runs inside its transaction."""
        if state.url != source.url:
            self.db.execute(
                "INSERT INTO source_urls (url, source_id) VALUES (?, ?)"
                " ON CONFLICT (url) DO NOTHING",
                (source.url, source.id),
            )
            self.db.execute("DELETE FROM source_urls WHERE url = ?", (state.url,))
        self.db.execute(
            """UPDATE sources SET url = ?, status = ?, http_status = ?, last_error = ?,
                   consecutive_failures = ?, last_fetched_at = ?, last_success_at = ?,
                   next_due_at = ?, retry_after = ?, etag = ?, last_modified = ?, redirect_url = ?,
                   redirect_count = ?, enabled = ?, disabled_reason = ?,
                   site_url = coalesce(site_url, ?), hub_url = ?, topic_url = ?,
                   activity_since = ?, activity_posts = ?, body_hash = ?,
                   claimed_by = NULL, claim_expires = NULL
               WHERE id = ?""",
            (
                state.url,
                state.status.value,
                state.http_status,
                state.last_error,
                state.consecutive_failures,
                state.fetched_at,
                state.last_success_at,
                state.next_due_at,
                state.retry_after,
                state.etag,
                state.last_modified,
                state.redirect_url,
                state.redirect_count,
                state.enabled,
                state.disabled_reason,
                state.site_url,
                state.hub_url,
                state.topic_url,
                state.activity_since,
                state.activity_posts,
                state.body_hash,
                source.id,
            ),
        )

    def _categories_of(self, source_ids: list[int]) -> dict[int, tuple[str, ...]]:
        if not source_ids:
            return {}
        out: dict[int, list[str]] = {}
        rows = self.db.fetchall(
            """SELECT sc.source_id, c.name FROM source_categories sc
               JOIN categories c ON c.id = sc.category_id ORDER BY c.position, c.name"""
        )
        wanted = set(source_ids)
        for r in rows:
            if r["source_id"] in wanted:
                out.setdefault(r["source_id"], []).append(r["name"])
        return {k: tuple(v) for k, v in out.items()}

    def _free_source_slug(self, base: str) -> str:
        taken = {
            r["slug"]
            for r in self.db.fetchall(
                "SELECT slug FROM sources WHERE slug = ? OR slug LIKE ?", (base, base + "-%")
            )
        }
        return _first_free(base, taken)
