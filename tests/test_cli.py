"""The command line, driven as a curator would, against a real local server."""

from __future__ import annotations

import json

from conftest import FeedServer

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
