"""The measured processes of the ingest benchmark (run by ingest.py, one per step).

Each subcommand does one step and prints one JSON object on stdout; the parent
measures the process (wall time, peak RSS, CPU) with ``os.wait4``.

    workers.py reader-setup  --db DB --urls FILE
    workers.py reader-update --db DB --workers W
    workers.py reader-search --db DB
    workers.py floor --urls FILE [--concurrency C]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any


def _urls(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line]


# -- reader -------------------------------------------------------------------


def reader_setup(db: Path, urls_file: Path) -> dict[str, Any]:
    from reader import make_reader

    urls = _urls(urls_file)
    t0 = time.perf_counter()
    r = make_reader(str(db))
    for url in urls:
        r.add_feed(url, exist_ok=True)
    r.close()
    return {"feeds": len(urls), "elapsed_s": time.perf_counter() - t0}


def reader_update(db: Path, workers: int) -> dict[str, Any]:
    import reader
    from reader import make_reader

    t0 = time.perf_counter()
    r = make_reader(str(db))
    outcomes: Counter[str] = Counter()
    new = modified = 0
    errors: list[str] = []
    t1 = time.perf_counter()
    # scheduled=False: the second pass comes straight after the first, so
    # with scheduling reader would not fetch anything at all.
    for res in r.update_feeds_iter(scheduled=False, workers=workers):
        v = res.value
        if v is None:
            outcomes["not_modified"] += 1
        elif isinstance(v, reader.ReaderError):
            outcomes["error"] += 1
            if len(errors) < 5:
                errors.append(f"{res.url}: {v!r}")
        else:
            outcomes["updated"] += 1
            new += v.new
            modified += v.modified
    update_s = time.perf_counter() - t1
    counts = r.get_entry_counts()
    r.close()
    return {
        "workers": workers,
        "update_s": update_s,
        "elapsed_s": time.perf_counter() - t0,
        "outcomes": dict(outcomes),
        "new_entries": new,
        "modified_entries": modified,
        "entries_in_db": counts.total,
        "errors": errors,
        "reader_version": reader.__version__,
    }


def reader_search(db: Path) -> dict[str, Any]:
    """reader's full-text search index over every entry stored: what reader needs to
    add to its first pass to search as Townsquare's first pass can."""
    import reader
    from reader import make_reader

    t0 = time.perf_counter()
    r = make_reader(str(db))
    r.enable_search()
    t1 = time.perf_counter()
    r.update_search()
    search_s = time.perf_counter() - t1
    found = r.search_entry_counts("database").total
    r.close()
    return {
        "search_s": search_s,
        "elapsed_s": time.perf_counter() - t0,
        "found_database": found,
        "reader_version": reader.__version__,
    }


# -- the floor ----------------------------------------------------------------

CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
ATOM_CONTENT = "{http://www.w3.org/2005/Atom}content"


async def _fetch_all(
    urls: list[str], concurrency: int, etags: dict[str, str] | None, timeout: float
) -> tuple[dict[str, tuple[int, bytes, str]], list[str]]:
    import aiohttp

    out: dict[str, tuple[int, bytes, str]] = {}
    errors: list[str] = []
    conn = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    async with aiohttp.ClientSession(
        connector=conn, timeout=aiohttp.ClientTimeout(total=timeout)
    ) as session:

        async def one(url: str) -> None:
            headers = {"If-None-Match": etags[url]} if etags and url in etags else {}
            try:
                async with session.get(url, headers=headers) as resp:
                    body = await resp.read()
                    out[url] = (resp.status, body, resp.headers.get("ETag", ""))
            except (aiohttp.ClientError, TimeoutError) as e:
                errors.append(f"{url}: {e!r}")

        await asyncio.gather(*(one(u) for u in urls))
    return out, errors


def floor(urls_file: Path, concurrency: int, timeout: float) -> dict[str, Any]:
    import nh3
    from lxml import etree

    urls = _urls(urls_file)

    t0 = time.perf_counter()
    bodies, fetch_errors = asyncio.run(_fetch_all(urls, concurrency, None, timeout))
    fetch_s = time.perf_counter() - t0
    status = Counter(s for s, _, _ in bodies.values())
    nbytes = sum(len(b) for _, b, _ in bodies.values())

    # Parse every body and pull out the post bodies (the HTML to sanitize).
    t0 = time.perf_counter()
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    htmls: list[str] = []
    parse_errors: list[str] = []
    for url, (st, body, _) in bodies.items():
        if st != 200:
            continue
        try:
            if url.endswith(".json"):
                doc = json.loads(body)
                htmls.extend(item.get("content_html", "") for item in doc.get("items", ()))
            else:
                root = etree.fromstring(body, parser)
                htmls.extend(el.text or "" for el in root.iter(CONTENT_ENCODED, ATOM_CONTENT))
        except (ValueError, etree.XMLSyntaxError) as e:
            parse_errors.append(f"{url}: {e!r}")
    parse_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    cleaned = 0
    for h in htmls:
        cleaned += len(nh3.clean(h))
    sanitize_s = time.perf_counter() - t0

    # The unchanged pass: every request conditional, every answer a 304.
    etags = {url: et for url, (st, _, et) in bodies.items() if st == 200 and et}
    t0 = time.perf_counter()
    again, again_errors = asyncio.run(_fetch_all(urls, concurrency, etags, timeout))
    unchanged_s = time.perf_counter() - t0

    return {
        "concurrency": concurrency,
        "fetch_s": fetch_s,
        "parse_s": parse_s,
        "sanitize_s": sanitize_s,
        "first_pass_s": fetch_s + parse_s + sanitize_s,
        "unchanged_pass_s": unchanged_s,
        "status": {str(k): v for k, v in status.items()},
        "unchanged_status": {
            str(k): v for k, v in Counter(s for s, _, _ in again.values()).items()
        },
        "bytes": nbytes,
        "posts": len(htmls),
        "html_bytes": sum(len(h) for h in htmls),
        "cleaned_bytes": cleaned,
        "errors": (fetch_errors + parse_errors + again_errors)[:5],
        "n_errors": len(fetch_errors) + len(parse_errors) + len(again_errors),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("reader-setup")
    s.add_argument("--db", type=Path, required=True)
    s.add_argument("--urls", type=Path, required=True)
    u = sub.add_parser("reader-update")
    u.add_argument("--db", type=Path, required=True)
    u.add_argument("--workers", type=int, default=1)
    r = sub.add_parser("reader-search")
    r.add_argument("--db", type=Path, required=True)
    f = sub.add_parser("floor")
    f.add_argument("--urls", type=Path, required=True)
    f.add_argument("--concurrency", type=int, default=256)
    f.add_argument("--timeout", type=float, default=600.0)
    a = ap.parse_args(argv)
    if a.cmd == "reader-setup":
        result = reader_setup(a.db, a.urls)
    elif a.cmd == "reader-update":
        result = reader_update(a.db, a.workers)
    elif a.cmd == "reader-search":
        result = reader_search(a.db)
    else:
        result = floor(a.urls, a.concurrency, a.timeout)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
