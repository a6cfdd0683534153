"""Rate limits, counted in the store so every web process sees the same counts.

sign in         5 failures a username, 20 failures a client, in 15 minutes
public forms    5 a client an hour, 200 in all a day (suggestions and requests)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ..store import Store


@dataclass(frozen=True, slots=True)
class Limit:
    bucket: str
    most: int
    window: timedelta

    @property
    def wait(self) -> str:
        minutes = int(self.window.total_seconds() // 60)
        if minutes >= 120:
            return f"{minutes // 60} hours"
        return f"{minutes} minutes"


SIGN_IN_NAME = Limit("sign-in-name", 5, timedelta(minutes=15))
SIGN_IN_CLIENT = Limit("sign-in-client", 20, timedelta(minutes=15))
FORM_CLIENT = Limit("form-client", 5, timedelta(hours=1))
FORM_ALL = Limit("form-all", 200, timedelta(days=1))
EVERYONE = "*"


def reached(store: Store, limit: Limit, subject: str, now: datetime) -> bool:
    """Whether ``subject`` has used up its ``limit`` (another event would pass it)."""
    return store.count_events(limit.bucket, subject, now - limit.window) >= limit.most


def count(store: Store, limit: Limit, subject: str, now: datetime) -> None:
    store.add_event(limit.bucket, subject, now, keep=limit.window)
