"""The store's revision: a counter that moves whenever the public site's content changes.

Triggers in the schema (migration 0002) move it on every write to posts,
categories, a blog's categories and the parts of a blog the site shows, so a
reader can keep what it rendered until the counter moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .db import Database, to_utc


@dataclass(frozen=True, slots=True)
class Revision:
    value: int
    changed_at: datetime


class RevisionStore:
    db: Database

    def revision(self) -> Revision:
        row = self.db.fetchone("SELECT value, changed_at FROM store_revision WHERE id = 1")
        assert row is not None  # the migration inserts it
        return Revision(int(row["value"]), to_utc(row["changed_at"]))
