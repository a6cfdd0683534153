"""Curation's costs (issue 9), each against what it adds to or a floor:

    python bench/curation.py                    # 200 feeds, 200 pages, 5,000 blogs
    python bench/curation.py --feeds 500 --blogs 10000 --out curation.json

1. **Filters** in the ingest path: ``filter_posts`` with three rules (a tag,
   words in the title, words in the text) over the posts of ``--feeds``
   corpus feeds (``corpus.py``), against ``parse | clean`` of the same feeds.
   The ratio is what filtering adds to a blog's fetch.
2. **Whole articles**: ``article_html`` (trafilatura, then our sanitiser) on
   ``--pages`` article pages (a corpus post inside site chrome), against
   trafilatura alone (the peer: what our sanitising adds) and against lxml
   parsing the page (the floor).
3. **Passwords**: one argon2id verification at our cost and at argon2-cffi's
   default cost.
4. **The admin area at scale**: a SQLite store with ``--blogs`` blogs, the
   website on uvicorn in a thread, one signed-in client: the list of blogs
   (``/admin/blogs``, 100 a page, every blog assessed) and the health page,
   against the public list of every blog (``/blogs``, rendered afresh).

Everything is in one process on 127.0.0.1; times are medians of repeated runs.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "src"), str(HERE)]

import lxml.html  # noqa: E402
import trafilatura  # noqa: E402
from argon2 import PasswordHasher  # noqa: E402

from corpus import render_feed  # noqa: E402
from townsquare.config import load  # noqa: E402
from townsquare.curation.passwords import _HASHER, hash_password  # noqa: E402
from townsquare.ingest.clean import clean_feed  # noqa: E402
from townsquare.ingest.extract import article_html  # noqa: E402
from townsquare.ingest.filter import filter_posts  # noqa: E402
from townsquare.ingest.parse import parse_feed  # noqa: E402
from townsquare.model import FilterAction, FilterField, PostFilter  # noqa: E402
from townsquare.store import open_store  # noqa: E402
from townsquare.web import create_app  # noqa: E402
from townsquare.web.serve import address, bind, server  # noqa: E402

SEED = 1
RULES = [
    PostFilter(1, 1, FilterAction.INCLUDE, FilterField.TAGS, ("work", "digital", "news")),
    PostFilter(2, 1, FilterAction.EXCLUDE, FilterField.TITLE, ("weeknote", "sprint")),
    PostFilter(3, 1, FilterAction.EXCLUDE, FilterField.TEXT, ("lorem ipsum", "casino")),
]


def best(fn: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def filters(feeds: int) -> dict[str, Any]:
    bodies = [render_feed(SEED, i)[1] for i in range(feeds)]
    now = datetime.now(UTC)

    def clean_all() -> list[Any]:
        return [
            clean_feed(parse_feed(b, f"https://b{i}.example/feed", None), now)
            for i, b in enumerate(bodies)
        ]

    cleaned = clean_all()
    posts = sum(len(p) for p in cleaned)
    clean_s = best(clean_all, 3)
    filter_s = best(lambda: [filter_posts(p, RULES) for p in cleaned])
    left_out = sum(1 for ps in cleaned for p in filter_posts(ps, RULES) if p.left_out)
    return {
        "feeds": feeds,
        "posts": posts,
        "left_out": left_out,
        "clean_s": clean_s,
        "filter_s": filter_s,
        "filter_per_post_us": filter_s / posts * 1e6,
        "filter_over_clean": filter_s / clean_s,
    }


def articles(pages: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    html_pages = []
    for i in range(pages):
        feed = parse_feed(render_feed(SEED, i)[1], f"https://b{i}.example/feed", None)
        post = clean_feed(feed, now)[0]
        html_pages.append(
            (
                "<!DOCTYPE html><html><head><title>x</title><script>var a=1</script></head><body>"
                "<nav><a href='/'>Home</a> <a href='/about'>About</a> <a href='/b'>Blog</a></nav>"
                f"<main><article><h1>{post.title}</h1>{post.content_html}</article></main>"
                "<aside><h2>Related</h2><ul><li><a href='/a'>A</a></li></ul></aside>"
                "<footer>© The team · Cookies · Privacy</footer></body></html>"
            ).encode()
        )
    url = "https://blog.example/post"
    ours = best(lambda: [article_html(p, url) for p in html_pages], 3)
    peer = best(
        lambda: [
            trafilatura.extract(
                p,
                url=url,
                output_format="html",
                include_formatting=True,
                include_images=True,
                include_links=True,
                include_tables=True,
            )
            for p in html_pages
        ],
        3,
    )
    floor = best(lambda: [lxml.html.document_fromstring(p) for p in html_pages], 3)
    return {
        "pages": pages,
        "ours_ms_per_page": ours / pages * 1000,
        "trafilatura_ms_per_page": peer / pages * 1000,
        "lxml_ms_per_page": floor / pages * 1000,
        "ours_over_trafilatura": ours / peer,
        "ours_over_lxml": ours / floor,
    }


def passwords() -> dict[str, Any]:
    secret = "correct horse battery staple"
    ours_hash = hash_password(secret)
    default = PasswordHasher()
    default_hash = default.hash(secret)
    ours = best(lambda: _HASHER.verify(ours_hash, secret))
    theirs = best(lambda: default.verify(default_hash, secret))
    return {
        "ours_ms": ours * 1000,
        "argon2_cffi_default_ms": theirs * 1000,
        "ours_over_default": ours / theirs,
    }


class _Client:
    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, fields: dict[str, str] | None = None) -> bytes:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = urlencode(fields) if fields is not None else None
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.split(";")[0].partition("=")
                self.cookies[key] = rest
        return data


def admin_pages(blogs: int) -> dict[str, Any]:
    import threading

    folder = Path(tempfile.mkdtemp(prefix="townsquare-bench-curation-"))
    config = load({"db": str(folder / "b.db")}, environ={})
    store = open_store(config.db)
    now = datetime.now(UTC)
    with store.db.transaction():
        for i in range(blogs):
            store.add_source(f"https://b{i}.example/feed", f"Blog number {i}", now=now)
    store.add_curator("ada", hash_password("correct horse battery staple"), now)
    sock = bind("127.0.0.1", 0)
    web = server(create_app(config, store, cache_size=0))
    thread = threading.Thread(target=web.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not web.started:
        time.sleep(0.01)
    client = _Client(address(sock))
    page = client.request("GET", "/admin/login").decode()
    token = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    client.request(
        "POST",
        "/admin/login",
        {"csrf": token, "username": "ada", "password": "correct horse battery staple"},
    )
    out: dict[str, Any] = {"blogs": blogs}
    for name, path in (
        ("admin_blogs", "/admin/blogs?sort=state"),
        ("admin_health", "/admin/health"),
        ("public_blogs", "/blogs"),
    ):
        out[name + "_ms"] = best(lambda p=path: client.request("GET", p), 7) * 1000
    out["admin_blogs_over_public_blogs"] = out["admin_blogs_ms"] / out["public_blogs_ms"]
    web.should_exit = True
    thread.join(10)
    store.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--blogs", type=int, default=5000)
    parser.add_argument("--out", help="write the figures here as JSON")
    args = parser.parse_args(argv)
    results = {
        "filters": filters(args.feeds),
        "articles": articles(args.pages),
        "passwords": passwords(),
        "admin": admin_pages(args.blogs),
    }
    for part, figures in results.items():
        print(part)
        for key, value in figures.items():
            shown = f"{value:,.3f}" if isinstance(value, float) else f"{value:,}"
            print(f"  {key:32} {shown}")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2), "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
