"""``townsquare build``: the whole site at the website's paths, rewritten only when changed."""

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
from lxml import html as lxml_html

from conftest import FeedServer, Result
from publish_site import ATOM_TITLE, RSS, Site, ingest, make_site
from townsquare.config import Config
from townsquare.publish.output import MANIFEST, OutputFolder
from townsquare.publish.paths import post_path
from townsquare.store import Store, open_store
from townsquare.web.paths import Paths
from townsquare.web.render import Assets

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


FEEDS = ("feed.atom", "feed.rss", "feed.json")


def expected_paths(site: Site) -> set[str]:
    """Every file of the sample site's build: its pages, feeds and lists."""
    categories = ["local-government", "health-care", "digital"]
    blogs = [s.slug for s in (site.rss, site.atom, site.json)]
    folders = ["", *(f"categories/{c}/" for c in categories), *(f"blogs/{b}/" for b in blogs)]
    feeds = {folder + feed for folder in folders for feed in FEEDS}
    lists = {"blogs.opml", *(f"categories/{c}.opml" for c in categories)}
    assets = Assets(Paths(site.config.base_url)).files()
    pages = {
        "index.html", "blogs/index.html", "about/index.html", "archive/index.html",
        "archive/2026/11/index.html", "404.html",
        *(f"static/{name}" for name in assets if not name.endswith(".js")),  # no script
        *(f"categories/{c}/index.html" for c in categories),
        *(f"blogs/{b}/index.html" for b in blogs),
        *(f"blogs/{b}/status/index.html" for b in blogs),
        *(f"{post_path(p.id, p.title)}index.html" for p in site.store.river(limit=100)),
    }  # fmt: skip
    return feeds | lists | pages | {MANIFEST}


def test_build_writes_the_whole_site_at_the_websites_paths(
    site: Site, run: Run, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    result = run("build", str(out))
    assert result.code == 0, result.err
    assert set(files(out)) == expected_paths(site)
    assert result.out == f"Built the site in '{out}': 46 files written, 0 unchanged, 0 removed\n"
    river = etree.parse(str(out / "feed.atom")).getroot()
    assert river.findtext(A + "title") == "Town & Gown"
    assert river.find(A + "link[@rel='self']").get("href") == (
        "https://blogs.example.org/town/feed.atom"
    )
    blog = etree.parse(str(out / "blogs" / site.atom.slug / "feed.rss")).getroot()
    assert [i.findtext("title") for i in blog.iter("item")] == ["Weeknotes 12 <3 ✨"]
    listing = etree.parse(str(out / "categories" / "digital.opml")).getroot()
    assert [o.get("xmlUrl") for o in listing.iter("outline") if o.get("xmlUrl")] == [site.atom.url]
    page = lxml_html.parse(str(out / "blogs" / site.atom.slug / "index.html")).getroot()
    assert page.findtext(".//h1") == ATOM_TITLE
    assert page.xpath("//article//h2//text()") == ["Weeknotes 12 <3 ✨"]


def test_an_unchanged_rebuild_writes_nothing(site: Site, run: Run, tmp_path: Path) -> None:
    out = tmp_path / "site"
    assert run("build", str(out)).code == 0
    before = files(out)
    result = run("build", str(out))
    assert result.out == f"Built the site in '{out}': 0 files written, 46 unchanged, 0 removed\n"
    assert files(out) == before


def test_new_posts_rewrite_only_the_files_they_change(
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
    new = set(after) - set(before)
    changed = {path for path in before if after[path] != before[path]}
    gritters = site.store.river(limit=1)[0]
    assert gritters.title == "Gritters out"
    assert new == {f"{post_path(gritters.id, gritters.title)}index.html"}
    fish, homes = (
        f"blogs/{site.rss.slug}/",
        ("", "categories/local-government/", "categories/health-care/"),
    )
    assert changed == {
        # the river, and the blog's and its categories' pages and feeds, hold the new post
        *(f"{folder}{name}" for folder in (*homes, fish) for name in (*FEEDS, "index.html")),
        "archive/2026/11/index.html",  # so does its month
        "blogs/index.html",  # which gives each blog's latest post
        # every blog was fetched again: their status pages list the fetch
        *(f"blogs/{s.slug}/status/index.html" for s in (site.rss, site.atom, site.json)),
        MANIFEST,  # which lists the new post's page
    }
    written = len(new) + len(changed) - 1  # the manifest is not counted
    assert result.out.endswith(
        f": {written} files written, {46 - written + 1} unchanged, 0 removed\n"
    )


def test_a_removed_blog_loses_its_files_and_others_are_kept(
    site: Site, run: Run, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    out.mkdir()
    (out / "robots.txt").write_text("User-agent: *\n")
    assert run("build", str(out)).code == 0
    before = files(out)
    (post,) = [p for p in site.store.river(limit=100) if p.source_id == site.atom.id]
    assert run("remove", str(site.atom.id)).code == 0
    result = run("build", str(out))
    assert result.code == 0, result.err
    after = files(out)
    # Its feeds, its pages and its post's page go ...
    gone = {
        *(f"blogs/{site.atom.slug}/{name}" for name in (*FEEDS, "index.html", "status/index.html")),
        f"{post_path(post.id, post.title)}index.html",
    }
    assert set(before) - set(after) == gone
    assert not (out / "blogs" / site.atom.slug).exists()
    # ... whatever listed the blog or its post changes, and nothing else.
    changed = {path for path in after if after[path] != before[path]}
    assert changed == {
        *(f + name for f in ("", "categories/digital/") for name in (*FEEDS, "index.html")),
        "blogs.opml", "categories/digital.opml", "blogs/index.html", "about/index.html",
        "archive/2026/11/index.html", MANIFEST,
    }  # fmt: skip
    assert result.out.endswith(": 13 files written, 27 unchanged, 6 removed\n")
    assert (out / "robots.txt").read_text() == "User-agent: *\n"
    assert set(after) == (expected_paths(site) - gone) | {"robots.txt"}


def test_the_output_folder_stays_inside_itself(tmp_path: Path) -> None:
    outside = tmp_path / "precious.txt"
    outside.write_text("keep")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / MANIFEST).write_text(f"../precious.txt\n{outside}\nold.txt\n")
    (tmp_path / "site" / "old.txt").write_text("stale")
    folder = OutputFolder(tmp_path / "site")
    for bad in ("../precious.txt", "/etc/passwd", ""):
        with pytest.raises(ValueError, match="not a path inside the site"):
            folder.write(bad, b"x")
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


def test_files_changed_or_deleted_by_hand_are_put_back(
    site: Site, run: Run, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    assert run("build", str(out)).code == 0
    river = (out / "index.html").read_bytes()
    (out / "index.html").write_bytes(river.replace(b"Latest posts", b"Latest p0sts"))  # same size
    (out / "feed.atom").unlink()
    result = run("build", str(out))
    assert result.out.endswith(": 2 files written, 44 unchanged, 0 removed\n")
    assert (out / "index.html").read_bytes() == river
    assert (out / "feed.atom").exists()
