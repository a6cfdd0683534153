"""What ``townsquare build`` asks of the store, on SQLite and PostgreSQL: the river read in
pieces, and one snapshot for the whole build."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from conftest import FeedServer
from helpers import Item, rss, run_pass
from townsquare.config import Config
from townsquare.model import Post
from townsquare.publish.site_pages import all_posts
from townsquare.store import Store, open_store

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, db_path: str) -> str:
    return db_path if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))


def _items(blog: str, count: int) -> list[Item]:
    # Posts on two days only: many share a published time, so the order rests on the id too.
    days = ("Fri, 05 Jul 2024 10:00:00 GMT", "Sat, 06 Jul 2024 10:00:00 GMT")
    return [
        Item(f"{blog} {n}", link=f"https://{blog}.example/{n}", date=days[n % 2])
        for n in range(count)
    ]


def _pieces(store: Store, size: int, **where: int) -> list[Post]:
    found: list[Post] = []
    after = None
    while batch := store.river(limit=size, after=after, **where):  # type: ignore[arg-type]
        found.extend(batch)
        after = batch[-1]
    return found


def test_the_river_read_in_pieces_is_the_river(
    db_url: str, server: FeedServer, config: Config
) -> None:
    config = replace(config, db=db_url)
    with open_store(db_url) as store:
        a = store.add_source(server.feed("/a.xml", rss(_items("a", 13))), "A", now=NOW)
        store.add_source(server.feed("/b.xml", rss(_items("b", 8))), "B", now=NOW)
        run_pass(store, config, force=True)
        whole = store.river(limit=100)
        assert len(whole) == 21
        assert [p.id for p in _pieces(store, 4)] == [p.id for p in whole]
        assert [p.id for p in _pieces(store, 5, source_id=a.id)] == [
            p.id for p in whole if p.source_id == a.id
        ]
        assert [p.id for p in all_posts(store)] == [p.id for p in whole]


def test_a_snapshot_does_not_see_what_is_written_meanwhile(db_url: str) -> None:
    with open_store(db_url) as builder, open_store(db_url) as writer:
        writer.add_source("https://a.example/feed", "A", now=NOW)
        with builder.snapshot():
            assert [s.title for s in builder.sources()] == ["A"]
            writer.add_source("https://b.example/feed", "B", now=NOW)  # not kept waiting
            assert [s.title for s in builder.sources()] == ["A"]
        assert [s.title for s in builder.sources()] == ["A", "B"]
