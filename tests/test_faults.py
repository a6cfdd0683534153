"""A fault in Townsquare's own code, met while reading one feed, costs that feed and never
the pass: the feed gets a stored error saying so, the others are read as usual.

There is no known input that causes such a fault (each one found has been fixed), so these
tests put one in by hand: the one place in this suite where our own code is replaced.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conftest import FeedServer, Result
from hostile import add, run_pass, small_feed
from townsquare.ingest import fetch, read
from townsquare.store import Store


def test_fault_while_reading_one_feed(
    server: FeedServer,
    store: Store,
    run: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    real = read.clean_feed

    def faulty(feed, now):  # type: ignore[no-untyped-def]
        if feed.title == "Broken":
            raise RecursionError("deep")
        return real(feed, now)

    monkeypatch.setattr(read, "clean_feed", faulty)
    add(store, server.feed("/broken", small_feed("broken").replace(b"A blog", b"Broken")), "B")
    add(store, server.feed("/fine", small_feed("fine")), "Fine")
    outcome = run_pass(run)
    assert outcome.source("B")["last_error"] == (
        "Townsquare could not read this feed because of a fault in Townsquare itself "
        "(RecursionError); please report it, with the feed's address"
    )
    # One line for whoever runs Townsquare; no traceback.
    assert [r.getMessage() for r in caplog.records] == [
        f"fault while reading {server.url('/broken')}: RecursionError: deep"
    ]
    assert not any(r.exc_info for r in caplog.records)
    assert len(outcome.posts_of("Fine")) == 2


def test_fault_while_fetching_one_feed(
    server: FeedServer,
    store: Store,
    run: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    real = fetch.parse_link_header

    def faulty(values, base):  # type: ignore[no-untyped-def]
        if base.endswith("/broken"):
            raise KeyError("oops")
        return real(values, base)

    monkeypatch.setattr(fetch, "parse_link_header", faulty)
    add(store, server.feed("/broken", small_feed("broken")), "Broken")
    add(store, server.feed("/fine", small_feed("fine")), "Fine")
    outcome = run_pass(run)
    assert outcome.source("Broken")["last_error"] == (
        "Townsquare could not fetch this feed because of a fault in Townsquare itself "
        "(KeyError); please report it, with the feed's address"
    )
    assert [r.getMessage() for r in caplog.records] == [
        f"fault while fetching {server.url('/broken')}: KeyError: 'oops'"
    ]
    assert len(outcome.posts_of("Fine")) == 2
