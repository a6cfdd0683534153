"""Claims: how one or many processes share the polling without fetching twice.

A process claims due sources for a lease (``claimed_by``, ``claim_expires``)
before fetching them; storing a fetch's outcome releases the claim.  On
PostgreSQL the claim skips rows another worker is claiming at that moment
(``FOR UPDATE SKIP LOCKED``); on SQLite the write lock already serialises
claims.  A claim outlives its owner only until the lease ends, or, on the
same machine, until a new claimer sees that the owning process is gone.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from ..model import Source
from .sources import _SOURCE_COLUMNS, SourceStore, _source

_HOST = socket.gethostname()


def new_owner() -> str:
    """A claimer's name: host, process and a random part."""
    return f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _alive_here(owner: str) -> bool:
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != _HOST or not pid_text.isdigit():
        return True  # another machine's: only its lease can tell
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ClaimStore(SourceStore):
    def claim_due(
        self,
        owner: str,
        now: datetime,
        *,
        lease: timedelta,
        limit: int,
        ids: Iterable[int] | None = None,
        force: bool = False,
    ) -> list[Source]:
        """Claim up to ``limit`` due sources (every enabled one with ``force``)."""
        self._release_dead_claims()
        # With force our schedule and backoff are skipped; a server's Retry-After is not.
        due = (
            "(s.retry_after IS NULL OR s.retry_after <= ?)"
            if force
            else "(s.next_due_at IS NULL OR s.next_due_at <= ?)"
        )
        wanted: list[int] = []
        only = ""
        if ids is not None:
            wanted = sorted(set(ids))
            if not wanted:
                return []
            only = f" AND s.id IN ({','.join('?' * len(wanted))})"
        lock = " FOR UPDATE SKIP LOCKED" if self.db.dialect == "postgresql" else ""
        with self.db.transaction():
            rows = self.db.fetchall(
                f"""UPDATE sources SET claimed_by = ?, claim_expires = ?
                    WHERE id IN (
                        SELECT s.id FROM sources s
                        WHERE s.enabled AND NOT s.retired AND {due}
                          AND (s.claim_expires IS NULL OR s.claim_expires <= ?){only}
                        ORDER BY s.next_due_at, s.id LIMIT ?{lock})
                    RETURNING id""",
                (owner, now + lease, now, now, *wanted, limit),
            )
            claimed = [r["id"] for r in rows]
        if not claimed:
            return []
        marks = ",".join("?" * len(claimed))
        found = self.db.fetchall(
            f"SELECT {_SOURCE_COLUMNS} FROM sources s WHERE s.id IN ({marks})"
            " ORDER BY s.next_due_at, s.id",
            claimed,
        )
        return [_source(r) for r in found]

    def count_due(self, now: datetime) -> int:
        """Enabled sources due now, whether or not someone has claimed them."""
        row = self.db.fetchone(
            "SELECT count(*) AS n FROM sources WHERE enabled"
            " AND (next_due_at IS NULL OR next_due_at <= ?)",
            (now,),
        )
        return int(row["n"]) if row else 0

    def release_claims(self, owner: str) -> None:
        self.db.execute(
            "UPDATE sources SET claimed_by = NULL, claim_expires = NULL WHERE claimed_by = ?",
            (owner,),
        )

    def _release_dead_claims(self) -> None:
        owners = self.db.fetchall(
            "SELECT DISTINCT claimed_by FROM sources WHERE claimed_by IS NOT NULL"
        )
        for row in owners:
            if not _alive_here(row["claimed_by"]):
                self.release_claims(row["claimed_by"])
