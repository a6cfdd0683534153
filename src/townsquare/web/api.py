"""The JSON API: posts, blogs, categories and search, as described by ``openapi.py``.

Answers go through the same cache, validators and compression as the pages.
Errors have one shape, ``{"error": {"status": 404, "message": "..."}}``
(made in ``app.py``).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from ..errors import InputError, NotFoundError
from ..model import Category, Post, Source
from ..publish.paths import FeedFormat, FeedScope
from .content import excerpt
from .index import SiteIndex
from .openapi import document
from .responses import JSON, Rendered
from .search import last_page, read_address, run_search, searching
from .site import Site

PAGE_SIZE = 50
_PAGE = re.compile(r"[1-9][0-9]{0,6}")


def _site(request: Request) -> Site:
    site: Site = request.app.state.site
    return site


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _json(value: object, last_modified: datetime | None = None) -> Rendered:
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Rendered.of(body, JSON, last_modified=last_modified)


def _absolute(site: Site, path: str) -> str:
    return site.paths.absolute(path)


def post_json(site: Site, index: SiteIndex, post: Post) -> dict[str, Any]:
    blog = index.blog(post.source_id)
    return {
        "id": post.id,
        "title": post.title,
        "link": post.link,
        "url": _absolute(site, site.paths.post(post)),
        "author": post.author,
        "published": _iso(post.published),
        "updated": _iso(post.updated),
        "blog": {"slug": blog.slug, "title": blog.title, "site_url": blog.site_url},
        "categories": list(blog.categories),
        "tags": list(post.categories),
        "content_html": None if blog.excerpts_only else post.content_html,
        "excerpt": excerpt(post) if blog.excerpts_only else None,
    }


def blog_json(site: Site, index: SiteIndex, blog: Source) -> dict[str, Any]:
    activity = index.activity.get(blog.id)
    return {
        "slug": blog.slug,
        "title": blog.title,
        "site_url": blog.site_url,
        "feed_url": blog.url,
        "categories": list(blog.categories),
        "excerpts_only": blog.excerpts_only,
        "posts": activity.posts if activity else 0,
        "latest_post": _iso(activity.latest) if activity else None,
        "url": _absolute(site, site.paths.blog(blog.slug)),
        "status_url": _absolute(site, site.paths.blog_status(blog.slug)),
    }


def category_json(site: Site, index: SiteIndex, category: Category) -> dict[str, Any]:
    return {
        "slug": category.slug,
        "name": category.name,
        "blogs": len(index.blogs_in(category)),
        "url": _absolute(site, site.paths.category(category.slug)),
    }


def _page(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    if not _PAGE.fullmatch(raw):
        raise InputError(f"bad page number {raw!r}: give a whole number from 1")
    return int(raw)


async def posts(request: Request) -> Response:
    site = _site(request)
    page = _page(request)
    blog_slug = request.query_params.get("blog")
    category_slug = request.query_params.get("category")

    def link(number: int) -> str:
        query = [f"page={number}"]
        if blog_slug:
            query.append(f"blog={blog_slug}")
        if category_slug:
            query.append(f"category={category_slug}")
        return site.paths.api("posts") + "?" + "&".join(query)

    def build(index: SiteIndex, modified: datetime) -> Rendered:
        source_id = index.blog_by_slug(blog_slug).id if blog_slug else None
        category_id = index.category_by_slug(category_slug).id if category_slug else None
        found = site.store.river(
            limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE,
            source_id=source_id, category_id=category_id,
        )  # fmt: skip
        if not found and page > 1:
            raise NotFoundError(f"no page {page}: there are fewer posts than that")
        return _json(
            {
                "posts": [post_json(site, index, p) for p in found[:PAGE_SIZE]],
                "page": page,
                "previous": link(page - 1) if page > 1 else None,
                "next": link(page + 1) if len(found) > PAGE_SIZE else None,
            },
            modified,
        )

    return await site.cached(request, build)


async def post(request: Request) -> Response:
    site = _site(request)
    post_id = request.path_params["id"]

    def build(index: SiteIndex, modified: datetime) -> Rendered:
        return _json(post_json(site, index, site.store.post(post_id)), modified)

    return await site.cached(request, build)


async def blogs(request: Request) -> Response:
    site = _site(request)

    def build(index: SiteIndex, modified: datetime) -> Rendered:
        return _json({"blogs": [blog_json(site, index, b) for b in index.listed]}, modified)

    return await site.cached(request, build)


async def blog(request: Request) -> Response:
    site = _site(request)
    slug = request.path_params["slug"]

    def build(index: SiteIndex, modified: datetime) -> Rendered:
        return _json(blog_json(site, index, index.blog_by_slug(slug)), modified)

    return await site.cached(request, build)


async def categories(request: Request) -> Response:
    site = _site(request)

    def build(index: SiteIndex, modified: datetime) -> Rendered:
        return _json(
            {"categories": [category_json(site, index, c) for c in index.categories]}, modified
        )

    return await site.cached(request, build)


async def search(request: Request) -> Response:
    """A page of search results: the same search as the page at ``/search``."""
    site = _site(request)
    asked = read_address(request, strict=True)

    def link(number: int) -> str:
        query = {"q": asked.text, **({"sort": asked.sort.value} if asked.sort else {})}
        return site.paths.api("search") + "?" + urlencode({**query, "page": number})

    def build(index: SiteIndex, modified: datetime) -> Rendered:
        results = run_search(site, asked)
        last = last_page(results)
        if asked.page > last and asked.page > 1:
            raise NotFoundError(f"no page {asked.page}: the results end at page {last}")
        feed = site.paths.feed(FeedScope.search(asked.text), FeedFormat.ATOM)
        return _json(
            {
                "query": asked.text,
                "sort": results.sort.value,
                "total": results.total,
                "total_is_exact": results.total_is_exact,
                "searched_since": _iso(results.searched_since),
                "page": asked.page,
                "pages": last,
                "results": [
                    {
                        "post": post_json(site, index, hit.post),
                        "title_html": hit.title_html,
                        "snippet_html": hit.snippet_html,
                        "snippet": hit.snippet_text,
                    }
                    for hit in results.hits
                ],
                "previous": link(asked.page - 1) if asked.page > 1 else None,
                "next": link(asked.page + 1) if asked.page < last else None,
                "feed": _absolute(site, feed),
            }
        )

    return await searching(request, build)


async def openapi(request: Request) -> Response:
    site = _site(request)

    def build(index: SiteIndex, modified: datetime) -> Rendered:
        return _json(document(site.config), modified)

    return await site.cached(request, build)
