"""Search, on real SQLite and real PostgreSQL, with posts that came through the ingest pipeline.

Blogs are served by a real HTTP server on 127.0.0.1 and fetched by the
pipeline; takedowns are the curator's (``hide_post``, ``show_post``).  Each
test runs on SQLite and on PostgreSQL (conftest's ``any_store``).
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import pytest

from conftest import BACKEND, FeedServer
from helpers import Blogs, Entry, entries_rss
from townsquare.config import Config, load
from townsquare.ingest.clean import clean_feed, text_of
from townsquare.ingest.parse import parse_feed
from townsquare.ingest.pipeline import Writer
from townsquare.ingest.schedule import decide
from townsquare.model import FetchOutcome, FetchResult, SaveCounts, Source
from townsquare.search import SearchResults, Sort, search
from townsquare.store import FetchLogEntry, Store, open_store
from townsquare.store import search as store_search
from townsquare.store.search_index import SLOTS
from townsquare.store.search_text import MAX_TEXT


def day(n: int) -> datetime:
    return datetime(2026, 1, n, 9, tzinfo=UTC)


def index_is_whole(store: Store) -> None:
    """On SQLite, the search index is in step with the posts: FTS5 finds it sound and
    as the posts' HTML and search_rows say; each post is in it once, under its search
    key, or waiting for it; and it holds nothing else."""
    if store.db.dialect != "sqlite":
        return
    store.db.execute("INSERT INTO post_search (post_search, rank) VALUES ('integrity-check', 1)")
    out_of_step = store.db.fetchone(
        f"""SELECT count(*) AS n FROM posts p
           WHERE (SELECT count(*) FROM search_rows r
                  WHERE r.post_id = p.id
                    AND -r.search_key / {SLOTS} <= (-p.search_key) >> 32)
                 + (SELECT count(*) FROM search_pending q WHERE q.post_id = p.id) <> 1"""
    )
    counts = store.db.fetchone(
        """SELECT (SELECT count(*) FROM post_search_docsize) AS indexed,
                  (SELECT count(*) FROM search_rows) AS rows,
                  (SELECT count(*) FROM search_rows
                   WHERE post_id NOT IN (SELECT id FROM posts)) AS orphans"""
    )
    assert out_of_step is not None and counts is not None
    assert (out_of_step["n"], counts["orphans"]) == (0, 0)
    assert counts["indexed"] == counts["rows"]


class Site(Blogs):
    """Blogs on a local server, ingested into a store; search as a reader would."""

    def search(self, text: str, **kwargs: object) -> SearchResults:
        return search(self.store, text, **kwargs)  # type: ignore[arg-type]

    def titles(self, text: str, **kwargs: object) -> list[str]:
        return [h.post.title for h in self.search(text, **kwargs).hits]


@pytest.fixture
def site(any_store: Store, server: FeedServer) -> Site:
    """Each backend in turn (conftest's ``any_store``), with blogs on a local server."""
    config = load({"db": any_store.db.url}, environ={"TOWNSQUARE_ALLOW_NETWORKS": "127.0.0.1/32"})
    return Site(server, any_store, config)


def test_text_past_ascii_is_stored_as_text_and_found(site: Site) -> None:
    # Posts go from the parsing processes to the store in UTF-8 and are written as they
    # are: what comes back, and what search finds and marks, must be the same text.
    html = "<p>Café ‘résumés’ – 🌱 seedlings, жизнь.</p>"
    site.blog("Little Shapton", [Entry("1", "Café notes", html, day(1))])
    site.fetch()
    (post,) = site.store.river(limit=10)
    assert post.content_html == html
    if site.store.db.dialect == "sqlite":
        row = site.store.db.fetchone("SELECT typeof(content_html) AS t FROM posts")
        assert row == {"t": "text"}
    found = site.search("résumé")
    assert [h.post.title for h in found.hits] == ["Café notes"]
    assert "‘<mark>résumés</mark>’" in found.hits[0].snippet_html
    assert site.titles("жизнь") == ["Café notes"]
    index_is_whole(site.store)


def test_only_the_start_of_a_very_long_post_is_searchable(site: Site) -> None:
    # A pass hands the index the post's text in UTF-8, cut where search_text cuts it,
    # which FTS5 reads again to take the post out: the two must agree to the character.
    words = "caf\u00e9 " * 60_000  # 300,000 characters, 360,000 bytes
    body = f"<p>{words}allotments {words}greenhouses</p>"
    site.blog("Little Shapton", [Entry("1", "Long read", body, day(1))])
    site.fetch()
    assert len(text_of(body)) > MAX_TEXT
    assert site.titles("allotments") == ["Long read"]
    assert site.titles("greenhouses") == []  # past the first MAX_TEXT characters
    index_is_whole(site.store)
    (post,) = site.store.river(limit=10)
    site.store.remove_source(post.source_id)  # out of the index, by reading it again
    assert site.titles("allotments") == []
    index_is_whole(site.store)


# --- the query language ---------------------------------------------------------------


def test_words_match_in_any_form_titles_rank_first(site: Site) -> None:
    site.blog(
        "Northshire digital",
        [
            Entry(
                "1", "Weeknotes 12", "<p>We talked about <em>identity</em> a little.</p>", day(5)
            ),
            Entry("2", "Digital identity for residents", "<p>Our plans.</p>", day(2)),
            Entry("3", "Weeknotes 13", "<p>Two identities, one login.</p>", day(6)),
            Entry("4", "Bins", "<p>Nothing to see here.</p>", day(7)),
        ],
    )
    site.fetch()
    found = site.search("identity")
    assert found.total == 3 and found.total_is_exact
    assert [h.post.title for h in found.hits] == [
        "Digital identity for residents",  # a title match beats newer text matches
        "Weeknotes 13",
        "Weeknotes 12",
    ]
    assert found.hits[0].title_html == "Digital <mark>identity</mark> for residents"
    assert "<mark>identities</mark>" in found.hits[1].snippet_html


def test_every_word_must_match_phrases_are_exact_exclusions_leave_out(site: Site) -> None:
    site.blog(
        "Kelbrook data",
        [
            Entry("1", "Open data", "<p>Digital identity, at last.</p>", day(1)),
            Entry("2", "Roadmap", "<p>Identity first, then digital services.</p>", day(2)),
            Entry("3", "Parking", "<p>Council parking permits go digital.</p>", day(3)),
            Entry("4", "Housing", "<p>The council repairs homes.</p>", day(4)),
        ],
    )
    site.fetch()
    assert sorted(site.titles("digital identity")) == ["Open data", "Roadmap"]
    assert site.titles('"digital identity"') == ["Open data"]
    assert site.titles("council -parking") == ["Housing"]
    assert site.titles('digital -"identity first"', sort=Sort.DATE) == ["Parking", "Open data"]
    assert site.titles("-council -identity") == []
    assert site.titles("-council", sort=Sort.DATE) == ["Roadmap", "Open data"]


def test_blog_name_and_author_are_searched_and_filter(site: Site) -> None:
    site.blog(
        "Harrowmere fire",
        [
            Entry("1", "Safety week", "<p>Smoke alarms.</p>", day(1), author="Kwame Mensah"),
            Entry("2", "Recruitment", "<p>Join us.</p>", day(2), author="Priya Shah"),
        ],
        categories=("Emergency services",),
    )
    site.blog(
        "Ashvale libraries",
        [Entry("1", "Safety in libraries", "<p>Smoke alarms tested.</p>", day(3))],
        categories=("Libraries", "Local government"),
    )
    site.fetch()
    assert sorted(site.titles("harrowmere")) == ["Recruitment", "Safety week"]
    assert site.titles("smoke blog:harrowmere-fire") == ["Safety week"]
    assert site.titles('smoke blog:"Harrowmere fire"') == ["Safety week"]
    assert site.titles("smoke blog:harrow") == ["Safety week"]  # part of the name
    assert site.titles("smoke blog:ashvale blog:harrowmere", sort=Sort.DATE) == [
        "Safety in libraries",
        "Safety week",
    ]
    assert site.titles("smoke blog:nowhere") == []
    assert site.titles("category:libraries") == ["Safety in libraries"]
    assert site.titles('category:"emergency services" smoke') == ["Safety week"]
    assert site.titles("category:nowhere") == []
    assert site.titles('author:"Priya Shah"') == ["Recruitment"]
    assert site.titles("author:kwame smoke") == ["Safety week"]
    assert site.titles("author:kwame category:libraries") == []


def test_dates_and_order(site: Site) -> None:
    site.blog(
        "Wexmoor NHS digital",
        [
            Entry("1", "Nurses one", "<p>Nurses and rotas.</p>", day(3)),
            Entry("2", "Nurses two", "<p>Nurses and rotas.</p>", day(20)),
            Entry("3", "Nurses six", "<p>Nurses and rotas.</p>", day(11)),
        ],
    )
    site.fetch()
    # equally relevant (the same words, the same length): newer first
    assert site.titles("rotas") == ["Nurses two", "Nurses six", "Nurses one"]
    assert site.titles("nurses after:2026-01-10") == ["Nurses two", "Nurses six"]
    assert site.titles("nurses before:2026-01-11") == ["Nurses six", "Nurses one"]
    assert site.titles("from:2026-01-11 to:2026-01-11") == ["Nurses six"]
    assert site.titles("after:2026-02") == []
    assert site.titles("nurses sort:date") == site.titles("nurses", sort=Sort.DATE)


def test_posts_of_one_minute_are_all_found_in_order(site: Site) -> None:
    # A blog whose feed has no times gives all its posts the same one; more of them
    # than a minute has search keys (64, on SQLite) borrow the minutes before.
    at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    crowd = [Entry(str(i), f"Allotments {i}", "<p>Allotments.</p>", at) for i in range(150)]
    site.blog("Little Shapton", crowd)
    site.fetch()
    site.blog(
        "Wexmoor gardens",
        [
            Entry("a", "Allotments later", "<p>Allotments.</p>", at + timedelta(minutes=1)),
            Entry("b", "Allotments earlier", "<p>Allotments.</p>", at - timedelta(days=1)),
        ],
    )
    site.fetch()
    found = site.search("allotments", sort=Sort.DATE, per_page=100)
    titles = [h.post.title for h in found.hits]
    titles += site.titles("allotments", sort=Sort.DATE, per_page=100, page=2)
    assert found.total == 152 and len(titles) == 152
    assert titles[0] == "Allotments later" and titles[-1] == "Allotments earlier"
    assert set(titles[1:-1]) == {e.title for e in crowd}
    assert site.search("allotments from:2026-01-05 to:2026-01-05").total == 151
    assert site.titles("allotments before:2026-01-04") == ["Allotments earlier"]
    index_is_whole(site.store)


def test_snippets_are_safe_html(site: Site) -> None:
    site.blog(
        "Fieldmouse",
        [
            Entry(
                "1",
                'Misinformation & "quotes" <3',
                "<p>Writing if x &lt; 3 about misinformation "
                "is <strong>fine</strong> &amp; safe.</p>",
                day(1),
            )
        ],
    )
    site.fetch()
    hit = site.search("misinformation").hits[0]
    assert hit.title_html == '<mark>Misinformation</mark> &amp; "quotes" &lt;3'
    assert "if x &lt; 3 about" in hit.snippet_html
    assert "<mark>misinformation</mark>" in hit.snippet_html
    assert "<strong>" not in hit.snippet_html
    assert "misinformation is fine & safe" in hit.snippet_text


def test_pages(site: Site) -> None:
    site.blog(
        "Greenacre homes",
        [Entry(str(n), f"Repairs update {n}", "<p>Repairs.</p>", day(n)) for n in range(1, 6)],
    )
    site.fetch()
    first = site.search("repairs", per_page=2)
    assert (first.total, first.pages, first.has_next, first.has_previous) == (5, 3, True, False)
    last = site.search("repairs", per_page=2, page=3)
    assert [h.post.title for h in last.hits] == ["Repairs update 1"]
    assert not last.has_next and last.has_previous
    assert site.search("repairs", per_page=2, page=9).hits == ()


def test_very_common_words_count_up_to_the_window(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    site.blog(
        "Carers link",
        [Entry(str(n), f"Carers {n}", "<p>Carers.</p>", day(n)) for n in range(1, 6)],
    )
    site.fetch()
    monkeypatch.setattr(store_search, "RANK_WINDOW", 3)
    found = site.search("carers")
    assert (found.total, found.total_is_exact) == (3, False)
    assert [h.post.title for h in found.hits][:3] == ["Carers 5", "Carers 4", "Carers 3"]
    assert site.search("carers", sort=Sort.DATE).hits[0].post.title == "Carers 5"


def test_ranking_of_common_words(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    site.blog(
        "Little Shapton",
        [
            Entry("1", "Allotments", "<p>Allotments.</p>", day(1)),
            Entry("2", "News one", "<p>Allotments, allotments, allotments.</p>", day(2)),
            Entry("3", "News two", "<p>Allotments and more besides.</p>", day(3)),
        ],
    )
    site.fetch()
    # the title first, then how often and how densely the word is used
    assert site.titles("allotments") == ["Allotments", "News one", "News two"]
    monkeypatch.setattr(store_search, "COMMON", 1)
    if site.store.db.dialect == "sqlite":  # a common word: the title first, then the newest
        assert site.titles("allotments") == ["Allotments", "News two", "News one"]
        assert site.titles("allotments -besides") == ["Allotments", "News one"]
        pages = [site.titles("allotments", per_page=1, page=n) for n in (1, 2, 3, 4)]
        assert pages == [["Allotments"], ["News two"], ["News one"], []]


def test_title_matches_first_among_the_newest_when_words_are_common(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite the title pass ends at the first match past the window through that post's
    blog: the blog's other posts in the window are in the right place, not doubled or lost."""
    site.blog(
        "Harrowmere council",
        [
            Entry("10", "Parking news", "<p>Permits.</p>", day(10)),
            Entry("7", "Weeknotes A7", "<p>Parking permits.</p>", day(7)),
            Entry("6", "Parking again", "<p>Permits.</p>", day(6)),
            Entry("3", "Parking old", "<p>Permits.</p>", day(3)),
        ],
    )
    site.blog(
        "Kelbrook data",
        [
            Entry("9", "Weeknotes B9", "<p>Parking data.</p>", day(9)),
            Entry("8", "Parking plans", "<p>Data.</p>", day(8)),
            Entry("5", "Weeknotes B5", "<p>Parking data.</p>", day(5)),
            Entry("4", "Weeknotes B4", "<p>Parking data.</p>", day(4)),  # the 7th match
            Entry("2", "Parking older", "<p>Data.</p>", day(2)),
        ],
    )
    site.fetch()
    monkeypatch.setattr(store_search, "COMMON", 1)
    monkeypatch.setattr(store_search, "RANK_WINDOW", 6)
    found = site.search("parking", per_page=2)
    assert (found.total, found.total_is_exact) == (6, False)
    pages = [site.titles("parking", per_page=2, page=n) for n in (1, 2, 3, 4)]
    if site.store.db.dialect == "sqlite":  # title first, newest first, among the newest six
        assert pages == [
            ["Parking news", "Parking plans"],
            ["Parking again", "Weeknotes B9"],
            ["Weeknotes A7", "Weeknotes B5"],
            [],
        ]
        # the window now ends at "Parking old", of the other blog
        assert site.titles("parking -plans") == [
            "Parking news", "Parking again", "Weeknotes B9", "Weeknotes A7", "Weeknotes B5",
            "Weeknotes B4",
        ]  # fmt: skip
        assert site.titles("parking blog:kelbrook-data") == [
            "Parking plans", "Parking older", "Weeknotes B9", "Weeknotes B5", "Weeknotes B4"
        ]  # fmt: skip
    else:
        assert sorted(t for page in pages for t in page) == sorted(
            ["Parking news", "Weeknotes B9", "Parking plans", "Weeknotes A7", "Parking again",
             "Weeknotes B5"]
        )  # fmt: skip


def test_a_phrase_of_common_words_is_looked_for_in_the_newest_posts(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite a phrase whose words are all common is looked for among the newest posts
    with its rarest word (``PHRASE_POSTS``), and says since when; a date range reaches
    further back.  PostgreSQL looks everywhere."""
    site.blog(
        "Northshire data",
        [
            Entry("10", "Weeknotes 10", "<p>Open data again.</p>", day(10)),
            Entry("9", "Open data plans", "<p>Data, open.</p>", day(9)),
            Entry("8", "Weeknotes 8", "<p>The data is open.</p>", day(8)),
            Entry("7", "Weeknotes 7", "<p>Open data.</p>", day(7)),
            Entry("6", "Weeknotes 6", "<p>Data? Open.</p>", day(6)),
            Entry("5", "Open data old", "<p>Data.</p>", day(5)),
            Entry("4", "Weeknotes 4", "<p>Open data.</p>", day(4)),
        ],
    )
    site.blog("Kelbrook", [Entry("11", "Open data at Kelbrook", "<p>Data.</p>", day(11))])
    site.fetch()
    monkeypatch.setattr(store_search, "COMMON", 1)
    monkeypatch.setattr(store_search, "PHRASE_POSTS", 4)
    found = site.search('"open data"')
    relevance = site.titles('"open data"')
    by_date = site.titles('"open data"', sort=Sort.DATE)
    older = site.titles('"open data" before:2026-01-06')
    if site.store.db.dialect == "sqlite":  # the newest four posts with "open": 11 to 8
        assert (found.total, found.total_is_exact) == (3, True)
        assert found.searched_since == day(7)  # the fifth, where it stopped
        assert found.count_text == "3 results in posts since 7 January 2026"
        assert relevance == ["Open data at Kelbrook", "Open data plans", "Weeknotes 10"]
        assert by_date == ["Open data at Kelbrook", "Weeknotes 10", "Open data plans"]
        assert site.titles('"open data"', per_page=2, page=2) == ["Weeknotes 10"]
        assert site.titles('"open data" blog:northshire-data') == [
            "Open data plans", "Weeknotes 10", "Weeknotes 7"
        ]  # fmt: skip
    else:
        assert (found.total, found.total_is_exact, found.searched_since) == (6, True, None)
        assert by_date == ["Open data at Kelbrook", "Weeknotes 10", "Open data plans",
                           "Weeknotes 7", "Open data old", "Weeknotes 4"]  # fmt: skip
    assert sorted(older) == ["Open data old", "Weeknotes 4"]


# --- the index keeps in step --------------------------------------------------------


def test_edits_renames_and_recategorising_update_the_index(site: Site) -> None:
    source = site.blog(
        "Dis identity",
        [Entry("1", "Alpha", "<p>Discovery findings.</p>", day(1))],
        categories=("Digital",),
    )
    site.fetch()
    assert site.titles("discovery") == ["Alpha"]
    index_is_whole(site.store)
    site.edit("Dis identity", [Entry("1", "Beta", "<p>Prototype findings.</p>", day(2))])
    site.fetch()
    index_is_whole(site.store)
    assert site.titles("discovery") == []
    assert site.titles("prototype") == ["Beta"]
    assert site.titles("alpha") == []
    assert site.titles("prototype before:2026-01-01") == []
    assert site.titles("prototype after:2026-01-02 before:2026-01-02") == ["Beta"]

    site.store.update_source(source.id, title="Identity assurance team")
    index_is_whole(site.store)
    assert site.titles("assurance") == ["Beta"]
    assert site.titles("dis") == []
    site.store.set_source_categories(source.id, ["Security"])
    index_is_whole(site.store)
    assert site.titles("category:security") == ["Beta"]
    assert site.titles("category:digital") == []
    site.store.set_source_categories(source.id, ["Security", "Digital", "Identity"])
    index_is_whole(site.store)
    assert site.titles("category:digital") == site.titles("category:identity") == ["Beta"]
    site.store.set_source_categories(source.id, [])
    index_is_whole(site.store)
    assert site.titles("category:security") == []
    assert site.titles("prototype") == ["Beta"]


def test_hidden_and_duplicate_posts_never_appear(site: Site) -> None:
    original = site.blog(
        "Northshire comms",
        [
            Entry(
                "1",
                "Misinformation playbook",
                "<p>How we respond.</p>",
                day(1),
                link="https://comms.example/playbook",
            ),
            Entry("2", "Misinformation drill", "<p>Practice.</p>", day(2)),
        ],
    )
    site.fetch()
    site.blog(  # republishes the playbook: a duplicate of the original post
        "Govplatforms",
        [
            Entry(
                "9",
                "Misinformation playbook",
                "<p>How we respond.</p>",
                day(3),
                link="https://comms.example/playbook",
            )
        ],
    )
    site.fetch()
    found = site.search("misinformation", sort=Sort.DATE)
    assert [(h.post.title, h.post.source_title) for h in found.hits] == [
        ("Misinformation drill", "Northshire comms"),
        ("Misinformation playbook", "Northshire comms"),
    ]
    assert found.total == 2

    index_is_whole(site.store)
    drill = found.hits[0].post.id
    site.store.hide_post(drill, "Taken down at the author's request", datetime.now(UTC))
    index_is_whole(site.store)
    assert site.titles("misinformation") == ["Misinformation playbook"]
    assert site.titles("drill") == []
    assert site.titles("-nothing") == ["Misinformation playbook"]
    assert site.search("misinformation").total == 1

    site.store.show_post(drill)
    index_is_whole(site.store)
    assert sorted(site.titles("misinformation")) == [
        "Misinformation drill",
        "Misinformation playbook",
    ]

    site.store.remove_source(original.id)  # the copy is all that is left: it shows
    index_is_whole(site.store)
    found = site.search("misinformation")
    assert [(h.post.title, h.post.source_title) for h in found.hits] == [
        ("Misinformation playbook", "Govplatforms")
    ]


@pytest.mark.parametrize(
    "text",
    [
        '"digital identity',
        "digital identity)",
        "NEAR(digital identity)",
        "digital* identity^",
        "digital AND identity OR",
        "{digital}: identity",
        "identity: digital",
        "digital -",
        "- digital identity",
        "blog: digital identity",
        "'digital' 'identity'",
        "digital\x00identity\x02",
    ],
)
def test_malformed_queries_fall_back_to_plain_words(site: Site, text: str) -> None:
    site.blog(
        "Govplatforms",
        [
            Entry("1", "Digital identity and blogs", "<p>Or and near.</p>", day(1)),
            Entry("2", "Other things", "<p>Nothing at all.</p>", day(2)),
        ],
    )
    site.fetch()
    assert site.titles(text) == ["Digital identity and blogs"]


def test_queries_of_nothing_find_nothing(site: Site) -> None:
    site.blog("Govplatforms", [Entry("1", "Digital", "<p>Text.</p>", day(1))])
    site.fetch()
    for text in ["", "   ", "***", '""', "- ( ) ^"]:
        found = site.search(text)
        assert (found.total, found.hits) == (0, ()), text


# --- SQLite only: an index for posts stored before search existed ---------------------


@pytest.mark.skipif(BACKEND != "sqlite", reason="FTS5 is SQLite's; PostgreSQL uses a trigger")
def test_open_store_builds_a_missing_index(server: FeedServer, config: Config) -> None:
    with open_store(config.db) as store:
        site = Site(server, store, config)
        site.blog("Little Shapton", [Entry("1", "Allotments", "<p>Waiting list.</p>", day(1))])
        site.fetch()
        merging = store.db.fetchone("SELECT v FROM post_search_config WHERE k = 'automerge'")
        store.db.execute("INSERT INTO post_search (post_search) VALUES ('delete-all')")
        store.db.execute("DELETE FROM search_rows")
        assert store.search_index_missing()
    with open_store(config.db) as store:
        assert [h.post.title for h in search(store, "allotments").hits] == ["Allotments"]
        # Rebuilding merges once at the end, then leaves the index merging as before.
        after = store.db.fetchone("SELECT v FROM post_search_config WHERE k = 'automerge'")
        assert merging is not None and after is not None and after["v"] == merging["v"] == 8
        index_is_whole(store)


def _database_before(config: Config, migration: str) -> sqlite3.Connection:
    """A database as a version before ``migration`` left it, with one blog (id 1): a
    connection to it, to use in a ``with`` block, which commits."""
    from yoyo import get_backend, read_migrations

    from townsquare.store.db import _migrations_dir

    backend = get_backend(f"sqlite:///{config.db}")
    older = read_migrations(str(_migrations_dir("sqlite"))).filter(lambda m: m.id < migration)
    with backend.lock():
        backend.apply_migrations(backend.to_apply(older))
    backend.connection.close()
    conn = sqlite3.connect(config.db)
    with conn:
        conn.execute(
            "INSERT INTO sources (id, url, title, slug, created_at)"
            " VALUES (1, 'https://shapton.example/feed', 'Little Shapton', 'little-shapton',"
            " '2026-01-01 00:00:00')"
        )
    return conn


@pytest.mark.skipif(BACKEND != "sqlite", reason="FTS5 is SQLite's; PostgreSQL uses a trigger")
def test_a_database_whose_index_kept_its_own_text_is_indexed_again(
    config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    """Upgrading from the index of migration 0008, which kept a copy of each text."""
    with _database_before(config, "0013") as conn:
        conn.execute(
            """INSERT INTO posts (id, source_id, guid, title, published, first_seen,
                   last_changed, content_html, summary_html, content_hash)
               VALUES (1, 1, 'a', 'Allotments', '2026-01-02 00:00:00', '2026-01-02 00:00:00',
                   '2026-01-02 00:00:00', '<p>The waiting list is long.</p>', '', 'h')"""
        )
        conn.execute(
            """INSERT INTO post_search (rowid, title, body, blog, author, tags)
               SELECT search_key, title, 'The waiting list is long.', 'Little Shapton', '',
                      'all s1' FROM posts"""
        )
    conn.close()
    with open_store(config.db) as store:
        assert "Indexing every post for search, once after an upgrade" in capsys.readouterr().err
        (hit,) = search(store, "waiting").hits
        assert hit.post.title == "Allotments"
        assert hit.snippet_html == "The <mark>waiting</mark> list is long."
        index_is_whole(store)


@pytest.mark.skipif(BACKEND != "sqlite", reason="FTS5 is SQLite's; PostgreSQL uses a trigger")
def test_a_database_with_the_old_search_keys_is_indexed_again(
    config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    """Upgrading from the keys of migration 0008 (the minute, then the post's id)."""
    with _database_before(config, "0016") as conn:
        for n, day_ in ((1, 2), (2, 9)):
            conn.execute(
                """INSERT INTO posts (id, source_id, guid, title, published, first_seen,
                       last_changed, content_html, summary_html, content_hash)
                   VALUES (?, 1, ?, ?, ?, ?, ?, '<p>The waiting list is long.</p>', '', 'h')""",
                (n, str(n), f"Allotments {n}", *[f"2026-01-0{day_} 09:00:00"] * 3),
            )
        conn.execute(
            """INSERT INTO search_rows (search_key, post_id, title, blog, author, tags)
               SELECT search_key, id, title, 'Little Shapton', '', 'all s1' FROM posts"""
        )
        conn.execute(
            """INSERT INTO post_search (rowid, title, body, blog, author, tags)
               SELECT search_key, title, 'The waiting list is long.', 'Little Shapton', '',
                      'all s1' FROM posts"""
        )
    conn.close()
    with open_store(config.db) as store:
        assert "Indexing every post for search, once after an upgrade" in capsys.readouterr().err
        found = search(store, "waiting", sort=Sort.DATE)
        assert [h.post.title for h in found.hits] == ["Allotments 2", "Allotments 1"]
        assert found.hits[0].snippet_html == "The <mark>waiting</mark> list is long."
        assert [h.post.title for h in search(store, "waiting after:2026-01-05").hits] == [
            "Allotments 2"
        ]
        index_is_whole(store)


@pytest.mark.skipif(BACKEND != "sqlite", reason="FTS5 is SQLite's; PostgreSQL uses a trigger")
def test_a_crowd_of_posts_in_one_minute_fills_the_minutes_before_it_in_turn(
    config: Config,
) -> None:
    # 20,000 undated posts first seen in the same minute (a hostile feed's worth, twice):
    # a minute has 64 search keys, so they fill that minute and the 312 before it, with
    # no minute skipped: the first 64 stored take that minute, the next 64 the minute
    # before, and so on; within a minute, the last stored comes first.
    with open_store(config.db) as store:
        store.db.execute(
            "INSERT INTO sources (id, url, title, slug, created_at)"
            " VALUES (1, 'https://shapton.example/feed', 'Little Shapton', 'little-shapton',"
            " '2026-01-01 00:00:00')"
        )
        at = "2026-01-05 09:00:30"
        with store.db.transaction():
            store.db.executemany(
                """INSERT INTO posts (source_id, guid, title, published, first_seen,
                       last_changed, content_html, summary_html, content_hash)
                   VALUES (1, ?, ?, ?, ?, ?, '<p>Allotments.</p>', '', 'h')""",
                [(str(n), f"Post {n}", at, at, at) for n in range(20_000)],
            )
        assert store.rebuild_search_index() == 20_000
        row = store.db.fetchone(
            """SELECT count(DISTINCT -search_key / 64) AS minutes,
                      max(-search_key / 64) AS newest, min(-search_key / 64) AS oldest
               FROM search_rows"""
        )
        published = int(datetime(2026, 1, 5, 9, tzinfo=UTC).timestamp()) // 60
        assert row == {"minutes": 313, "newest": published, "oldest": published - 312}
        newest_first = store.db.fetchall("SELECT post_id FROM search_rows ORDER BY search_key")
        assert [r["post_id"] for r in newest_first] == [
            n for block in range(313) for n in range(min(block * 64 + 64, 20_000), block * 64, -1)
        ]
        assert search(store, "allotments from:2026-01-05 to:2026-01-05").total == 5_000
        assert search(store, "allotments").total_is_exact is False
        index_is_whole(store)


# --- SQLite only: posts waiting for the index -----------------------------------------


def _waiting(
    site: Site, name: str, entries: list[Entry], source: Source | None = None
) -> dict[int, tuple[str, bytes]]:
    """A blog's posts stored as a pass stores them: waiting for the index.  (Without
    ``source``, a new blog; with it, a later fetch of that one.)"""
    source = source or site.blog(name, entries)
    feed = entries_rss(name, entries).encode()
    fetched = FetchResult(source.url, source.url, FetchOutcome.OK, 200, feed)
    now = datetime.now(UTC)
    posts = clean_feed(parse_feed(feed, source.url), now)
    state = decide(source, fetched, now=now, interval=timedelta(hours=1), rng=random.Random(1))
    later: dict[int, tuple[str, bytes]] = {}
    (counts,) = site.store.save_fetches(
        [(source, state, posts, FetchLogEntry(now, "ok", 200, None, 0))], later=later
    )
    assert counts.new + counts.updated == len(entries)
    return later


def test_a_post_in_the_index_that_waits_for_it_again_is_indexed_once(site: Site) -> None:
    if site.store.db.dialect != "sqlite":
        pytest.skip("FTS5 is SQLite's; PostgreSQL uses a trigger")
    site.blog("Little Shapton", [Entry("1", "Allotments", "<p>Waiting list.</p>", day(1))])
    site.fetch()
    (post,) = site.store.river(limit=10)
    site.store.db.execute("INSERT INTO search_pending (post_id) VALUES (?)", (post.id,))
    index_is_whole(site.store)
    assert site.store.index_pending() == 1
    index_is_whole(site.store)
    found = site.search("allotments")
    assert (found.total, [h.post.title for h in found.hits]) == (1, ["Allotments"])


@pytest.mark.skipif(BACKEND != "sqlite", reason="FTS5 is SQLite's; PostgreSQL uses a trigger")
def test_posts_left_waiting_for_the_index_are_indexed_when_the_store_opens(
    server: FeedServer, config: Config
) -> None:
    with open_store(config.db) as store:
        site = Site(server, store, config)
        site.blog("Little Shapton", [Entry("1", "Allotments", "<p>Waiting list.</p>", day(1))])
        site.fetch()
        _waiting(site, "Great Shapton", [Entry("2", "Allotment rents", "<p>Up.</p>", day(2))])
        # A pass that stopped here (killed, say) left the second blog's post unindexed.
        assert site.titles("allotments") == ["Allotments"]
        assert store.search_pending()
    with open_store(config.db) as store:
        assert not store.search_pending()
        assert Site(server, store, config).titles("allotments", sort=Sort.DATE) == [
            "Allotment rents",
            "Allotments",
        ]


def test_posts_hidden_or_deleted_while_waiting_for_the_index(site: Site) -> None:
    later = _waiting(
        site,
        "Little Shapton",
        [
            Entry("1", "Allotments", "<p>Waiting list.</p>", day(1)),
            Entry("2", "Bins", "<p>Allotment bins collected.</p>", day(2)),
        ],
    )
    later |= _waiting(site, "Great Shapton", [Entry("3", "Compost", "<p>Allotments.</p>", day(3))])
    bins = next(p for p in site.store.river(limit=10) if p.title == "Bins")
    site.store.hide_post(bins.id, "Asked to take it down", datetime.now(UTC))
    great = next(s for s in site.store.sources() if s.title == "Great Shapton")
    site.store.remove_source(great.id)
    # On PostgreSQL nothing waits: the database indexes each post as it is written.
    assert site.store.index_pending(later) == (2 if site.store.db.dialect == "sqlite" else 0)
    assert site.titles("allotments") == ["Allotments"]
    assert site.titles("compost") == []
    assert site.store.index_pending(later) == 0
    index_is_whole(site.store)


@pytest.mark.skipif(BACKEND != "sqlite", reason="FTS5 is SQLite's; PostgreSQL uses a trigger")
def test_a_post_edited_by_another_writer_while_waiting_is_indexed_as_it_is_now(
    server: FeedServer, config: Config
) -> None:
    with open_store(config.db) as store:
        site = Site(server, store, config)
        first = _waiting(site, "Little Shapton", [Entry("1", "Allotments", "<p>Old.</p>", day(1))])
        source = next(s for s in store.sources() if s.title == "Little Shapton")
        # Another process fetches the blog again before the first has indexed its batch.
        edited = [Entry("1", "Allotments", "<p>Greenhouses.</p>", day(1))]
        _waiting(site, "Little Shapton", edited, source)
        assert store.index_pending(first) == 1  # the first writer's text is out of date
        assert site.titles("greenhouses") == ["Allotments"]
        assert site.titles("old") == []
        index_is_whole(store)


def test_the_writer_indexes_what_it_stored_once_nothing_more_comes(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Writer, "INDEX_AFTER", 0.2)
    source = site.blog("Little Shapton", [Entry("1", "Allotments", "<p>Waiting.</p>", day(1))])
    writer = Writer(site.store)
    try:
        body = entries_rss("Little Shapton", [Entry("1", "Allotments", "<p>Waiting.</p>", day(1))])
        fetched = FetchResult(source.url, source.url, FetchOutcome.OK, 200, body.encode())
        now = datetime.now(UTC)
        posts = clean_feed(parse_feed(fetched.body, source.url), now)
        state = decide(source, fetched, now=now, interval=timedelta(hours=1), rng=random.Random(1))
        save = (source, state, posts, FetchLogEntry(now, "ok", 200, None, 0))
        assert writer.save(save).result(timeout=10) == SaveCounts(new=1)
        deadline = time.monotonic() + 10
        while not site.titles("allotments") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert site.titles("allotments") == ["Allotments"]  # indexed with the writer still open
    finally:
        writer.close()


# --- the command line ---------------------------------------------------------------


def test_search_command(server: FeedServer, config: Config, run) -> None:
    with open_store(config.db) as store:
        site = Site(server, store, config)
        site.blog(
            "Hana Okafor weeknotes",
            [Entry("1", "FOI week", "<p>Three FOI requests &amp; a retro.</p>", day(4))],
        )
        site.fetch()
    out = run("search", "foi")
    assert out.code == 0, out.err
    assert out.out.splitlines()[0] == "1 result for 'foi' (best match first), page 1 of 1"
    assert "FOI week\nHana Okafor weeknotes · 4 January 2026 · Ann Lee\n" in out.out
    assert "  Three FOI requests & a retro" in out.out  # PostgreSQL's snippet drops the "."
    assert "Original source – Hana Okafor weeknotes: https://" in out.out

    data = json.loads(run("search", "--json", "--limit", "5", "foi", "sort:date").out)
    assert data["query"] == "foi sort:date" and data["sort"] == "date"
    assert data["total"] == 1 and data["per_page"] == 5
    assert data["results"][0]["title_html"] == "<mark>FOI</mark> week"
    assert "<mark>FOI</mark>" in data["results"][0]["snippet_html"]

    assert run("search", "bins").out == "No posts match 'bins'.\n"
    assert run("search", "--", '"').out.startswith("Type some words to search for")
    bad = run("search", "foi", "--limit", "0")
    assert bad.code == 1 and "--limit must be 1 or more" in bad.err
