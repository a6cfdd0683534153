"""Times and counts in plain words: '2 hours ago', 'in 45 minutes', '3 new posts'."""

from __future__ import annotations

from datetime import datetime, timedelta

from ..text import long_date


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def duration(delta: timedelta) -> str:
    """'4 days', '3 hours', '20 minutes' (rounded down; under a minute is '1 minute')."""
    seconds = max(int(delta.total_seconds()), 0)
    if seconds >= 2 * 86400:
        return plural(seconds // 86400, "day")
    if seconds >= 3600:
        return plural(seconds // 3600, "hour")
    return plural(max(seconds // 60, 1), "minute")


def ago(moment: datetime, now: datetime) -> str:
    if now - moment < timedelta(minutes=1):
        return "just now"
    return duration(now - moment) + " ago"


def from_now(moment: datetime, now: datetime) -> str:
    if moment - now < timedelta(minutes=1):
        return "now"
    return "in " + duration(moment - now)


def clock(moment: datetime) -> str:
    """'3:15pm', '10am', 'midday', the way GOV.UK writes times."""
    if moment.hour == 12 and moment.minute == 0:
        return "midday"
    if moment.hour == 0 and moment.minute == 0:
        return "midnight"
    hour = moment.hour % 12 or 12
    suffix = "am" if moment.hour < 12 else "pm"
    return f"{hour}{suffix}" if moment.minute == 0 else f"{hour}:{moment.minute:02d}{suffix}"


def date_and_time(moment: datetime) -> str:
    """'26 November 2020 at 3:15pm UTC'."""
    return f"{long_date(moment)} at {clock(moment)} UTC"
