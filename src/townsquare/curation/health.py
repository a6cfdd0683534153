"""Blog health, as the curator sees it: pure decisions over stored fetch state.

    healthy   fetched fine last time (or not fetched yet)
    warning   the last fetch or two failed: it may sort itself out
    failing   3 or more fetches in a row failed
    gone      the feed answered 410 Gone: we stopped fetching it
    disabled  the curator stopped fetching it (or retired it)

Two lists need the curator: blogs failing for more than 7 days (no success
for that long), and blogs silent for more than 6 months (no post published).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..model import Source, SourceStatus

FAILING_FROM = 3  # failures in a row
LONG_FAILURE = timedelta(days=7)
SILENCE = timedelta(days=183)  # six months


class Health(enum.StrEnum):
    HEALTHY = "healthy"
    WARNING = "warning"
    FAILING = "failing"
    GONE = "gone"
    DISABLED = "disabled"


# Most urgent first, for sorting by state.
URGENCY = {
    Health.FAILING: 0,
    Health.GONE: 1,
    Health.WARNING: 2,
    Health.DISABLED: 3,
    Health.HEALTHY: 4,
}


@dataclass(frozen=True, slots=True)
class BlogHealth:
    blog: Source
    health: Health
    problem: str | None  # the last error or why it is disabled, as a sentence
    latest_post: datetime | None
    failing_since: datetime | None  # the last success (or when it was added), while failing
    failing_long: bool  # failing for more than 7 days
    silent: bool  # no post for more than 6 months

    @property
    def next_attempt(self) -> datetime | None:
        if not self.blog.enabled:
            return None
        moments = [m for m in (self.blog.next_due_at, self.blog.retry_after) if m is not None]
        return max(moments) if moments else None


def sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def health_of(blog: Source) -> Health:
    if blog.status is SourceStatus.GONE:
        return Health.GONE
    if not blog.enabled:
        return Health.DISABLED
    if blog.status is SourceStatus.ERROR:
        return Health.FAILING if blog.consecutive_failures >= FAILING_FROM else Health.WARNING
    return Health.HEALTHY


def _problem(blog: Source, health: Health) -> str | None:
    if health is Health.DISABLED:
        return sentence(f"Not fetched: {blog.disabled_reason or 'disabled by the curator'}")
    if health is Health.GONE:
        return "The feed answered 410 Gone: the blog has removed it."
    if blog.last_error and health is not Health.HEALTHY:
        return sentence(blog.last_error)
    return None


def assess(blog: Source, latest_post: datetime | None, now: datetime) -> BlogHealth:
    health = health_of(blog)
    failing = blog.status in (SourceStatus.ERROR, SourceStatus.GONE)
    since = (blog.last_success_at or blog.created_at) if failing else None
    silent_since = latest_post or blog.created_at
    return BlogHealth(
        blog=blog,
        health=health,
        problem=_problem(blog, health),
        latest_post=latest_post,
        failing_since=since,
        failing_long=since is not None and now - since > LONG_FAILURE,
        silent=blog.enabled and now - silent_since > SILENCE,
    )


def assess_all(
    blogs: Iterable[Source], latest: Mapping[int, datetime], now: datetime
) -> list[BlogHealth]:
    return [assess(b, latest.get(b.id), now) for b in blogs]


def counts(assessed: Iterable[BlogHealth]) -> dict[Health, int]:
    out = dict.fromkeys(Health, 0)
    for line in assessed:
        out[line.health] += 1
    return out


def needs_attention(
    assessed: Iterable[BlogHealth],
) -> tuple[list[BlogHealth], list[BlogHealth]]:
    """(failing for more than 7 days, longest first; silent for more than 6 months,
    longest first).  Retired blogs are left out of both."""
    listed = [line for line in assessed if not line.blog.retired]
    failing = sorted(
        (line for line in listed if line.failing_long),
        key=lambda line: (line.failing_since or line.blog.created_at, line.blog.id),
    )
    silent = sorted(
        (line for line in listed if line.silent),
        key=lambda line: (line.latest_post or line.blog.created_at, line.blog.id),
    )
    return failing, silent
