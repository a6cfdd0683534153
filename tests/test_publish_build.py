"""``townsquare build``: feeds and OPML at the website's paths, rewritten only when changed."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from lxml import etree

from conftest import FeedServer, Result
from publish_site import RSS, Site, ingest, make_site
from townsquare.config import Config
from townsquare.publish.static_site import MANIFEST, OutputFolder
from townsquare.store import Store, open_store

Run = Callable[..., Result]
A = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def site(server: FeedServer, store: Store, config: Config, monkeypatch: pytest.MonkeyPatch) -> Site:
    # The command line reads its settings from the environment, as a curator's would.
    monkeypatch.setenv("TOWNSQUARE_BASE_URL", "https://blogs.example.org/town/")
    monkeypatch.setenv("TOWNSQUARE_SITE_NAME", "Town & Gown")
    return make_site(server, store, config)


def files(root: Path) -> dict[str, int]:
    """Every file under root with its modification time in nanoseconds."""
    return {
        p.relative_to(root).as_posix(): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()
    }


def expected_paths(site: Site) -> set[str]:
    feeds = ["feed.atom", "feed.rss", "feed.json"]
    folders = [
        "",
        "categories/local-government/",
        "categories/health-care/",
        "categories/digital/",
        *(f"blogs/{s.slug}/" for s in (site.rss, site.atom, site.json)),
    ]
    lists = [
        "blogs.opml",
        "categories/local-government.opml",
        "categories/health-care.opml",
        "categories/digital.opml",
    ]
    return {folder + feed for folder in folders for feed in feeds} | set(lists) | {MANIFEST}


def test_build_writes_feeds_and_lists_at_the_websites_paths(
    site: Site, run: Run, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    result = run("build", str(out))
    assert result.code == 0, result.err
    assert set(files(out)) == expected_paths(site)
    assert result.out == f"Built the site in '{out}': 25 files written, 0 unchanged, 0 removed\n"
    river = etree.parse(str(out / "feed.atom")).getroot()
    assert river.findtext(A + "title") == "Town & Gown"
    assert river.find(A + "link[@rel='self']").get("href") == (
        "https://blogs.example.org/town/feed.atom"
    )
    blog = etree.parse(str(out / "blogs" / site.atom.slug / "feed.rss")).getroot()
    assert [i.findtext("title") for i in blog.iter("item")] == ["Weeknotes 12 <3 ✨"]
    listing = etree.parse(str(out / "categories" / "digital.opml")).getroot()
    assert [o.get("xmlUrl") for o in listing.iter("outline") if o.get("xmlUrl")] == [site.atom.url]


def test_an_unchanged_rebuild_writes_nothing(site: Site, run: Run, tmp_path: Path) -> None:
    out = tmp_path / "site"
    assert run("build", str(out)).code == 0
    before = files(out)
    result = run("build", str(out))
    assert result.out == f"Built the site in '{out}': 0 files written, 25 unchanged, 0 removed\n"
    assert files(out) == before


def test_a_new_post_rewrites_only_the_feeds_it_is_in(
    site: Site, server: FeedServer, run: Run, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    assert run("build", str(out)).code == 0
    before = files(out)
    newer = RSS.replace(
        "<item>",
        "<item><title>Gritters out</title><link>https://fish.example/grit</link>"
        "<pubDate>Wed, 25 Nov 2026 06:00:00 GMT</pubDate><description>Ice.</description>"
        "</item><item>",
        1,
    )
    server.feed("/fish.rss", newer)
    ingest(site.store, site.config)
    result = run("build", str(out))
    after = files(out)
    changed = {path for path in after if after[path] != before[path]}
    feeds = {"feed.atom", "feed.rss", "feed.json"}
    assert changed == {
        folder + feed
        for folder in ("", "categories/local-government/", "categories/health-care/")
        for feed in feeds
    } | {f"blogs/{site.rss.slug}/{feed}" for feed in feeds}
    assert result.out.endswith(": 12 files written, 13 unchanged, 0 removed\n")


def test_a_removed_blog_loses_its_files_and_others_are_kept(
    site: Site, run: Run, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    out.mkdir()
    (out / "robots.txt").write_text("User-agent: *\n")
    assert run("build", str(out)).code == 0
    assert run("remove", str(site.atom.id)).code == 0
    result = run("build", str(out))
    assert result.code == 0, result.err
    # Its three feeds go; the river, its (now empty) category and the lists change.
    assert result.out.endswith(": 8 files written, 14 unchanged, 3 removed\n")
    assert not (out / "blogs" / site.atom.slug).exists()
    assert (out / "robots.txt").read_text() == "User-agent: *\n"
    assert set(files(out)) == (
        expected_paths(site) - {f"blogs/{site.atom.slug}/feed.{f}" for f in ("atom", "rss", "json")}
    ) | {"robots.txt"}


def test_the_output_folder_stays_inside_itself(tmp_path: Path) -> None:
    outside = tmp_path / "precious.txt"
    outside.write_text("keep")
    folder = OutputFolder(tmp_path / "site")
    for bad in ("../precious.txt", "/etc/passwd", ""):
        with pytest.raises(ValueError, match="not a path inside the site"):
            folder.write(bad, b"x")
    (tmp_path / "site" / MANIFEST).write_text(f"../precious.txt\n{outside}\nold.txt\n")
    (tmp_path / "site" / "old.txt").write_text("stale")
    folder.write("feed.atom", b"<feed/>")
    report = folder.finish()
    assert (report.written, report.unchanged, report.removed) == (1, 0, 1)
    assert outside.read_text() == "keep"
    assert not (tmp_path / "site" / "old.txt").exists()


def test_an_unusable_output_folder_is_an_error(site: Site, run: Run, tmp_path: Path) -> None:
    taken = tmp_path / "a-file"
    taken.write_text("")
    result = run("build", str(taken))
    assert result.code == 1
    assert result.err == f"townsquare: error: cannot create the folder '{taken}': File exists\n"


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A plain static file server on 127.0.0.1, as a static host would be."""
    root = tmp_path / "site"
    root.mkdir()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def test_a_built_feed_served_as_a_plain_file_can_be_followed(
    site: Site, run: Run, new_db: Callable[[], str], file_server: tuple[Path, str]
) -> None:
    root, base = file_server
    assert run("build", str(root)).code == 0
    second_config = replace(site.config, db=new_db())
    with open_store(second_config.db) as second:
        now = datetime.now().astimezone()
        for fmt in ("atom", "rss", "json"):
            second.add_source(f"{base}categories/local-government/feed.{fmt}", fmt, now=now)
        ingest(second, second_config)
        assert [s.status.value for s in second.sources()] == ["ok", "ok", "ok"]
        assert sorted(p.title for p in second.river(limit=10)) == sorted(
            p.title for p in site.store.river(limit=10) if p.source_id == site.rss.id
        )
