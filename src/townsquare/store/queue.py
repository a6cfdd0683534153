"""The moderation queue: blogs suggested by the public, and blog owners' requests to take
a post down or show excerpts only; and the curator's block list."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from datetime import datetime

from ..errors import InputError, NotFoundError
from .db import Database, Row, is_integrity_error


class ItemKind(enum.StrEnum):
    SUGGESTION = "suggestion"  # "please list this blog"
    TAKEDOWN = "takedown"  # "please take this post down"
    EXCERPTS = "excerpts"  # "please show only excerpts of my blog"


class ItemState(enum.StrEnum):
    OPEN = "open"
    APPROVED = "approved"
    DECLINED = "declined"


@dataclass(frozen=True, slots=True)
class Check:
    """One automatic check of a suggestion: what was checked, and what we found."""

    name: str  # "Reachable", "Has a feed", ...
    passed: bool
    detail: str  # in plain words


@dataclass(frozen=True, slots=True)
class FoundFeed:
    """The feed a suggestion's checks found."""

    url: str
    title: str
    site_url: str | None


@dataclass(frozen=True, slots=True)
class QueueItem:
    id: int
    kind: ItemKind
    state: ItemState
    url: str  # the site or feed (suggestion), the post (takedown) or the blog (excerpts)
    name: str  # the blog's name (suggestion) or the person's name (requests)
    email: str
    note: str
    created_at: datetime
    checked_at: datetime | None
    checks: tuple[Check, ...]
    feed: FoundFeed | None
    decided_at: datetime | None
    decided_by: str | None
    reason: str | None
    emailed: str | None  # how telling the person went, in plain words


@dataclass(frozen=True, slots=True)
class Blocked:
    id: int
    host: str
    reason: str
    created_at: datetime


def _item(r: Row) -> QueueItem:
    checks = tuple(Check(**c) for c in json.loads(r["checks"])) if r["checks"] else ()
    feed = FoundFeed(r["feed_url"], r["feed_title"] or "", r["site_url"]) if r["feed_url"] else None
    return QueueItem(
        id=r["id"],
        kind=ItemKind(r["kind"]),
        state=ItemState(r["state"]),
        url=r["url"],
        name=r["name"],
        email=r["email"],
        note=r["note"],
        created_at=r["created_at"],
        checked_at=r["checked_at"],
        checks=checks,
        feed=feed,
        decided_at=r["decided_at"],
        decided_by=r["decided_by"],
        reason=r["reason"],
        emailed=r["emailed"],
    )


class QueueStore:
    db: Database

    def add_item(
        self, kind: ItemKind, url: str, name: str, email: str, note: str, now: datetime
    ) -> QueueItem:
        item_id = self.db.insert(
            """INSERT INTO requests (kind, url, name, email, note, created_at)
               VALUES (?, ?, ?, ?, ?, ?) RETURNING id""",
            (kind.value, url, name, email, note, now),
        )
        return self.item(item_id)

    def item(self, item_id: int) -> QueueItem:
        row = self.db.fetchone("SELECT * FROM requests WHERE id = ?", (item_id,))
        if row is None:
            raise NotFoundError(f"no such suggestion or request: {item_id}")
        return _item(row)

    def queue(self, state: ItemState = ItemState.OPEN, *, limit: int = 100) -> list[QueueItem]:
        """Open items oldest first (first come, first served); decided ones newest first."""
        order = "created_at, id" if state is ItemState.OPEN else "decided_at DESC, id DESC"
        rows = self.db.fetchall(
            f"SELECT * FROM requests WHERE state = ? ORDER BY {order} LIMIT ?",
            (state.value, limit),
        )
        return [_item(r) for r in rows]

    def queue_counts(self) -> dict[ItemKind, int]:
        rows = self.db.fetchall(
            "SELECT kind, count(*) AS n FROM requests WHERE state = ? GROUP BY kind",
            (ItemState.OPEN.value,),
        )
        return {ItemKind(r["kind"]): int(r["n"]) for r in rows}

    def save_checks(
        self, item_id: int, checks: list[Check], feed: FoundFeed | None, now: datetime
    ) -> None:
        self.db.execute(
            """UPDATE requests SET checks = ?, checked_at = ?, feed_url = ?, feed_title = ?,
                   site_url = ? WHERE id = ?""",
            (
                json.dumps(
                    [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in checks]
                ),
                now,
                feed.url if feed else None,
                feed.title if feed else None,
                feed.site_url if feed else None,
                item_id,
            ),
        )

    def decide(
        self, item_id: int, state: ItemState, by: str, reason: str, now: datetime
    ) -> QueueItem:
        """Approve or decline an open item (once: a decided item stays decided)."""
        changed = self.db.execute(
            """UPDATE requests SET state = ?, decided_by = ?, reason = ?, decided_at = ?
               WHERE id = ? AND state = ?""",
            (state.value, by, reason, now, item_id, ItemState.OPEN.value),
        )
        if changed == 0:
            self.item(item_id)  # not found?
            raise InputError("this has already been decided")
        return self.item(item_id)

    def set_emailed(self, item_id: int, outcome: str) -> None:
        self.db.execute("UPDATE requests SET emailed = ? WHERE id = ?", (outcome, item_id))

    # --- the block list ----------------------------------------------------------------

    def block(self, host: str, reason: str, now: datetime) -> Blocked:
        try:
            block_id = self.db.insert(
                "INSERT INTO blocklist (host, reason, created_at) VALUES (?, ?, ?) RETURNING id",
                (host, reason, now),
            )
        except Exception as exc:
            if is_integrity_error(exc):
                raise InputError(f"{host} is already on the block list") from None
            raise
        row = self.db.fetchone("SELECT * FROM blocklist WHERE id = ?", (block_id,))
        assert row is not None
        return Blocked(row["id"], row["host"], row["reason"], row["created_at"])

    def unblock(self, block_id: int) -> Blocked:
        row = self.db.fetchone("SELECT * FROM blocklist WHERE id = ?", (block_id,))
        if row is None:
            raise NotFoundError(f"no such block: {block_id}")
        self.db.execute("DELETE FROM blocklist WHERE id = ?", (block_id,))
        return Blocked(row["id"], row["host"], row["reason"], row["created_at"])

    def blocklist(self) -> list[Blocked]:
        rows = self.db.fetchall("SELECT * FROM blocklist ORDER BY host")
        return [Blocked(r["id"], r["host"], r["reason"], r["created_at"]) for r in rows]

    def blocked(self, host: str) -> Blocked | None:
        """The block covering this host: the host itself or a domain above it."""
        host = host.lower().rstrip(".")
        parts = host.split(".")
        candidates = [".".join(parts[i:]) for i in range(len(parts))]
        marks = ",".join("?" * len(candidates))
        row = self.db.fetchone(
            f"SELECT * FROM blocklist WHERE host IN ({marks}) ORDER BY length(host) DESC",
            candidates,
        )
        return (
            None
            if row is None
            else Blocked(row["id"], row["host"], row["reason"], row["created_at"])
        )
