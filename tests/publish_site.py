"""A small Townsquare with awkward posts, ingested through the real pipeline.

Three blogs on a real local server: an RSS blog whose name and titles carry
markup characters, an Atom blog with an edited post, and a JSON Feed blog
set to excerpts whose content holds control characters XML cannot carry.
The publishing tests read this store back in every format.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from conftest import FeedServer
from townsquare.config import Config
from townsquare.ingest.pipeline import Ingest
from townsquare.model import Source
from townsquare.store import Store

RSS_TITLE = 'Fish & Chips < Council > "News"'  # "<C" would be stored as "< C"
ATOM_TITLE = "Northshire digital"
JSON_TITLE = "Hana’s weeknotes"

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>Fish and chips</title><link>https://fish.example/</link>
<item><title>Bins &amp; &lt;b&gt;recycling&lt;/b&gt; ]]&gt; &quot;day&quot;</title>
<link>https://fish.example/bins</link><guid>bins-1</guid>
<pubDate>Tue, 24 Nov 2026 10:00:00 GMT</pubDate><dc:creator>Ann Lee</dc:creator>
<category>Waste &amp; recycling</category><category>Bins</category>
<description>Collections change.</description>
<content:encoded><![CDATA[<p>Collections move to <a href="/days">Tuesdays</a> &amp; the
CDATA end ]]]]><![CDATA[> is fine.</p><script>alert(1)</script>]]></content:encoded>
</item>
<item><title>Parks open late</title><link>https://fish.example/parks</link>
<pubDate>Mon, 23 Nov 2026 08:30:00 GMT</pubDate>
<description><![CDATA[<p>All summer.</p>]]></description>
</item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Northshire digital</title>
<id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id><updated>2026-11-25T12:00:00Z</updated>
<link rel="alternate" href="https://digital.northshire.example/"/>
<entry><id>urn:ns:weeknotes-12</id><title type="html">Weeknotes 12 &amp;lt;3 ✨</title>
<link rel="alternate" href="https://digital.northshire.example/weeknotes-12"/>
<published>2026-11-22T09:00:00Z</published><updated>2026-11-25T12:00:00+00:00</updated>
<author><name>Bo Chen</name></author>
<content type="html">&lt;p&gt;We shipped &lt;em&gt;the forms&lt;/em&gt;.&lt;/p&gt;</content>
</entry></feed>"""

JSON_FEED = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "Weeknotes",
    "home_page_url": "https://hana.example/",
    "items": [
        {
            "id": "w-7",
            "url": "https://hana.example/w7",
            "title": "Week 7",
            "content_html": "<p>Bell\u0007 and tab\u000b and \ufffe gone: a long week of "
            + "work. " * 80
            + "</p>",
            "date_published": "2026-11-21T17:00:00Z",
            "authors": [{"name": "Hana Okafor"}],
        },
        {
            "id": "w-6",
            "title": "Week 6",
            "content_html": "<p>No link on this one.</p>",
            "date_published": "2026-11-14T17:00:00Z",
        },
    ],
}


@dataclass
class Site:
    store: Store
    config: Config
    rss: Source  # two categories, two posts
    atom: Source  # one category, one edited post
    json: Source  # no category, excerpts only, two posts


def ingest(store: Store, config: Config) -> None:
    runner = Ingest(store, config)
    try:
        asyncio.run(runner.run_pass(force=True))
    finally:
        runner.close()


def make_site(
    server: FeedServer,
    store: Store,
    config: Config,
    *,
    base_url: str = "https://blogs.example.org/town/",
) -> Site:
    config = replace(config, base_url=base_url, site_name="Town & Gown")
    now = datetime.now().astimezone()
    rss = store.add_source(
        server.feed("/fish.rss", RSS),
        RSS_TITLE,
        site_url="https://fish.example/",
        categories=["Local government", "Health & care"],
        now=now,
    )
    atom = store.add_source(
        server.feed("/digital.atom", ATOM), ATOM_TITLE, categories=["Digital"], now=now
    )
    hana = store.add_source(
        server.feed("/hana.json", json.dumps(JSON_FEED), "application/feed+json"),
        JSON_TITLE,
        site_url="https://hana.example/",
        now=now,
    )
    store.update_source(hana.id, excerpts_only=True)
    ingest(store, config)
    return Site(store, config, store.source(rss.id), store.source(atom.id), store.source(hana.id))


def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]
