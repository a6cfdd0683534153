"""The search page: what a reader typed, to a page of results.

    GET /search                                   the form, and a guide to what it understands
    GET /search?q=…&sort=relevance|date&page=N    a page of results, 20 a page

The search is ``townsquare.search.search``, the same as the command line's,
the API's (``api.py``) and the search feeds' (``feeds.py``).  Reading the
address never fails here: a page that is not a number is page 1, an unknown
sort is the query's own (or best match); the API is strict about both.
Pages stop at ``MAX_PAGES``: the count is exact up to ``RANK_WINDOW``
matches, and best match ranks no more than those.  A page past the last has
the 404 status and says where the last one is.

Searches are not kept in the page cache (every query is an address of its
own, and they would push the site's pages out).  A search reads the store's
revision and the site's index (kept per revision), then searches: nothing
else.  Only ``SEARCHES_AT_ONCE`` run at once in a process (``Site.searches``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from ..errors import InputError
from ..model import Source
from ..publish.feeds import feed_title
from ..publish.paths import FeedScope
from ..search import PER_PAGE, SearchHit, SearchResults, Sort, search
from ..search.query import MAX_QUERY_LENGTH
from ..store.search import RANK_WINDOW
from .index import SiteIndex
from .responses import Rendered, send
from .site import Site
from .views import FeedLink, feed_links

MAX_PAGES = RANK_WINDOW // PER_PAGE
_PAGE = re.compile(r"[1-9][0-9]{0,6}")
_SORTS = {s.value: s for s in Sort}


@dataclass(frozen=True, slots=True)
class Asked:
    """What an address asks for."""

    text: str  # the query, tidied (``tidy``)
    sort: Sort | None  # None: as the query says, or best match
    page: int


def tidy(text: str) -> str:
    """The query as typed, less control characters (no feed could hold them) and the
    spaces at its ends, cut to the length ``parse_query`` reads."""
    kept = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    return kept.strip()[:MAX_QUERY_LENGTH].strip()


def read_address(request: Request, *, strict: bool) -> Asked:
    """``q``, ``sort`` and ``page``.  ``strict`` (the API): a bad page number or sort is an
    ``InputError``; otherwise it is ignored."""
    params = request.query_params
    raw_page, raw_sort = params.get("page", "1"), params.get("sort", "")
    page = int(raw_page) if _PAGE.fullmatch(raw_page) else None
    sort = _SORTS.get(raw_sort)
    if strict and page is None:
        raise InputError(f"bad page number {raw_page[:20]!r}: give a whole number from 1")
    if strict and raw_sort and sort is None:
        raise InputError(f"bad sort {raw_sort[:20]!r}: give relevance or date")
    return Asked(tidy(params.get("q", "")), sort, page or 1)


def run_search(site: Site, asked: Asked) -> SearchResults:
    """The page asked for; nothing past page ``MAX_PAGES`` + 1 is looked at."""
    return search(site.store, asked.text, sort=asked.sort, page=min(asked.page, MAX_PAGES + 1))


def last_page(results: SearchResults) -> int:
    return min(results.pages, MAX_PAGES)


def search_feeds(site: Site, text: str) -> list[FeedLink]:
    title = feed_title(site.config.site_name, f"Search: {text}")
    return feed_links(site.paths, FeedScope.search(text), title)


async def searching(request: Request, build: Callable[[SiteIndex, datetime], Rendered]) -> Response:
    """Answer with what ``build`` makes, when it is this search's turn (``Site.searches``)."""
    site: Site = request.app.state.site
    async with site.searches.turn():
        rendered = await site.render_now(build)
    return send(request, rendered)


# --- the page -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Result:
    """One result as the page shows it."""

    hit: SearchHit
    blog: Source
    url: str  # the post's page on this site
    title: Markup  # escaped, with matches in <mark> (search/highlight.py)
    snippet: Markup


@dataclass(frozen=True, slots=True)
class Pages:
    number: int
    last: int
    previous: str | None
    next: str | None


def search_page(site: Site, index: SiteIndex, asked: Asked, results: SearchResults | None) -> bytes:
    """The form and its guide (``results`` None), or the form and a page of results."""
    if results is None:
        return site.renderer.html("search.html", title="Search", section="search", q="", sort=None)
    paths = site.paths
    sort = asked.sort.value if asked.sort else None
    last = last_page(results)
    number = asked.page
    past = number > last

    def link(page: int) -> str:
        return paths.search(asked.text, sort=sort, page=page)

    items = [
        Result(
            hit=hit,
            blog=index.blog(hit.post.source_id),
            url=paths.post(hit.post),
            # search.highlight escaped the text; the only markup it adds is <mark>.
            title=Markup(hit.title_html),
            snippet=Markup(hit.snippet_html),
        )
        for hit in ([] if past else results.hits)
    ]
    pages = Pages(
        number=number,
        last=last,
        previous=link(number - 1) if 1 < number <= last else None,
        next=link(number + 1) if number < last else None,
    )
    sorts = [
        (label, paths.search(asked.text, sort=value.value), value is results.sort)
        for label, value in (("Best match", Sort.RELEVANCE), ("Newest", Sort.DATE))
    ]
    since = results.searched_since
    older = None
    if since is not None:  # the same search, before where it stopped
        older = paths.search(f"{asked.text} before:{since.date().isoformat()}", sort=sort)
    title = f"{asked.text} – Search"
    if number > 1:
        title += f" (page {number})"
    return site.renderer.html(
        "search.html", title=title, section="search", q=asked.text, sort=sort, results=results,
        items=items, pages=pages, past=past, last_url=link(last), count=results.count_text,
        sorts=sorts, first=(number - 1) * results.per_page + 1, older=older,
        feeds=search_feeds(site, asked.text),
    )  # fmt: skip


async def page(request: Request) -> Response:
    site: Site = request.app.state.site
    asked = read_address(request, strict=False)

    def build(index: SiteIndex, modified: datetime) -> Rendered:
        if not asked.text:
            return Rendered.of(search_page(site, index, asked, None))
        results = run_search(site, asked)
        status = 404 if results.total and asked.page > last_page(results) else 200
        return Rendered.of(search_page(site, index, asked, results), status=status)

    if not asked.text:
        return await site.fresh(request, build)
    return await searching(request, build)
