"""OPML export: valid OPML 2.0 that Townsquare and reader import back."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
import reader
import reader.opml
from lxml import etree

from conftest import FeedServer, Result
from publish_site import ATOM_TITLE, JSON_TITLE, RSS_TITLE, make_site
from townsquare import cli
from townsquare.config import Config
from townsquare.opml import OpmlFeed, read_opml
from townsquare.store import Store, open_store

Run = Callable[..., Result]


def blogs_and_categories(store: Store) -> set[tuple[object, ...]]:
    return {(s.url, s.title, s.site_url, frozenset(s.categories)) for s in store.sources()}


def import_into_fresh(db: str, opml: Path, capsys: pytest.CaptureFixture[str]) -> Store:
    assert cli.main(["--db", db, "import-opml", str(opml)]) == 0
    capsys.readouterr()
    return open_store(db)


def test_our_export_imports_into_a_fresh_townsquare(
    server: FeedServer,
    store: Store,
    config: Config,
    run: Run,
    tmp_path: Path,
    new_db: Callable[[], str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    make_site(server, store, config)
    out = tmp_path / "blogs.opml"
    result = run("export-opml", "-o", str(out))
    assert result.code == 0, result.err
    assert result.out == f"Exported the blogs to '{out}'\n"
    with import_into_fresh(new_db(), out, capsys) as fresh:
        assert blogs_and_categories(fresh) == blogs_and_categories(store)
        assert [c.name for c in fresh.categories()] == [c.name for c in store.categories()]


def test_the_export_is_opml_2_with_a_folder_per_category(
    server: FeedServer, store: Store, config: Config, run: Run
) -> None:
    site = make_site(server, store, config)
    result = run("export-opml")
    assert result.code == 0, result.err
    root = etree.fromstring(result.out.encode())
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title") == "Blogs on Townsquare"
    body = root.find("body")
    for outline in body.iter("outline"):
        assert outline.get("text"), "OPML 2.0: every outline has text"
    folders = {
        f.get("text"): [o.get("title") for o in f.findall("outline")]
        for f in body.findall("outline")
        if f.get("xmlUrl") is None
    }
    assert folders == {
        "Local government": [RSS_TITLE],
        "Health & care": [RSS_TITLE],
        "Digital": [ATOM_TITLE],
    }
    [loose] = body.findall("outline[@xmlUrl]")
    assert loose.attrib == {
        "type": "rss",
        "text": JSON_TITLE,
        "title": JSON_TITLE,
        "xmlUrl": site.json.url,
        "htmlUrl": "https://hana.example/",
    }


def test_a_category_export_imports_as_that_category(
    server: FeedServer,
    store: Store,
    config: Config,
    run: Run,
    tmp_path: Path,
    new_db: Callable[[], str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    site = make_site(server, store, config)
    out = tmp_path / "health.opml"
    assert run("export-opml", "--category", "health-care", "-o", str(out)).code == 0
    with import_into_fresh(new_db(), out, capsys) as fresh:
        assert blogs_and_categories(fresh) == {
            (site.rss.url, RSS_TITLE, "https://fish.example/", frozenset({"Health & care"}))
        }


def test_reader_imports_our_export(
    server: FeedServer, store: Store, config: Config, run: Run
) -> None:
    make_site(server, store, config)
    data = run("export-opml").out.encode()
    # reader's own OPML parser keeps each blog's feed, name and site...
    parsed = reader.opml.parse(io.BytesIO(data))
    assert {(f.url, f.title, f.link) for f in parsed} == {
        (s.url, s.title, s.site_url) for s in store.sources()
    }
    # ...and importing subscribes to every feed once (reader keeps no categories or names).
    with reader.make_reader(":memory:") as other:
        other.import_feeds(io.BytesIO(data))
        assert sorted(f.url for f in other.get_feeds()) == sorted(s.url for s in store.sources())


def test_an_unknown_category_is_an_error(run: Run) -> None:
    result = run("export-opml", "--category", "nope")
    assert result.code == 1
    assert result.err == "townsquare: error: no such category: 'nope'\n"


def test_a_file_that_cannot_be_written_is_an_error(run: Run, tmp_path: Path) -> None:
    result = run("export-opml", "-o", str(tmp_path / "missing" / "blogs.opml"))
    assert result.code == 1
    assert result.err.startswith("townsquare: error: cannot write '")
    assert result.err.endswith("blogs.opml': No such file or directory\n")


def test_a_feed_in_several_folders_is_one_blog_with_several_categories() -> None:
    data = b"""<opml version="2.0"><body>
      <outline text="Health"><outline type="rss" text="A" xmlUrl="https://a.example/feed"/>
        <outline type="rss" text="B" xmlUrl="https://b.example/feed"/></outline>
      <outline text="Digital"><outline type="rss" text="A again" xmlUrl="https://a.example/feed"
        category="/Data"/></outline>
    </body></opml>"""
    assert read_opml(data) == [
        OpmlFeed("https://a.example/feed", "A", None, ("Health", "Digital", "Data")),
        OpmlFeed("https://b.example/feed", "B", None, ("Health",)),
    ]
