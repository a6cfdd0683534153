"""The weekly health email: what needs the curator, in a few lines of plain text.

``townsquare health-email`` sends it, and ``townsquare run`` every Monday; otherwise
run it once a week (from cron or a systemd timer).  It lists the blogs failing for
more than 7 days and those silent for more than 6 months, each with a link to its
page in the admin area, and what waits in the moderation queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..config import Config
from ..store import ItemKind, Store
from ..text import long_date
from .health import Health, assess_all, counts, needs_attention

LISTED = 50  # blogs named in each list; the rest are counted


@dataclass(frozen=True, slots=True)
class HealthEmail:
    subject: str
    body: str


def _count(n: int, word: str, words: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def compose(store: Store, config: Config, now: datetime) -> HealthEmail:
    assessed = assess_all(store.sources(), store.latest_published(), now)
    failing, silent = needs_attention(assessed)
    by_health = counts(assessed)
    queue = store.queue_counts()
    admin = config.base_url + "admin/"

    subject_parts = []
    if failing:
        subject_parts.append(f"{len(failing):,} failing for over a week")
    if silent:
        subject_parts.append(f"{len(silent):,} silent for 6 months")
    waiting = sum(queue.values())
    if waiting:
        subject_parts.append(f"{waiting:,} waiting for you")
    subject = f"{config.site_name}: " + (", ".join(subject_parts) or "all blogs healthy")

    lines = [
        f"Blog health for {config.site_name} on {long_date(now)}.",
        "",
        f"{_count(len(assessed), 'blog')}: "
        + ", ".join(f"{by_health[h]:,} {h.value}" for h in Health)
        + ".",
    ]

    def section(title: str, items: list[str], more: int) -> None:
        lines.extend(["", title, "-" * len(title)])
        lines.extend(items)
        if more > 0:
            lines.append(f"And {_count(more, 'more blog')}: see {admin}health")

    if failing:
        items = []
        for line in failing[:LISTED]:
            since = line.failing_since
            when = f"no success since {long_date(since)}" if since else "never fetched"
            items.extend(
                [
                    f"* {line.blog.title} ({when})",
                    f"  {line.problem or 'No reason was given.'}",
                    f"  {admin}blogs/{line.blog.id}",
                ]
            )
        section(f"Failing for more than 7 days ({len(failing):,})", items, len(failing) - LISTED)
    if silent:
        items = []
        for line in silent[:LISTED]:
            latest = (
                f"latest post {long_date(line.latest_post)}" if line.latest_post else "no posts"
            )
            items.extend([f"* {line.blog.title} ({latest})", f"  {admin}blogs/{line.blog.id}"])
        section(f"Silent for more than 6 months ({len(silent):,})", items, len(silent) - LISTED)
    if waiting:
        parts = [
            _count(queue.get(ItemKind.SUGGESTION, 0), "suggested blog"),
            _count(queue.get(ItemKind.TAKEDOWN, 0), "takedown request"),
            _count(
                queue.get(ItemKind.EXCERPTS, 0),
                "request for excerpts only",
                "requests for excerpts only",
            ),
        ]
        section("Waiting for you", [", ".join(parts) + ".", f"{admin}queue"], 0)
    if not failing and not silent and not waiting:
        lines.extend(["", "Nothing needs you this week."])
    lines.extend(["", f"Every blog's state: {admin}blogs", ""])
    return HealthEmail(subject, "\n".join(lines))
