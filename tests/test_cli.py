"""The command line, driven as a curator would, against a real local server."""

from __future__ import annotations

import contextlib
import io
import json
import os
import pty
import re
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from conftest import FeedServer, Request, Response, Result
from helpers import Item, rss, run_pass
from townsquare import cli
from townsquare.config import Config
from townsquare.store import Store

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>Northshire digital</title><link>https://digital.northshire.example/</link>
<item><title>Weeknotes 12</title><link>https://digital.northshire.example/weeknotes-12</link>
<guid>wn-12</guid>
<pubDate>Tue, 24 Nov 2026 10:00:00 GMT</pubDate><author>a@b.example (Ann Lee)</author>
<content:encoded><![CDATA[<p>We shipped <a href="/forms">the forms</a>.</p>]]></content:encoded>
</item>
</channel></rss>"""


def test_add_fetch_and_list(server: FeedServer, run) -> None:
    server.respond(
        "/",
        __import__("conftest").Response(
            200,
            b'<html><head><link rel="alternate" type="application/rss+xml" href="/feed.xml">'
            b"</head></html>",
            {"Content-Type": "text/html"},
        ),
    )
    server.feed("/feed.xml", RSS)
    added = run("add", server.url("/"), "--category", "Digital")
    assert added.code == 0, added.err
    assert "Found Northshire digital" in added.out
    assert "24 November 2026  Weeknotes 12" in added.out

    fetched = run("fetch")
    assert fetched.code == 0
    assert "1 new, 0 updated, 0 unchanged, 0 failed" in fetched.out

    again = run("fetch", "--all")
    assert "0 new, 0 updated, 0 unchanged, 0 failed" in again.out  # a 304
    assert server.hits("/feed.xml")[-1].headers.get("if-none-match")

    posts = json.loads(run("posts", "--json").out)
    assert [p["title"] for p in posts] == ["Weeknotes 12"]
    assert posts[0]["author"] == "Ann Lee"
    assert posts[0]["published"] == "2026-11-24T10:00:00+00:00"
    # relative links resolve against the feed's own address
    assert f'href="{server.url("/forms")}"' in posts[0]["content_html"]

    sources = json.loads(run("sources", "--json").out)
    assert sources[0]["status"] == "ok" and sources[0]["categories"] == ["Digital"]


def test_errors_are_one_line(run) -> None:
    result = run("remove", "42")
    assert result.code == 1
    assert result.err.strip() == (
        "townsquare: error: no such blog: 42: run 'townsquare sources' to see the blogs listed"
    )


# --- more of the command line ------------------------------------------------------------

FEED_A = rss(
    [
        Item(
            "Weeknotes 12",
            link="https://a.example/wn-12",
            guid="wn-12",
            content='<p>Hi <script>x()</script><a href="/x">there</a></p>',
        ),
        Item("Weeknotes 11", link="https://a.example/wn-11", guid="wn-11", date=None),
    ],
    title="Blog A",
    site="https://a.example/",
)
FEED_B = rss([Item("B post", link="https://b.example/1", guid="b1")], title="Blog B")


def _json(result: Result) -> Any:
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_import_opml_folders_become_categories(server: FeedServer, run, tmp_path: Path) -> None:
    existing = server.feed("/existing", FEED_A)
    assert run("add", existing).code == 0
    opml = tmp_path / "blogs.opml"
    opml.write_text(
        f"""<?xml version="1.0" encoding="utf-8"?>
<opml version="2.0"><head><title>Public sector blogs</title></head><body>
  <outline text="Local government" title="Local government">
    <outline type="rss" text="Ashvale Libraries" xmlUrl="https://ashvale.example/feed"
             htmlUrl="https://ashvale.example/"/>
    <outline text="Parish councils">
      <outline type="rss" text="Little Shapton &amp;amp; District" xmlUrl="https://ls.example/rss"/>
    </outline>
  </outline>
  <outline text="Health">
    <outline type="rss" text="Already here" xmlUrl="{existing}"/>
    <outline type="rss" text="Wexmoor NHS" xmlUrl="https://wexmoor.example/feed"/>
  </outline>
  <outline type="rss" text="No folder" xmlUrl="https://loose.example/feed" category="Digital"/>
  <outline type="rss" text="Not a web address" xmlUrl="javascript:alert(1)"/>
</body></opml>""",
        "utf-8",
    )
    result = run("import-opml", str(opml))
    assert result.code == 0, result.err
    assert result.out == f"Imported 4 blogs from '{opml}' (1 already listed)\n"
    listed = {
        s["url"]: (s["title"], s["categories"], s["site_url"])
        for s in _json(run("sources", "--json"))
    }
    assert listed == {
        existing: ("Blog A", [], "https://a.example/"),
        "https://ashvale.example/feed": (
            "Ashvale Libraries",
            ["Local government"],
            "https://ashvale.example/",
        ),
        "https://ls.example/rss": ("Little Shapton & District", ["Parish councils"], None),
        "https://wexmoor.example/feed": ("Wexmoor NHS", ["Health"], None),
        "https://loose.example/feed": ("No folder", ["Digital"], None),
    }
    again = run("import-opml", str(opml))
    assert again.out == f"Imported 0 blogs from '{opml}' (5 already listed)\n"


def test_import_opml_errors_are_one_line(run, tmp_path: Path) -> None:
    missing = run("import-opml", str(tmp_path / "nope.opml"))
    assert (missing.code, missing.out) == (1, "")
    assert missing.err == (
        f"townsquare: error: cannot read '{tmp_path / 'nope.opml'}': No such file or directory\n"
    )
    not_opml = tmp_path / "feed.xml"
    not_opml.write_text(FEED_A, "utf-8")
    wrong = run("import-opml", str(not_opml))
    assert wrong.code == 1
    assert wrong.err == (
        f"townsquare: error: '{not_opml}' is not OPML: it has no <opml> with a <body>\n"
    )


def test_fetch_source_fetches_only_that_blog(server: FeedServer, run) -> None:
    run("add", server.feed("/a", FEED_A))
    run("add", server.feed("/b", FEED_B))
    run("add", server.feed("/c", rss([Item("C post", guid="c1")], title="Blog C")))

    def fetched() -> list[int]:
        """How many times each blog's feed has been asked for."""
        return [len(server.hits(path)) for path in ("/a", "/b", "/c")]

    assert fetched() == [1, 1, 1]  # each once, when it was added
    assert run("fetch", "--source", "2").code == 0
    assert fetched() == [1, 2, 1]
    # Given twice (by address, then by name), both blogs are fetched. B is not named,
    # and would not be due yet anyway: '--source' picks from the blogs that are due.
    both = run("fetch", "--source", server.url("/a"), "--source", "blog-c")
    assert both.code == 0, both.err
    assert fetched() == [2, 2, 2]
    unknown = run("fetch", "--source", "99")
    assert unknown.code == 1
    assert unknown.err == (
        "townsquare: error: no such blog: 99: run 'townsquare sources' to see the blogs listed\n"
    )


def test_fetch_json(server: FeedServer, run) -> None:
    run("add", server.feed("/a", FEED_A))
    run("add", server.feed("/b", FEED_B))
    server.respond("/b", Response(500, b""))
    report = _json(run("fetch", "--json"))
    assert set(report) == {"new", "updated", "unchanged", "failed", "seconds", "sources"}
    assert (report["new"], report["updated"], report["unchanged"], report["failed"]) == (2, 0, 0, 1)
    assert isinstance(report["seconds"], float)
    assert report["sources"] == [
        {
            "id": 1,
            "title": "Blog A",
            "url": server.url("/a"),
            "outcome": "ok",
            "new": 2,
            "updated": 0,
            "unchanged": 0,
            "error": None,
        },
        {
            "id": 2,
            "title": "Blog B",
            "url": server.url("/b"),
            "outcome": "error",
            "new": 0,
            "updated": 0,
            "unchanged": 0,
            "error": "the server answered 500 Internal Server Error",
        },
    ]


def test_fetch_prints_failures_and_the_counts(server: FeedServer, run) -> None:
    run("add", server.feed("/a", FEED_A))
    run("add", server.feed("/b", FEED_B))
    server.respond("/b", Response(404, b""))
    result = run("fetch")
    assert result.code == 0  # the pass completed, though a blog failed
    lines = result.out.splitlines()
    assert lines[0] == f"  failed: Blog B <{server.url('/b')}>: the server answered 404 Not Found"
    assert re.fullmatch(
        r"Fetched 2 blogs in \d+\.\d s: 2 new, 0 updated, 0 unchanged, 1 failed", lines[1]
    )
    assert result.err == ""  # no progress bar when standard error is not a terminal
    nothing = run("fetch")
    assert nothing.out.splitlines()[-1] == (
        "No blogs were due. Use 'townsquare fetch --all' to fetch every blog now."
    )


def test_posts_json(server: FeedServer, run) -> None:
    run("add", server.feed("/a", FEED_A))
    run("fetch")
    posts = _json(run("posts", "--json"))
    assert [p["title"] for p in posts] == ["Weeknotes 11", "Weeknotes 12"]  # undated: seen now
    first = posts[1]
    assert {"id", "source_title", "title", "link", "author", "published", "content_html"} <= set(
        first
    )
    assert first["source_title"] == "Blog A"
    assert first["link"] == "https://a.example/wn-12"
    assert first["author"] is None
    assert first["published"] == "2024-07-05T10:00:00+00:00"
    assert datetime.fromisoformat(posts[0]["published"]).tzinfo is not None
    assert first["content_html"] == (
        f'<p>Hi <a href="{server.url("/x")}" rel="noopener noreferrer">there</a></p>'
    )
    assert len(_json(run("posts", "--json", "--limit", "1"))) == 1


def test_posts_as_text(server: FeedServer, run) -> None:
    run("add", server.feed("/a", FEED_A))
    assert run("posts").out == "No posts yet. Fetch them with: townsquare fetch\n"
    run("fetch")
    out = run("posts", "--limit", "5").out
    assert "\nWeeknotes 12\nBlog A · 5 July 2024\n  Hi there\n" in out
    assert "  Original source – Blog A: https://a.example/wn-12\n" in out


def test_sources_json_shows_every_outcome(server: FeedServer, run) -> None:
    run("add", server.feed("/a", FEED_A))
    run("add", server.feed("/b", FEED_B))
    assert run("sources", "--json").out.count('"status": "new"') == 2
    server.respond("/b", Response(410, b""))
    run("fetch")
    a, b = _json(run("sources", "--json"))
    assert set(a) >= {
        "id", "url", "site_url", "title", "slug", "categories", "enabled", "status",
        "http_status", "last_error", "consecutive_failures", "last_fetched_at",
        "last_success_at", "next_due_at", "disabled_reason",
    }  # fmt: skip
    assert (a["status"], a["http_status"], a["last_error"], a["consecutive_failures"]) == (
        "ok",
        200,
        None,
        0,
    )
    assert a["last_success_at"] == a["last_fetched_at"] is not None
    assert datetime.fromisoformat(a["next_due_at"]) > datetime.fromisoformat(a["last_fetched_at"])
    assert (b["enabled"], b["status"], b["http_status"], b["disabled_reason"]) == (
        False,
        "gone",
        410,
        "gone",
    )
    assert b["last_error"] == "the feed is gone: the server answered 410 Gone"
    assert b["last_success_at"] is None and b["consecutive_failures"] == 1
    text = run("sources").out
    assert f"    2  Blog B  <{server.url('/b')}>  disabled (gone)\n" in text
    assert "       last error: the feed is gone: the server answered 410 Gone\n" in text


def test_remove_takes_an_id_or_an_address(server: FeedServer, run) -> None:
    url = server.feed("/a", FEED_A)
    run("add", url)
    run("fetch")
    assert run("remove", url).out == "Removed blog 1: Blog A (and its posts)\n"
    assert _json(run("posts", "--json")) == []
    assert run("sources").out == "No blogs yet. Add one with: townsquare add URL\n"


def test_db_flag_then_environment_then_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TOWNSQUARE_DB", raising=False)

    def init(*args: str) -> str:
        out = io.StringIO()
        with redirect_stdout(out):
            assert cli.main([*args, "init"]) == 0
        return out.getvalue()

    assert init() == "Database ready: townsquare.db\n"
    assert (tmp_path / "townsquare.db").exists()
    monkeypatch.setenv("TOWNSQUARE_DB", str(tmp_path / "from-env.db"))
    assert init() == f"Database ready: {tmp_path / 'from-env.db'}\n"
    assert init("--db", str(tmp_path / "from-flag.db")) == (
        f"Database ready: {tmp_path / 'from-flag.db'}\n"
    )
    assert sorted(p.name for p in tmp_path.glob("*.db")) == [
        "from-env.db",
        "from-flag.db",
        "townsquare.db",
    ]


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            ["--db", "/no/such/folder/t.db", "sources"],
            {},
            "cannot open database '/no/such/folder/t.db': the folder '/no/such/folder' does not "
            "exist",
        ),
        (
            ["--db", "mysql://localhost/x", "sources"],
            {},
            "unknown database address 'mysql://localhost/x': give a file path for SQLite or a "
            "postgresql:// URL",
        ),
        (
            ["sources"],
            {"TOWNSQUARE_POLL_INTERVAL": "hourly"},
            "bad setting TOWNSQUARE_POLL_INTERVAL='hourly': invalid literal for int() with base "
            "10: 'hourly'",
        ),
        (
            ["remove", "no-such-blog"],
            {},
            "no such blog: 'no-such-blog': run 'townsquare sources' to see the blogs listed",
        ),
    ],
)
def test_errors_are_one_line_with_exit_status_1(
    args: list[str],
    env: dict[str, str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(args)
    assert (code, out.getvalue()) == (1, "")
    assert err.getvalue() == f"townsquare: error: {message}\n"


def test_a_database_server_error_is_one_line(run) -> None:
    """PostgreSQL's own messages run over several lines."""
    url = "postgresql://nobody@127.0.0.1:1/none"  # nothing listens on port 1
    result = run("--db", url, "sources")
    assert result.code == 1
    assert result.err.startswith(f"townsquare: error: cannot open database {url!r}: ")
    assert "Connection refused" in result.err
    assert result.err.count("\n") == 1 and "\t" not in result.err


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "townsquare", *args]


def _env(db: str) -> dict[str, str]:
    src = str(Path(__file__).parents[1] / "src")
    return {
        **os.environ,
        "PYTHONPATH": src,
        "TOWNSQUARE_DB": db,
        "TOWNSQUARE_ALLOW_NETWORKS": "127.0.0.1/32",
    }


def test_a_real_process_shows_no_traceback(tmp_path: Path) -> None:
    env = {**_env(str(tmp_path / "t.db")), "TOWNSQUARE_FETCH_TIMEOUT": "-1"}
    done = subprocess.run(_command("fetch"), env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr == (
        "townsquare: error: bad setting TOWNSQUARE_FETCH_TIMEOUT='-1': expected a number above 0\n"
    )


@pytest.mark.parametrize("lines", [1, 3000])
def test_output_read_only_in_part_is_no_error(tmp_path: Path, lines: int) -> None:
    """``townsquare … | head -1``: what reads the output stops early; no traceback, and the
    command says it succeeded (whether its output filled the pipe or was still buffered)."""
    env = _env(str(tmp_path / "t.db"))
    subprocess.run(_command("init"), env=env, check=True, capture_output=True, timeout=60)
    opml = tmp_path / "blogs.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><head><title>Blogs</title></head><body>'
        + "".join(
            f'<outline type="rss" text="Blog {n}" xmlUrl="https://blog{n}.example/feed"/>'
            for n in range(lines)
        )
        + "</body></opml>"
    )
    subprocess.run(_command("import-opml", str(opml)), env=env, check=True, timeout=60)
    listing = subprocess.Popen(
        _command("sources"), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert listing.stdout is not None and listing.stderr is not None
    listing.stdout.close()  # the reader is gone before a line is written
    with listing.stderr:
        errors = listing.stderr.read().decode()
    assert listing.wait(timeout=60) == 0, errors
    assert errors == ""


def test_a_progress_bar_only_on_a_terminal(server: FeedServer, run, db_path: str) -> None:
    run("add", server.feed("/a", FEED_A))
    run("add", server.feed("/b", FEED_B))
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            _command("fetch"),
            env=_env(db_path),
            stdout=subprocess.PIPE,
            stderr=follower,
            text=True,
            timeout=60,
        )
        os.close(follower)
        follower = -1
        shown = b""
        with contextlib.suppress(OSError):  # EIO once the terminal has been read dry
            while chunk := os.read(leader, 4096):
                shown += chunk
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)
    assert done.returncode == 0
    assert "\rFetching [" in shown.decode() and "] 2/2" in shown.decode()
    assert done.stdout.endswith("3 new, 0 updated, 0 unchanged, 0 failed\n")

    piped = subprocess.run(
        _command("fetch", "--all"), env=_env(db_path), capture_output=True, text=True, timeout=60
    )
    assert piped.stderr == ""
    assert piped.stdout.endswith("0 new, 0 updated, 0 unchanged, 0 failed\n")


def test_a_refetch_in_a_new_process_finds_nothing_edited(
    server: FeedServer, run, db_path: str
) -> None:
    """Cleaning is deterministic across processes, so an unchanged post is not an edit."""
    pictures = rss(
        Item(
            f"Photo {i}",
            guid=f"photo-{i}",
            content=f'<p><img src="/p{i}.jpg" alt="Photo {i}" width="600" title="t"></p>',
        )
        for i in range(5)
    )
    served = 0

    def photos(request: Request) -> Response:
        # No ETag, and bytes that differ each time (as when only the feed's build date
        # changes): so it is parsed each time.  The same bytes would not be read again.
        nonlocal served
        served += 1
        return Response(200, f"{pictures}<!-- {served} -->".encode())

    url = server.route("/photos", photos)
    run("add", url)
    counts = []
    for _ in range(3):
        done = subprocess.run(
            _command("fetch", "--all"),
            env=_env(db_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
        counts.append(done.stdout.split(": ", 1)[1])
    assert counts == [
        "5 new, 0 updated, 0 unchanged, 0 failed\n",
        "0 new, 0 updated, 5 unchanged, 0 failed\n",
        "0 new, 0 updated, 5 unchanged, 0 failed\n",
    ]


def test_the_old_address_of_a_moved_blog_cannot_be_added_again(
    server: FeedServer, store: Store, config: Config, run
) -> None:
    old = server.respond("/old", Response(301, headers={"Location": "/new"}))
    new = server.feed("/new", FEED_B)
    source = store.add_source(old, "Moved blog", now=datetime.now(UTC))
    run_pass(store, config, force=True)
    run_pass(store, config, force=True)
    assert store.source(source.id).url == new
    again = run("add", old)
    assert again.code == 1
    assert again.err == (
        f"townsquare: error: blog already listed: {old!r} is 'Moved blog' (id {source.id})\n"
    )


def test_posts_json_shows_a_shared_post_once_from_its_own_blog(server: FeedServer, run) -> None:
    shared = "https://b.example/shared"
    run(
        "add",
        server.feed(
            "/planet",
            rss(
                [Item("Via planet", link=shared + "?utm_source=p")],
                title="Planet",
                site="https://planet.example/",
            ),
        ),
    )
    run(
        "add",
        server.feed(
            "/b", rss([Item("Shared", link=shared)], title="Blog B", site="https://b.example/")
        ),
    )
    run("fetch")
    posts = _json(run("posts", "--json"))
    assert [(p["source_title"], p["title"], p["link"]) for p in posts] == [
        ("Blog B", "Shared", shared)
    ]
