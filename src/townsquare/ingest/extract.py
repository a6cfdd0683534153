"""Extract: the whole article from a post's own page, for blogs whose feeds carry only
summaries (the curator turns it on per blog).

    clean | extract | filter | store

The page is fetched by the same guarded ``Fetcher`` as feeds (the network
guard, the size cap, the deadline), trafilatura finds the article in it, and
``clean.sanitize_html`` sanitises the result like any post.  The article
replaces the post's HTML and the feed's summary is kept as its summary.

Only posts that are new or changed since the last fetch are extracted (their
``content_hash``, the hash of what the feed said, is not stored yet), at most
``MAX_PAGES`` a fetch.  When a page cannot be fetched, or holds nothing longer than the
feed's summary, the post keeps the summary.
"""

from __future__ import annotations

from dataclasses import replace

from ..model import CleanPost, FetchOutcome, FetchResult
from .clean import sanitize_html, text_of

MAX_PAGES = 20  # pages fetched for one fetch of one blog
MAX_PAGE_BYTES = 3_000_000  # larger pages are not worth the extractor's time
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_LONG = 1_000_000


def is_article_page(result: FetchResult) -> bool:
    kind = (result.content_type or "text/html").split(";")[0].strip().lower()
    return (
        result.outcome is FetchOutcome.OK
        and kind in _HTML_TYPES
        and 0 < len(result.body) <= MAX_PAGE_BYTES
    )


def article_html(page: bytes, url: str) -> str | None:
    """The article in a web page, as sanitised HTML; None when there is none."""
    import trafilatura  # 17 MB and a tenth of a second: only for blogs that want it

    found = trafilatura.extract(
        page,
        url=url,
        output_format="html",
        include_comments=False,
        include_formatting=True,
        include_images=True,
        include_links=True,
        include_tables=True,
    )
    if not found:
        return None
    html = sanitize_html(found, url)
    return html if text_of(html) else None


def with_article(post: CleanPost, html: str) -> CleanPost:
    """The post with the article as its HTML and the feed's text as its summary; the post
    as it was when the "article" is no longer than the feed's text (a page of links)."""
    text = text_of(html)
    if len(text[:_LONG]) <= len(post.text[:_LONG]):
        return post
    return replace(
        post,
        content_utf8=html.encode(),
        summary_html=post.summary_html or post.content_html,
        text_utf8=text.encode(),
    )
