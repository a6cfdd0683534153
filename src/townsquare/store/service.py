"""What the service keeps in the store: its periodic jobs, and figures for monitoring.

A periodic job (digests, WebSub renewals, the health email) has one row in ``jobs``:
when it next runs, and which process is running it now, with a lease like a source's
claim.  However many ``townsquare run`` processes there are, each run of a job
happens in one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .db import Database


@dataclass(frozen=True, slots=True)
class ServiceFigures:
    by_status: dict[str, int]  # blogs by status ("new", "ok", "error", "gone")
    due: int  # enabled blogs due now
    overdue: int  # enabled blogs due for longer than the grace given


class ServiceStore:
    db: Database

    def ping(self) -> None:
        """Raises ``StoreError`` when the database cannot be reached."""
        self.db.fetchone("SELECT 1 AS one")

    def service_figures(self, now: datetime, *, overdue: timedelta) -> ServiceFigures:
        rows = self.db.fetchall("SELECT status, count(*) AS n FROM sources GROUP BY status")
        due = self.db.fetchone(
            """SELECT count(*) AS due,
                   coalesce(sum(CASE WHEN next_due_at <= ? THEN 1 ELSE 0 END), 0) AS overdue
               FROM sources WHERE enabled AND (next_due_at IS NULL OR next_due_at <= ?)""",
            (now - overdue, now),
        )
        assert due is not None
        return ServiceFigures(
            by_status={r["status"]: int(r["n"]) for r in rows},
            due=int(due["due"]),
            overdue=int(due["overdue"]),
        )

    def claim_job(
        self, name: str, owner: str, now: datetime, *, lease: timedelta, first_run: datetime
    ) -> datetime | None:
        """Claim a job whose time has come; gives the time it was due (None: not now)."""
        self.db.execute(
            "INSERT INTO jobs (name, next_run_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
            (name, first_run),
        )
        rows = self.db.fetchall(
            """UPDATE jobs SET claimed_by = ?, claim_expires = ?, last_started_at = ?
               WHERE name = ? AND next_run_at <= ?
                 AND (claim_expires IS NULL OR claim_expires <= ?)
               RETURNING next_run_at""",
            (owner, now + lease, now, name, now, now),
        )
        return rows[0]["next_run_at"] if rows else None

    def finish_job(
        self, name: str, owner: str, now: datetime, *, next_run: datetime, error: str | None
    ) -> None:
        """Record a run's end and the next run; the claim is let go."""
        self.db.execute(
            """UPDATE jobs SET next_run_at = ?, claimed_by = NULL, claim_expires = NULL,
                   last_finished_at = ?, last_error = ?
               WHERE name = ? AND claimed_by = ?""",
            (next_run, now, error, name, owner),
        )

    def prune_fetch_log(self, before: datetime) -> int:
        """Forget fetches older than ``before``; gives how many."""
        return self.db.execute("DELETE FROM fetch_log WHERE fetched_at < ?", (before,))

    def release_jobs(self, owner: str) -> None:
        self.db.execute(
            "UPDATE jobs SET claimed_by = NULL, claim_expires = NULL WHERE claimed_by = ?",
            (owner,),
        )
