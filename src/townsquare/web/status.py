"""A blog's public status in plain words: the answer to "why isn't my post showing?".

Pure: it takes the stored source, its fetch history and its left-out posts,
and the clock, and says what happened, what happens next, and why any post
is not shown.  The page template only lays the sentences out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus

from ..model import Source, SourceStatus
from ..store import LeftOutPost, LoggedFetch
from .words import ago, date_and_time, duration, from_now, plural

_FAILED = {"error", "gone", "retry_later"}


@dataclass(frozen=True, slots=True)
class FetchLine:
    when: str
    what: str


@dataclass(frozen=True, slots=True)
class LeftOutLine:
    post: LeftOutPost
    reason: str


@dataclass(frozen=True, slots=True)
class BlogStatus:
    summary: str  # what the last fetch came to
    problem: str | None  # what is wrong, if anything
    next_attempt: str
    history: tuple[FetchLine, ...]
    left_out: tuple[LeftOutLine, ...]


def answered(code: int) -> str:
    """'404 (not found)'."""
    try:
        return f"{code} ({HTTPStatus(code).phrase.lower()})"
    except ValueError:
        return str(code)


def what_happened(fetch: LoggedFetch) -> str:
    if fetch.outcome == "ok":
        if fetch.new_posts or fetch.updated_posts:
            parts = []
            if fetch.new_posts:
                parts.append(plural(fetch.new_posts, "new post"))
            if fetch.updated_posts:
                parts.append(plural(fetch.updated_posts, "post") + " updated")
            return ", ".join(parts)
        return "no new posts"
    if fetch.outcome == "not_modified":
        return "the feed had not changed"
    if fetch.outcome == "gone":
        return "the feed answered 410 (gone): the blog has removed it"
    if fetch.outcome == "retry_later":
        return "the server asked us to come back later"
    if fetch.http_status and fetch.http_status >= 400:
        return f"the feed answered {answered(fetch.http_status)}"
    return f"the feed could not be read: {fetch.error or 'no reason was given'}"


def _failing_since(history: list[LoggedFetch]) -> LoggedFetch | None:
    """The first fetch of the current run of failures (history is newest first)."""
    first = None
    for fetch in history:
        if fetch.outcome not in _FAILED:
            break
        first = fetch
    return first


def _problem(source: Source, history: list[LoggedFetch], now: datetime) -> str | None:
    if not source.enabled:
        reason = source.disabled_reason or "the curator has paused it"
        return f"We have stopped fetching this blog: {reason}."
    if source.status is not SourceStatus.ERROR or not history:
        return None
    latest = history[0]
    since = _failing_since(history)
    if since is None or since is latest:
        return f"When we last fetched it, {what_happened(latest)}."
    how_long = f"for the last {duration(now - since.fetched_at)}"
    if latest.http_status and latest.http_status >= 400:
        return f"The feed has answered {answered(latest.http_status)} {how_long}."
    return f"We have not been able to fetch the feed {how_long}: {what_happened(latest)}."


def _next_attempt(source: Source, now: datetime) -> str:
    if not source.enabled:
        return "None: we are not fetching this blog."
    due = max(m for m in (source.next_due_at, source.retry_after, now) if m is not None)
    when = f"{from_now(due, now).capitalize()} ({date_and_time(due)})."
    if source.push_until is not None and source.push_until > now:
        return f"{when} Meanwhile its hub sends us each new post as it is published."
    return when


def _reason(post: LeftOutPost) -> str:
    if post.hidden_reason:
        return post.hidden_reason
    if post.duplicate_source_title:
        return f"The same post is already shown from {post.duplicate_source_title}."
    return "It is a copy of a post shown elsewhere on this site."


def describe(
    source: Source, history: list[LoggedFetch], left_out: list[LeftOutPost], now: datetime
) -> BlogStatus:
    if not history or source.last_fetched_at is None:
        summary = "We have not fetched this blog yet."
    else:
        latest = history[0]
        summary = f"Fetched {ago(latest.fetched_at, now)}, {what_happened(latest)}."
    return BlogStatus(
        summary=summary,
        problem=_problem(source, history, now),
        next_attempt=_next_attempt(source, now),
        history=tuple(
            FetchLine(date_and_time(f.fetched_at), what_happened(f).capitalize()) for f in history
        ),
        left_out=tuple(LeftOutLine(p, _reason(p)) for p in left_out),
    )
