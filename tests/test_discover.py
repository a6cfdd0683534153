"""Autodiscovery: from a blog's home page to its best feed, checked before saving."""

from __future__ import annotations

import json

from conftest import FeedServer, Response
from helpers import Item, rss

ATOM_SUMMARY = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Summaries blog</title>
<link href="https://blog.example/"/>
<entry><title>Summary post</title><link href="https://blog.example/s"/><id>s</id>
<updated>2024-07-05T10:00:00Z</updated><summary>Just the start...</summary></entry></feed>"""

ATOM_FULL = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Full Atom blog</title>
<link href="https://blog.example/"/>
<entry><title>Full post</title><link href="https://blog.example/f"/><id>f</id>
<updated>2024-07-05T10:00:00Z</updated><content type="html">&lt;p&gt;All of it.&lt;/p&gt;</content>
</entry></feed>"""

RSS_FULL = rss(
    [
        Item("Oldest", link="https://blog.example/1", date="Mon, 01 Jul 2024 09:00:00 GMT"),
        Item("Newest", link="https://blog.example/4", date="Thu, 04 Jul 2024 09:00:00 GMT"),
        Item("Middle", link="https://blog.example/3", date="Wed, 03 Jul 2024 09:00:00 GMT"),
        Item("Second", link="https://blog.example/2", date="Tue, 02 Jul 2024 09:00:00 GMT"),
    ],
    title="Full RSS blog",
)
COMMENTS = rss(
    [Item("Comment on Newest", link="https://blog.example/4#c1")], title="Comments on the blog"
)


def page(*links: tuple[str, str, str]) -> Response:
    """A home page advertising feeds as (type, href, title)."""
    tags = "".join(
        f'<link rel="alternate" type="{kind}" href="{href}" title="{title}">'
        for kind, href, title in links
    )
    html = f"<!DOCTYPE html><html><head><title>Home</title>{tags}</head><body>Hi</body></html>"
    return Response(200, html.encode(), {"Content-Type": "text/html; charset=utf-8"})


def sources(run) -> list[dict[str, object]]:
    listed: list[dict[str, object]] = json.loads(run("sources", "--json").out)
    return listed


def test_full_content_is_preferred_over_summaries_and_comments(server: FeedServer, run) -> None:
    server.respond(
        "/",
        page(
            ("application/rss+xml", "/comments/feed/", "Comments Feed"),
            ("application/atom+xml", "/summary.atom", "Atom"),
            ("application/rss+xml", "feed/full.rss", "RSS"),
        ),
    )
    server.feed("/comments/feed/", COMMENTS)
    server.feed("/summary.atom", ATOM_SUMMARY)
    server.feed("/feed/full.rss", RSS_FULL)

    added = run("add", server.url("/"), "--category", "Digital")
    assert added.code == 0, added.err
    assert added.out.splitlines() == [
        f"Found Full RSS blog (rss2.0 feed at {server.url('/feed/full.rss')})",
        "  4 July 2024  Newest",
        "  3 July 2024  Middle",
        "  2 July 2024  Second",
        "Added blog 1: Full RSS blog",
    ]
    [source] = sources(run)
    assert source["url"] == server.url("/feed/full.rss")
    assert source["site_url"] == "https://blog.example/"
    assert source["title"] == "Full RSS blog"


def test_atom_and_rss_are_preferred_over_json_feed(server: FeedServer, run) -> None:
    json_feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "JSON blog",
        "items": [{"id": "1", "content_html": "<p>Full.</p>"}],
    }
    server.respond(
        "/",
        page(
            ("application/feed+json", "/feed.json", "JSON"),
            ("application/atom+xml", "/full.atom", "Atom"),
        ),
    )
    server.feed("/feed.json", json.dumps(json_feed), "application/feed+json")
    server.feed("/full.atom", ATOM_FULL)
    assert run("add", server.url("/")).code == 0
    assert sources(run)[0]["url"] == server.url("/full.atom")


def test_a_comments_feed_is_not_taken_for_the_blog(server: FeedServer, run) -> None:
    """Even when the comments feed has full content and the posts feed only summaries."""
    server.respond(
        "/",
        page(
            ("application/rss+xml", "/comments/feed/", "Comments Feed"),
            ("application/atom+xml", "/summary.atom", "Posts"),
        ),
    )
    server.feed("/comments/feed/", COMMENTS)
    server.feed("/summary.atom", ATOM_SUMMARY)
    added = run("add", server.url("/"))
    assert added.code == 0, added.err
    assert sources(run)[0]["url"] == server.url("/summary.atom")


def test_a_broken_candidate_is_passed_over(server: FeedServer, run) -> None:
    server.respond(
        "/",
        page(
            ("application/atom+xml", "/missing.atom", "Atom"),
            ("application/rss+xml", "/full.rss", "RSS"),
        ),
    )
    server.feed("/full.rss", RSS_FULL)
    assert run("add", server.url("/")).code == 0
    assert sources(run)[0]["url"] == server.url("/full.rss")


def test_a_feed_address_is_taken_as_it_is(server: FeedServer, run) -> None:
    url = server.feed("/atom", ATOM_FULL)
    added = run("add", url, "--title", "  Northshire   Comms ")
    assert added.code == 0
    assert added.out.startswith(f"Found Northshire Comms (atom1.0 feed at {url})\n")
    assert sources(run)[0]["title"] == "Northshire Comms"
    assert [r.path for r in server.requests] == ["/atom"]


def test_a_page_with_no_feed_gets_a_clear_error(server: FeedServer, run) -> None:
    server.respond("/", page())
    added = run("add", server.url("/"))
    assert added.code == 1
    assert added.err == (
        f"townsquare: error: no feed found at {server.url('/')!r}: the page links to no RSS, "
        "Atom or JSON feed (this is a web page, not a feed); give the feed's own address "
        "instead\n"
    )
    assert sources(run) == []


def test_a_page_whose_feeds_all_fail_says_why(server: FeedServer, run) -> None:
    server.respond("/", page(("application/rss+xml", "/gone.rss", "RSS")))
    server.respond("/gone.rss", Response(410))
    added = run("add", server.url("/"))
    assert added.code == 1
    assert added.err == (
        f"townsquare: error: no working feed found at {server.url('/')!r}: "
        f"{server.url('/gone.rss')}: the feed is gone: the server answered 410 Gone\n"
    )
    assert sources(run) == []


def test_an_unreachable_address_gets_a_clear_error(server: FeedServer, run) -> None:
    server.respond("/", Response(500, b"broken"))
    added = run("add", server.url("/"))
    assert added.code == 1
    assert added.err == (
        f"townsquare: error: could not fetch {server.url('/')!r}: "
        "the server answered 500 Internal Server Error\n"
    )


def test_categories_are_given_with_repeated_options(server: FeedServer, run) -> None:
    url = server.feed("/feed", RSS_FULL)
    added = run("add", url, "--category", "Digital", "--category", "Local government")
    assert added.code == 0
    assert sources(run)[0]["categories"] == ["Digital", "Local government"]
    listed = json.loads(run("categories", "--json").out)
    assert [(c["name"], c["slug"], c["blogs"]) for c in listed] == [
        ("Digital", "digital", 1),
        ("Local government", "local-government", 1),
    ]
    assert run("categories").out == "Digital (1 blog)\nLocal government (1 blog)\n"


def test_adding_a_listed_blog_again_is_refused(server: FeedServer, run) -> None:
    url = server.feed("/feed", RSS_FULL)
    assert run("add", url).code == 0
    again = run("add", url)
    assert again.code == 1
    assert (
        again.err == f"townsquare: error: blog already listed: {url!r} is 'Full RSS blog' (id 1)\n"
    )
