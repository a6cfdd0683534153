"""Per-blog filters: which of a blog's posts the site shows.

The rules are kept here; deciding what they mean for a post is
``ingest.filter``'s job, at every fetch (and again when the rules change).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from ..errors import NotFoundError
from ..model import FilterAction, FilterField, PostFilter
from .db import Database, Row

_CHUNK = 400


def _filter(r: Row) -> PostFilter:
    return PostFilter(
        id=r["id"],
        source_id=r["source_id"],
        action=FilterAction(r["action"]),
        field=FilterField(r["field"]),
        words=tuple(json.loads(r["words"])),
    )


class FilterStore:
    db: Database

    def add_filter(
        self,
        source_id: int,
        action: FilterAction,
        field: FilterField,
        words: Iterable[str],
        now: datetime,
    ) -> PostFilter:
        filter_id = self.db.insert(
            """INSERT INTO source_filters (source_id, action, field, words, created_at)
               VALUES (?, ?, ?, ?, ?) RETURNING id""",
            (source_id, action.value, field.value, json.dumps(list(words)), now),
        )
        return self.post_filter(filter_id)

    def post_filter(self, filter_id: int) -> PostFilter:
        row = self.db.fetchone("SELECT * FROM source_filters WHERE id = ?", (filter_id,))
        if row is None:
            raise NotFoundError(f"no such filter: {filter_id}")
        return _filter(row)

    def remove_filter(self, filter_id: int) -> PostFilter:
        found = self.post_filter(filter_id)
        self.db.execute("DELETE FROM source_filters WHERE id = ?", (filter_id,))
        return found

    def filters_of(self, source_id: int) -> list[PostFilter]:
        rows = self.db.fetchall(
            "SELECT * FROM source_filters WHERE source_id = ? ORDER BY id", (source_id,)
        )
        return [_filter(r) for r in rows]

    def filters_for(self, source_ids: Iterable[int]) -> dict[int, list[PostFilter]]:
        """The filters of these blogs, by blog (blogs with none are left out)."""
        wanted = sorted(set(source_ids))
        out: dict[int, list[PostFilter]] = {}
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for r in self.db.fetchall(
                f"SELECT * FROM source_filters WHERE source_id IN ({marks}) ORDER BY id", chunk
            ):
                out.setdefault(r["source_id"], []).append(_filter(r))
        return out
