"""A second Townsquare that subscribes to our feeds ends up with the same posts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

import pytest

from conftest import FeedServer, Request, Response
from publish_site import Site, ingest, make_site
from townsquare.config import Config
from townsquare.ingest.clean import plain_text
from townsquare.model import Post
from townsquare.publish.feeds import load_feed, post_id, render_feed
from townsquare.publish.paths import FeedFormat, FeedScope
from townsquare.store import Store, open_store


def serve_feed(server: FeedServer, site: Site, scope: FeedScope, fmt: FeedFormat) -> str:
    """Serve one of our feeds as the website will: fresh each time, 304 when unchanged."""

    def handler(request: Request) -> Response:
        doc = render_feed(load_feed(site.store, site.config, scope), fmt)
        headers = request.headers
        if doc.is_fresh(headers.get("if-none-match"), headers.get("if-modified-since")):
            return Response(304, headers={"ETag": doc.etag})
        return Response(200, doc.body, doc.headers)

    return server.route("/ours/" + scope.feed_path(fmt), handler)


def seen_by_a_reader(post: Post) -> tuple[object, ...]:
    return (post.title, post.published, post.categories)


@pytest.mark.parametrize("fmt", list(FeedFormat))
def test_a_second_townsquare_gets_the_same_posts(
    server: FeedServer, store: Store, config: Config, new_db: Callable[[], str], fmt: FeedFormat
) -> None:
    site = make_site(server, store, config)
    url = serve_feed(server, site, FeedScope.river(), fmt)
    second_config = replace(config, db=new_db())
    with open_store(second_config.db) as second:
        ours = site.store.river(limit=100)
        copy = second.add_source(url, "Town & Gown", now=datetime.now().astimezone())
        ingest(second, second_config)
        theirs = second.river(limit=100)

        assert [seen_by_a_reader(p) for p in theirs] == [seen_by_a_reader(p) for p in ours]
        excerpts = {site.json.id}
        for mine, copied in zip(ours, theirs, strict=True):
            assert copied.guid == post_id(mine, site.config.base_url)
            assert copied.link == (
                mine.link or f"https://blogs.example.org/town/posts/{mine.id}-week-6"
            )
            # Ingest reads every author name as possibly HTML, so "<Council>" goes.
            assert copied.author == plain_text(mine.author or mine.source_title)
            assert copied.updated == (mine.updated or mine.published)
            if mine.source_id in excerpts:
                assert "Continue reading on Hana’s weeknotes</a></p>" in copied.content_html
                continue
            assert copied.content_html.startswith(mine.content_html + "\n<p>Original source – ")
            if fmt is not FeedFormat.JSON:  # JSON Feed's summary is plain text
                assert copied.summary_html == mine.summary_html

        # The next pass revalidates, and our 304 saves sending the feed again.
        ingest(second, second_config)
        assert second.source(copy.id).http_status == 304
        assert (
            server.hits("/ours/" + FeedScope.river().feed_path(fmt))[-1].headers["if-none-match"]
            == render_feed(load_feed(site.store, site.config, FeedScope.river()), fmt).etag
        )
        assert len(second.river(limit=100)) == len(ours)
