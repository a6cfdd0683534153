"""The OpenAPI 3.1 document of the JSON API, served at ``/api/openapi.json``."""

from __future__ import annotations

from typing import Any

from .. import __version__
from ..config import Config

_URL = {"type": "string", "format": "uri"}
_NULLABLE_URL = {"type": ["string", "null"], "format": "uri"}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
_STRINGS = {"type": "array", "items": {"type": "string"}}


def _object(properties: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "required": list(properties),
        "properties": properties,
        "additionalProperties": False,
    }


SCHEMAS: dict[str, Any] = {
    "Post": _object(
        {
            "id": {"type": "integer"},
            "title": {"type": "string"},
            "link": {**_NULLABLE_URL, "description": "The original post."},
            "url": {**_URL, "description": "The post's page on this site."},
            "author": {"type": ["string", "null"]},
            "published": {"type": "string", "format": "date-time"},
            "updated": _NULLABLE_TIME,
            "blog": _object(
                {
                    "slug": {"type": "string"},
                    "title": {"type": "string"},
                    "site_url": _NULLABLE_URL,
                },
                "The blog the post comes from.",
            ),
            "categories": {**_STRINGS, "description": "The blog's categories."},
            "tags": {**_STRINGS, "description": "The post's own tags, from its feed."},
            "content_html": {
                "type": ["string", "null"],
                "description": "The whole post as sanitised HTML; null when the blog asks "
                "for excerpts only.",
            },
            "excerpt": {
                "type": ["string", "null"],
                "description": "Plain text, when the blog asks for excerpts only.",
            },
        },
        "One post, as shown in the river.",
    ),
    "PostPage": _object(
        {
            "posts": {"type": "array", "items": {"$ref": "#/components/schemas/Post"}},
            "page": {"type": "integer", "minimum": 1},
            "previous": {"type": ["string", "null"], "description": "The newer page."},
            "next": {"type": ["string", "null"], "description": "The older page."},
        },
        "One page of posts, newest first.",
    ),
    "SearchResult": _object(
        {
            "post": {"$ref": "#/components/schemas/Post"},
            "title_html": {
                "type": "string",
                "description": "The title as HTML: escaped, with each match in <mark>.",
            },
            "snippet_html": {
                "type": "string",
                "description": "A passage of the post (about 32 words) as HTML: escaped, with "
                "each match in <mark>.",
            },
            "snippet": {"type": "string", "description": "The same passage as plain text."},
        },
        "One post a search found.",
    ),
    "SearchPage": _object(
        {
            "query": {"type": "string", "description": "What was searched for."},
            "sort": {"enum": ["relevance", "date"]},
            "total": {"type": "integer", "minimum": 0},
            "total_is_exact": {
                "type": "boolean",
                "description": "False when more than `total` posts match (5,000).",
            },
            "searched_since": {
                **_NULLABLE_TIME,
                "description": "When set, only posts published since then were searched "
                "(an exact phrase of very common words), and `total` counts their matches.",
            },
            "page": {"type": "integer", "minimum": 1},
            "pages": {"type": "integer", "minimum": 1, "maximum": 250},
            "results": {"type": "array", "items": {"$ref": "#/components/schemas/SearchResult"}},
            "previous": {"type": ["string", "null"]},
            "next": {"type": ["string", "null"]},
            "feed": {**_URL, "description": "An Atom feed of the newest posts that match."},
        },
        "One page of search results, 20 a page.",
    ),
    "Blog": _object(
        {
            "slug": {"type": "string"},
            "title": {"type": "string"},
            "site_url": _NULLABLE_URL,
            "feed_url": _URL,
            "categories": _STRINGS,
            "excerpts_only": {"type": "boolean"},
            "posts": {"type": "integer", "minimum": 0},
            "latest_post": _NULLABLE_TIME,
            "url": _URL,
            "status_url": _URL,
        },
        "One blog and how much of it is shown.",
    ),
    "Category": _object(
        {
            "slug": {"type": "string"},
            "name": {"type": "string"},
            "blogs": {"type": "integer", "minimum": 0},
            "url": _URL,
        },
        "A curator's grouping of blogs.",
    ),
    "Error": _object(
        {
            "error": _object(
                {"status": {"type": "integer"}, "message": {"type": "string"}},
                "What went wrong, in plain words.",
            )
        },
        "Every error has this shape.",
    ),
}


def _ok(schema: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _list(key: str, schema: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": [key],
                    "properties": {
                        key: {"type": "array", "items": {"$ref": f"#/components/schemas/{schema}"}}
                    },
                }
            }
        },
    }


_ERROR = _ok("Error", "Not found, or a bad parameter.")
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
_SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}


def document(config: Config) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{config.site_name} API",
            "version": __version__,
            "description": config.site_description,
        },
        "servers": [{"url": config.base_url.rstrip("/") + "/api"}],
        "paths": {
            "/posts": {
                "get": {
                    "operationId": "listPosts",
                    "summary": "Visible posts, newest first, 50 a page",
                    "parameters": [
                        {
                            "name": "page",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "default": 1},
                        },
                        {"name": "blog", "in": "query", "schema": {"type": "string"}},
                        {"name": "category", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": _ok("PostPage", "A page of posts."),
                        "400": _ERROR,
                        "404": _ERROR,
                    },
                }
            },
            "/posts/{id}": {
                "get": {
                    "operationId": "getPost",
                    "summary": "One post",
                    "parameters": [_ID],
                    "responses": {"200": _ok("Post", "The post."), "404": _ERROR},
                }
            },
            "/blogs": {
                "get": {
                    "operationId": "listBlogs",
                    "summary": "Every blog, by name",
                    "responses": {"200": _list("blogs", "Blog", "The blogs.")},
                }
            },
            "/blogs/{slug}": {
                "get": {
                    "operationId": "getBlog",
                    "summary": "One blog",
                    "parameters": [_SLUG],
                    "responses": {"200": _ok("Blog", "The blog."), "404": _ERROR},
                }
            },
            "/categories": {
                "get": {
                    "operationId": "listCategories",
                    "summary": "Every category, in the curator's order",
                    "responses": {"200": _list("categories", "Category", "The categories.")},
                }
            },
            "/search": {
                "get": {
                    "operationId": "search",
                    "summary": "Search every blog's posts, best match first, 20 a page",
                    "description": "The same search as the website's search page: words, "
                    '"exact phrases", -excluded words, blog:, category:, author:, after: and '
                    "before: (see the site's /search page). No text is an error; an empty "
                    "query finds nothing.",
                    "parameters": [
                        {"name": "q", "in": "query", "schema": {"type": "string"}},
                        {
                            "name": "sort",
                            "in": "query",
                            "schema": {"enum": ["relevance", "date"]},
                            "description": "Overrides a sort: in the query.",
                        },
                        {
                            "name": "page",
                            "in": "query",
                            "schema": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": 250,
                                "default": 1,
                            },
                        },
                    ],
                    "responses": {
                        "200": _ok("SearchPage", "A page of results."),
                        "400": _ERROR,
                        "404": _ERROR,
                        "503": _ok("Error", "Too many searches at once: try again shortly."),
                    },
                }
            },
        },
        "components": {"schemas": SCHEMAS},
    }
