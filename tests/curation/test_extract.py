"""Full-article extraction for summary-only feeds: through the real pipeline, the pages
fetched from a real server by the guarded fetcher, the article sanitised like any post."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from conftest import FeedServer, Response
from helpers import run_pass
from townsquare.config import Config
from townsquare.store import Store

PARAGRAPHS = "".join(
    f"<p>Paragraph {n} of the article, with enough words in it to look like real writing "
    f"to the extractor, about services, people and the work of a team.</p>"
    for n in range(1, 6)
)


def page(title: str) -> bytes:
    return (
        "<!DOCTYPE html><html><head><title>" + title + "</title>"
        "<script>var tracker = 1;</script></head><body>"
        "<nav><a href='/'>Home</a> <a href='/about'>About us</a></nav>"
        f"<article><h1>{title}</h1>{PARAGRAPHS}"
        "<p><img src='/chart.png' alt='A chart' onerror='alert(1)'>"
        "<a href='javascript:alert(1)'>click</a> <a href='/more'>Read more</a></p>"
        "<script>alert('in the article')</script></article>"
        "<footer>Copyright and cookies</footer></body></html>"
    ).encode()


def feed(base: str, links: list[tuple[str, str]]) -> str:
    items = "".join(
        f"<item><title>{escape(t)}</title><link>{escape(link)}</link><guid>{escape(link)}</guid>"
        f"<pubDate>Fri, 06 Nov 2026 10:00:00 GMT</pubDate>"
        f"<description>The first line of {escape(t)}…</description></item>"
        for t, link in links
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Summaries</title>'
        f"<link>{base}/</link>{items}</channel></rss>"
    )


def _html(server: FeedServer, path: str, body: bytes) -> str:
    return server.respond(path, Response(200, body, {"Content-Type": "text/html; charset=utf-8"}))


def test_articles_replace_summaries_and_are_sanitised(
    server: FeedServer, store: Store, config: Config
) -> None:
    one = _html(server, "/posts/one", page("Post one"))
    url = server.feed("/feed", feed(server.base, [("Post one", one)]))
    source = store.add_source(url, "Summaries", now=datetime.now(UTC))
    store.update_source(source.id, extract_full=True)
    run_pass(store, config)
    post = store.river(limit=1)[0]
    assert "Paragraph 5 of the article" in post.content_html
    assert "The first line of Post one" in post.summary_html  # the feed's text, kept
    for unsafe in ("<script", "alert", "onerror", "javascript:", "tracker"):
        assert unsafe not in post.content_html
    assert f'src="{server.base}/chart.png"' in post.content_html  # made absolute
    assert "Copyright and cookies" not in post.content_html  # only the article
    assert "About us" not in post.content_html


def test_only_new_or_changed_posts_have_their_page_fetched(
    server: FeedServer, store: Store, config: Config
) -> None:
    one = _html(server, "/posts/one", page("Post one"))
    two = _html(server, "/posts/two", page("Post two"))
    url = server.feed("/feed", feed(server.base, [("Post one", one)]))
    source = store.add_source(url, "Summaries", now=datetime.now(UTC))
    store.update_source(source.id, extract_full=True)
    run_pass(store, config)
    server.feed("/feed", feed(server.base, [("Post two", two), ("Post one", one)]))
    report = run_pass(store, config, force=True)
    assert (report.new, report.updated, report.unchanged) == (1, 0, 1)
    assert len(server.hits("/posts/one")) == 1
    assert len(server.hits("/posts/two")) == 1
    assert all("Paragraph 5" in p.content_html for p in store.river(limit=5))


def test_a_page_that_cannot_be_used_leaves_the_summary(
    server: FeedServer, store: Store, config: Config
) -> None:
    missing = server.url("/posts/missing")  # 404
    pdf = server.respond(
        "/posts/pdf", Response(200, b"%PDF-1.4", {"Content-Type": "application/pdf"})
    )
    private = "http://10.1.2.3/posts/private"  # refused by the network guard
    empty = _html(server, "/posts/empty", b"<html><body><nav>Home</nav></body></html>")
    links = [("Missing", missing), ("A PDF", pdf), ("Private", private), ("Empty", empty)]
    url = server.feed("/feed", feed(server.base, links))
    source = store.add_source(url, "Summaries", now=datetime.now(UTC))
    store.update_source(source.id, extract_full=True)
    report = run_pass(store, config)
    assert report.new == 4 and report.failed == 0
    for post in store.river(limit=10):
        assert post.content_html == f"The first line of {post.title}…"
    assert not [r for r in server.requests if "10.1.2.3" in r.path]


def test_blogs_without_extraction_never_fetch_pages(
    server: FeedServer, store: Store, config: Config
) -> None:
    one = _html(server, "/posts/one", page("Post one"))
    store.add_source(
        server.feed("/feed", feed(server.base, [("Post one", one)])), "S", now=datetime.now(UTC)
    )
    run_pass(store, config)
    assert server.hits("/posts/one") == []
    assert store.river(limit=1)[0].content_html == "The first line of Post one…"
