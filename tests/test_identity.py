"""Which post is which: GUIDs, links, edits and the same post through two blogs.

The first tests run the whole pipeline against a real HTTP server; the ones
that need a clock that moves drive the same steps (parse | clean | decide |
save_fetch) with the clock passed in.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin

import pytest
from psycopg.errors import ForeignKeyViolation

from conftest import FeedServer
from helpers import Item, rss, run_pass
from townsquare.config import Config
from townsquare.ingest.clean import clean_feed
from townsquare.ingest.parse import parse_feed
from townsquare.ingest.schedule import decide
from townsquare.model import FetchOutcome, FetchResult, SaveCounts, Source
from townsquare.store import FetchLogEntry, FetchSave, Store
from townsquare.store import db as db_module

T0 = datetime(2024, 7, 5, 10, 0, tzinfo=UTC)


@pytest.fixture
def store(any_store: Store) -> Store:
    """Every test here runs on SQLite and on PostgreSQL."""
    return any_store


def add(store: Store, url: str, title: str, site: str | None = None) -> Source:
    return store.add_source(url, title, site_url=site, now=datetime.now(UTC))


def fetched_at(store: Store, source_id: int, feed: str, now: datetime) -> FetchSave:
    """What the pipeline hands the store for one fetch of ``feed`` at ``now``."""
    source = store.source(source_id)
    fetched = FetchResult(source.url, source.url, FetchOutcome.OK, 200, feed.encode())
    posts = clean_feed(parse_feed(fetched.body, source.url), now)
    state = decide(source, fetched, now=now, interval=timedelta(hours=1), rng=random.Random(1))
    return source, state, posts, FetchLogEntry(now, "ok", 200, None, 0)


def save_at(store: Store, source_id: int, feed: str, now: datetime) -> SaveCounts:
    """One fetch of ``feed`` at ``now``, through the pipeline's own steps."""
    return store.save_fetch(*fetched_at(store, source_id, feed, now))


# --- GUIDs and links ---------------------------------------------------------------------


def test_rotating_guids_with_stable_links_make_no_duplicates(
    server: FeedServer, store: Store, config: Config
) -> None:
    links = ["https://blog.example/one", "https://blog.example/two"]

    def feed(version: int) -> str:
        return rss(Item(f"Post {i}", link=u, guid=f"{u}?v={version}") for i, u in enumerate(links))

    url = server.feed("/feed", feed(0))
    add(store, url, "Blog")
    assert run_pass(store, config).new == 2
    for version in (1, 2):
        server.feed("/feed", feed(version))  # new ETag, new GUIDs, same links
        report = run_pass(store, config, force=True)
        assert (report.new, report.updated, report.unchanged) == (0, 0, 2)
    assert store.count_posts() == 2


@pytest.mark.parametrize(
    "link",
    [
        "https://blog.example/2024/07/a-post",
        "https://user@blog.example:8443/a-post/",
        "HTTPS://Blog.Example/a-post",
        "https://blog.example/a-post?",
        "https://blog.example/a-post#",
        "https://blog.example/a-post;v=1",
        "https://blog.example/a/../a-post",
        "https://blog.example/a post",
        "https://bl\u00f6g.example/a-post",
        "http://[::1]/a-post",
        "//other.example/a-post",
        "/2024/a-post",
        "a-post",
    ],
)
def test_a_link_is_made_absolute_as_it_always_was(link: str) -> None:
    # A post without a GUID is known by its link: one read differently after an upgrade
    # would be stored again as a new post.
    feed = rss([Item("A post", link=link)]).encode()
    entry = parse_feed(feed, "https://blog.example/feed/").entries[0]
    assert entry.link == urljoin("https://blog.example/feed/", link)


def test_posts_without_guid_or_link_are_known_by_their_content(
    server: FeedServer, store: Store, config: Config
) -> None:
    feed = rss([Item("Notice", content="<p>The library is closed today.</p>")])
    add(store, server.feed("/feed", feed), "Blog")
    run_pass(store, config)
    server.feed("/feed", feed + "\n")  # same posts, new ETag
    report = run_pass(store, config, force=True)
    assert (report.new, report.unchanged) == (0, 1)


def test_a_feed_repeating_an_entry_stores_it_once(
    server: FeedServer, store: Store, config: Config
) -> None:
    twice = [Item("Same", link="https://blog.example/same", guid="same")] * 2
    add(store, server.feed("/feed", rss(twice)), "Blog")
    assert run_pass(store, config).new == 1
    assert store.count_posts() == 1


# --- edits -------------------------------------------------------------------------------


def test_an_edited_post_is_updated_in_place(
    server: FeedServer, store: Store, config: Config
) -> None:
    first = Item("Draft title", link="https://blog.example/p", guid="p", content="<p>Old.</p>")
    url = server.feed("/feed", rss([first]))
    add(store, url, "Blog")
    run_pass(store, config)
    [before] = store.river()

    edited = Item("Final title", link="https://blog.example/p", guid="p", content="<p>New.</p>")
    server.feed("/feed", rss([edited]))
    report = run_pass(store, config, force=True)
    assert (report.new, report.updated, report.unchanged) == (0, 1, 0)
    [after] = store.river()
    assert after.id == before.id
    assert (after.title, after.content_html) == ("Final title", "<p>New.</p>")
    assert (after.first_seen, after.published) == (before.first_seen, before.published)


def test_an_edit_keeps_the_time_first_seen(store: Store) -> None:
    source = add(store, "https://blog.example/feed", "Blog")
    undated = Item("Undated", link="https://blog.example/u", guid="u", date=None)
    assert save_at(store, source.id, rss([undated]), T0) == SaveCounts(new=1)
    [post] = store.river()
    assert post.first_seen == post.published == T0

    later = T0 + timedelta(days=3)
    changed = Item("Undated, edited", link="https://blog.example/u", guid="u", date=None)
    assert save_at(store, source.id, rss([changed]), later) == SaveCounts(updated=1)
    [edited] = store.river()
    assert (edited.id, edited.title) == (post.id, "Undated, edited")
    assert edited.first_seen == edited.published == T0  # not moved to the top of the river

    assert save_at(store, source.id, rss([changed]), later + timedelta(days=1)) == SaveCounts(
        unchanged=1
    )


def test_an_edit_with_a_new_date_takes_the_new_date(store: Store) -> None:
    source = add(store, "https://blog.example/feed", "Blog")
    save_at(store, source.id, rss([Item("P", guid="p", date="Fri, 05 Jul 2024 10:00:00 GMT")]), T0)
    edited = Item("P, corrected", guid="p", date="Sat, 06 Jul 2024 10:00:00 GMT")
    save_at(store, source.id, rss([edited]), T0 + timedelta(days=2))
    [post] = store.river()
    assert post.published == datetime(2024, 7, 6, 10, 0, tzinfo=UTC)
    assert post.first_seen == T0


def test_a_new_date_alone_is_not_an_edit(store: Store) -> None:
    """Some feeds re-date every item on each build; that must not reshuffle the river."""
    source = add(store, "https://blog.example/feed", "Blog")
    save_at(store, source.id, rss([Item("P", guid="p", date="Fri, 05 Jul 2024 10:00:00 GMT")]), T0)
    redated = rss([Item("P", guid="p", date="Sat, 06 Jul 2024 10:00:00 GMT")])
    assert save_at(store, source.id, redated, T0 + timedelta(days=2)) == SaveCounts(unchanged=1)
    [post] = store.river()
    assert post.published == datetime(2024, 7, 5, 10, 0, tzinfo=UTC)


# --- the same post through two blogs -----------------------------------------------------

ORIGINAL = "https://blog.example/2024/07/open-data"


def _two_sources(server: FeedServer, store: Store) -> tuple[Source, Source]:
    planet = rss(
        [
            Item(
                "Open data (via the planet)",
                link="http://www.blog.example/2024/07/open-data/?utm_source=planet#top",
                guid="planet-1",
            ),
            Item("Only on the planet", link="https://planet.example/own", guid="planet-2"),
        ],
        title="Planet Public Sector",
        site="https://planet.example/",
    )
    blog = rss(
        [Item("Open data", link=ORIGINAL, guid="blog-1")],
        title="Blog Example",
        site="https://blog.example/",
    )
    return (
        add(store, server.feed("/planet", planet), "Planet Public Sector"),
        add(store, server.feed("/blog", blog), "Blog Example"),
    )


def test_a_post_through_two_blogs_is_shown_once_credited_to_its_own_blog(
    server: FeedServer, store: Store, config: Config
) -> None:
    planet, blog = _two_sources(server, store)
    run_pass(store, config, source_ids=[planet.id])  # the planet's copy arrives first
    run_pass(store, config, source_ids=[blog.id])
    river = store.river()
    assert sorted((p.source_title, p.title) for p in river) == [
        ("Blog Example", "Open data"),
        ("Planet Public Sector", "Only on the planet"),
    ]


def test_the_copy_arriving_second_is_hidden_too(
    server: FeedServer, store: Store, config: Config
) -> None:
    planet, blog = _two_sources(server, store)
    run_pass(store, config, source_ids=[blog.id])
    run_pass(store, config, source_ids=[planet.id])
    titles = sorted((p.source_title, p.link) for p in store.river())
    assert titles == [
        ("Blog Example", ORIGINAL),
        ("Planet Public Sector", "https://planet.example/own"),
    ]
    # refetching either changes nothing
    run_pass(store, config, force=True)
    assert store.count_posts() == 2


def test_between_two_blogs_that_are_not_its_home_the_first_copy_stays(
    server: FeedServer, store: Store, config: Config
) -> None:
    shared = [Item("Shared", link="https://third.example/post", guid="x")]
    a = add(store, server.feed("/a", rss(shared, site="https://a.example/")), "A")
    b = add(store, server.feed("/b", rss(shared, site="https://b.example/")), "B")
    run_pass(store, config, source_ids=[a.id])
    run_pass(store, config, source_ids=[b.id])
    assert [(p.source_title, p.title) for p in store.river()] == [("A", "Shared")]


# --- blogs stored together ---------------------------------------------------------------


def test_blogs_stored_together_keep_each_other_when_one_cannot_be_stored(store: Store) -> None:
    """The writer stores the blogs that finish while it is busy in one transaction. A blog
    deleted while it was being fetched cannot be stored; the others in its group are kept."""

    def feed(site: str) -> str:
        return rss(Item(f"Post {i}", link=f"https://{site}.example/{i}") for i in (1, 2))

    kept, gone, also = (add(store, f"https://{n}.example/feed", n) for n in ("a", "b", "c"))
    saves = [fetched_at(store, s.id, feed(s.title), T0) for s in (kept, gone, also)]
    store.remove_source(gone.id)
    done = store.save_fetches(saves, later={})
    assert done[0] == done[2] == SaveCounts(new=2)
    # Its posts point at a blog no longer there: the driver's foreign-key error, and
    # nothing else (a fault of ours, say a TypeError, would be given here too).
    if store.db.dialect == "sqlite":
        expected, says = db_module.sqlite3.IntegrityError, "FOREIGN KEY constraint failed"
    else:
        expected, says = ForeignKeyViolation, 'foreign key constraint "posts_source_id_fkey"'
    assert type(done[1]) is expected and says in str(done[1]), repr(done[1])
    assert store.count_posts() == 4
    assert {p.source_id for p in store.river(limit=10)} == {kept.id, also.id}
    assert store.source(kept.id).last_fetched_at == T0
