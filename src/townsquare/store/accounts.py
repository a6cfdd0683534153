"""Curators: accounts, sessions, rate limits, the audit log and the site's own keys.

Sessions live here rather than in a signed cookie, so several web processes
share them and signing out ends a session everywhere.  The cookie holds a
random token; the store keeps only its SHA-256.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..errors import InputError, NotFoundError
from .db import Database, Row, is_integrity_error


@dataclass(frozen=True, slots=True)
class Curator:
    id: int
    username: str
    password_hash: str
    created_at: datetime
    last_login_at: datetime | None


@dataclass(frozen=True, slots=True)
class Session:
    token_hash: str
    curator: Curator
    csrf_token: str
    expires_at: datetime
    flash: str | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    username: str
    action: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


_CURATOR_COLUMNS = "u.id, u.username, u.password_hash, u.created_at, u.last_login_at"


def _curator(r: Row) -> Curator:
    return Curator(r["id"], r["username"], r["password_hash"], r["created_at"], r["last_login_at"])


class AccountStore:
    db: Database

    # --- accounts ----------------------------------------------------------------------

    def add_curator(self, username: str, password_hash: str, now: datetime) -> Curator:
        try:
            self.db.insert(
                "INSERT INTO users (username, password_hash, created_at) VALUES (?, ?, ?)"
                " RETURNING id",
                (username, password_hash, now),
            )
        except Exception as exc:
            if is_integrity_error(exc):
                raise InputError(f"there is already a curator called {username!r}") from None
            raise
        found = self.curator(username)
        assert found is not None
        return found

    def curator(self, username: str) -> Curator | None:
        row = self.db.fetchone(
            f"SELECT {_CURATOR_COLUMNS} FROM users u WHERE u.username = ?", (username,)
        )
        return None if row is None else _curator(row)

    def curators(self) -> list[Curator]:
        rows = self.db.fetchall(f"SELECT {_CURATOR_COLUMNS} FROM users u ORDER BY u.username")
        return [_curator(r) for r in rows]

    def set_password(self, username: str, password_hash: str) -> None:
        """A new password ends every session of that curator."""
        with self.db.transaction():
            found = self.curator(username)
            if found is None:
                raise NotFoundError(f"no such curator: {username!r}")
            self.db.execute(
                "UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, found.id)
            )
            self.db.execute("DELETE FROM sessions WHERE user_id = ?", (found.id,))

    def remove_curator(self, username: str) -> None:
        if self.db.execute("DELETE FROM users WHERE username = ?", (username,)) == 0:
            raise NotFoundError(f"no such curator: {username!r}")

    # --- sessions ----------------------------------------------------------------------

    def start_session(self, curator: Curator, now: datetime, lifetime: timedelta) -> str:
        """A new session; gives the token for the cookie (stored only as a hash)."""
        token = secrets.token_urlsafe(32)
        with self.db.transaction():
            self.db.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
            self.db.execute(
                """INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at)
                   VALUES (?, ?, ?, ?, ?)""",
                (token_hash(token), curator.id, secrets.token_urlsafe(32), now, now + lifetime),
            )
            self.db.execute("UPDATE users SET last_login_at = ? WHERE id = ?", (now, curator.id))
        return token

    def session(self, token: str, now: datetime) -> Session | None:
        row = self.db.fetchone(
            f"""SELECT se.token_hash, se.csrf_token, se.expires_at, se.flash, {_CURATOR_COLUMNS}
                FROM sessions se JOIN users u ON u.id = se.user_id
                WHERE se.token_hash = ? AND se.expires_at > ?""",
            (token_hash(token), now),
        )
        if row is None:
            return None
        return Session(
            row["token_hash"], _curator(row), row["csrf_token"], row["expires_at"], row["flash"]
        )

    def end_session(self, hashed: str) -> None:
        self.db.execute("DELETE FROM sessions WHERE token_hash = ?", (hashed,))

    def set_flash(self, hashed: str, message: str | None) -> None:
        """A message for the session's next page ("Blog added")."""
        self.db.execute("UPDATE sessions SET flash = ? WHERE token_hash = ?", (message, hashed))

    # --- rate limits -------------------------------------------------------------------

    def count_events(self, bucket: str, subject: str, since: datetime) -> int:
        row = self.db.fetchone(
            "SELECT count(*) AS n FROM rate_events WHERE bucket = ? AND subject = ? AND at > ?",
            (bucket, subject, since),
        )
        return int(row["n"]) if row else 0

    def add_event(self, bucket: str, subject: str, now: datetime, *, keep: timedelta) -> None:
        """Count one event; events older than ``keep`` are forgotten."""
        with self.db.transaction():
            self.db.execute(
                "DELETE FROM rate_events WHERE bucket = ? AND at <= ?", (bucket, now - keep)
            )
            self.db.execute(
                "INSERT INTO rate_events (bucket, subject, at) VALUES (?, ?, ?)",
                (bucket, subject, now),
            )

    def clear_events(self, bucket: str, subject: str) -> None:
        self.db.execute(
            "DELETE FROM rate_events WHERE bucket = ? AND subject = ?", (bucket, subject)
        )

    # --- the audit log -----------------------------------------------------------------

    def audit(self, username: str, action: str, now: datetime) -> None:
        self.db.execute(
            "INSERT INTO audit_log (at, username, action) VALUES (?, ?, ?)",
            (now, username, action),
        )

    def audit_log(self, *, limit: int = 50, offset: int = 0) -> list[AuditEntry]:
        rows = self.db.fetchall(
            "SELECT at, username, action FROM audit_log ORDER BY at DESC, id DESC LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [AuditEntry(r["at"], r["username"], r["action"]) for r in rows]

    # --- keys --------------------------------------------------------------------------

    def site_key(self, name: str) -> str:
        """A random key the site made for itself, the same for every process."""
        self.db.execute(
            "INSERT INTO site_keys (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
            (name, secrets.token_hex(32)),
        )
        row = self.db.fetchone("SELECT value FROM site_keys WHERE name = ?", (name,))
        assert row is not None
        return str(row["value"])
