"""Pure parts of the website: heading levels, words for times, a blog's status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from townsquare.model import Source, SourceStatus
from townsquare.store import LeftOutPost, LoggedFetch
from townsquare.web.content import shift_headings
from townsquare.web.status import describe
from townsquare.web.words import ago, clock, date_and_time, from_now

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("html", "top", "expected"),
    [
        ("<p>no headings</p>", 3, "<p>no headings</p>"),
        ("<h1>A</h1><h2>B</h2>", 3, "<h3>A</h3><h4>B</h4>"),
        ("<h2>A</h2><h3>B</h3>", 2, "<h2>A</h2><h3>B</h3>"),
        # a skipped level is closed up, so the outline stays in order
        ("<h1>A</h1><h4>B</h4><h2>C</h2>", 3, "<h3>A</h3><h4>B</h4><h4>C</h4>"),
        # a post that opens deeper than its shallowest heading starts at the top
        ("<h4>A</h4><h2>B</h2>", 3, "<h3>A</h3><h3>B</h3>"),
        ("<h1>A</h1><h2>B</h2><h3>C</h3><h4>D</h4><h5>E</h5>", 4, "<h4>A</h4><h5>B</h5>"
         "<h6>C</h6><h6>D</h6><h6>E</h6>"),
        ('<h2 title="x">A</h2><p>a &lt;h1&gt; in text</p>', 3,
         '<h3 title="x">A</h3><p>a &lt;h1&gt; in text</p>'),
        ("<header>x</header><hr><h1>A</h1>", 2, "<header>x</header><hr><h2>A</h2>"),
    ],
)  # fmt: skip
def test_shift_headings(html: str, top: int, expected: str) -> None:
    assert shift_headings(html, top) == expected


def test_times_in_words() -> None:
    assert ago(NOW - timedelta(seconds=20), NOW) == "just now"
    assert ago(NOW - timedelta(minutes=1), NOW) == "1 minute ago"
    assert ago(NOW - timedelta(hours=2, minutes=5), NOW) == "2 hours ago"
    assert ago(NOW - timedelta(days=4, hours=3), NOW) == "4 days ago"
    assert from_now(NOW + timedelta(minutes=45), NOW) == "in 45 minutes"
    assert from_now(NOW - timedelta(minutes=5), NOW) == "now"
    assert [
        clock(NOW.replace(hour=h, minute=m)) for h, m in [(15, 15), (10, 0), (12, 0), (0, 0)]
    ] == [
        "3:15pm",
        "10am",
        "midday",
        "midnight",
    ]
    assert date_and_time(NOW) == "26 November 2026 at 3pm UTC"


def _source(**changes: object) -> Source:
    values: dict[str, object] = dict(
        id=1, url="https://blog.example/feed", site_url="https://blog.example/", title="A blog",
        slug="a-blog", enabled=True, excerpts_only=False, status=SourceStatus.OK,
        http_status=200, last_error=None, consecutive_failures=0,
        last_fetched_at=NOW - timedelta(hours=2), last_success_at=NOW - timedelta(hours=2),
        next_due_at=NOW + timedelta(minutes=45), etag=None, last_modified=None,
        created_at=NOW - timedelta(days=30),
    )  # fmt: skip
    values.update(changes)
    return Source(**values)  # type: ignore[arg-type]


def _fetch(hours_ago: float, outcome: str = "ok", status: int | None = 200, new: int = 0,
           error: str | None = None) -> LoggedFetch:  # fmt: skip
    return LoggedFetch(NOW - timedelta(hours=hours_ago), outcome, status, error, new, 0, 120)


def test_status_of_a_healthy_blog() -> None:
    status = describe(_source(), [_fetch(2, new=3), _fetch(3, "not_modified", 304)], [], NOW)
    assert status.summary == "Fetched 2 hours ago, 3 new posts."
    assert status.problem is None
    assert status.next_attempt == "In 45 minutes (26 November 2026 at 3:45pm UTC)."
    assert [line.what for line in status.history] == ["3 new posts", "The feed had not changed"]


def test_status_of_a_failing_blog_says_for_how_long() -> None:
    history = [_fetch(h, "error", 404, error="the server answered 404") for h in (1, 30, 60, 96)]
    history.append(_fetch(100, new=1))
    source = _source(status=SourceStatus.ERROR, http_status=404, consecutive_failures=4)
    status = describe(source, history, [], NOW)
    assert status.summary == "Fetched 1 hour ago, the feed answered 404 (not found)."
    assert status.problem == "The feed has answered 404 (not found) for the last 4 days."


def test_status_of_a_blog_that_cannot_be_reached() -> None:
    history = [_fetch(h, "error", None, error="connection refused") for h in (1, 5)]
    status = describe(_source(status=SourceStatus.ERROR), history, [], NOW)
    assert status.problem == (
        "We have not been able to fetch the feed for the last 5 hours: "
        "the feed could not be read: connection refused."
    )


def test_status_of_a_new_and_of_a_disabled_blog() -> None:
    new = describe(_source(status=SourceStatus.NEW, last_fetched_at=None), [], [], NOW)
    assert new.summary == "We have not fetched this blog yet."
    gone = describe(
        _source(enabled=False, disabled_reason="the feed answered 410 (gone)"),
        [_fetch(1, "gone", 410)],
        [],
        NOW,
    )
    assert gone.problem == "We have stopped fetching this blog: the feed answered 410 (gone)."
    assert gone.next_attempt == "None: we are not fetching this blog."


def test_left_out_posts_say_why() -> None:
    duplicate = LeftOutPost(
        7, "Cross-posted", None, NOW, None, 3, "Cross-posted", "Other blog", "other"
    )
    hidden = LeftOutPost(8, "Personal", None, NOW, "Left out by a filter: not tagged work.", None,
                         None, None, None)  # fmt: skip
    status = describe(_source(), [_fetch(1)], [duplicate, hidden], NOW)
    assert [line.reason for line in status.left_out] == [
        "The same post is already shown from Other blog.",
        "Left out by a filter: not tagged work.",
    ]


def test_a_snapshot_of_the_status_gives_dates_not_times_from_now() -> None:
    """For the static build: nothing relative to the clock, which would be wrong when read."""
    history = [_fetch(h, "error", 404, error="the server answered 404") for h in (1, 30)]
    history.append(_fetch(100, new=1))
    source = _source(status=SourceStatus.ERROR, http_status=404, consecutive_failures=2)
    status = describe(source, history, [], None)
    assert status.summary == (
        "Fetched on 26 November 2026 at 2pm UTC, the feed answered 404 (not found)."
    )
    assert status.problem == (
        "The feed has answered 404 (not found) since 25 November 2026 at 9am UTC."
    )
    assert status.next_attempt == "Planned for 26 November 2026 at 3:45pm UTC."
    new = describe(_source(last_fetched_at=None, next_due_at=None), [], [], None)
    assert new.next_attempt == "At the next fetch."
