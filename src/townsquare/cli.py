"""The command line: parse arguments, call the core, print.

Errors are one line on standard error naming the problem and what to do;
exit status 1 for an error, 2 for a usage mistake.  ``fetch`` exits 0 when
the pass completed, even if some blogs failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from . import __version__
from .config import Config, default_value, load
from .errors import InputError, TownsquareError
from .ingest.clean import plain_text
from .ingest.discover import discover
from .ingest.fetch import Fetcher
from .ingest.pipeline import Ingest, PassReport
from .model import Post, Source
from .opml import read_opml
from .publish.opml import blogs_opml, category_opml
from .publish.static_site import build_site
from .store import Store, open_store
from .text import long_date

Handler = Callable[[argparse.Namespace, Config], int]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _source_json(s: Source) -> dict[str, Any]:
    return {
        "id": s.id,
        "url": s.url,
        "site_url": s.site_url,
        "title": s.title,
        "slug": s.slug,
        "categories": list(s.categories),
        "enabled": s.enabled,
        "excerpts_only": s.excerpts_only,
        "status": s.status.value,
        "http_status": s.http_status,
        "last_error": s.last_error,
        "consecutive_failures": s.consecutive_failures,
        "last_fetched_at": _iso(s.last_fetched_at),
        "last_success_at": _iso(s.last_success_at),
        "next_due_at": _iso(s.next_due_at),
        "disabled_reason": s.disabled_reason,
    }


def _post_json(p: Post) -> dict[str, Any]:
    return {
        "id": p.id,
        "source_id": p.source_id,
        "source_title": p.source_title,
        "title": p.title,
        "link": p.link,
        "author": p.author,
        "published": _iso(p.published),
        "updated": _iso(p.updated),
        "first_seen": _iso(p.first_seen),
        "categories": list(p.categories),
        "content_html": p.content_html,
    }


def _print_json(value: object) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


class ProgressBar:
    """A one-line progress bar on a terminal; silent elsewhere."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr  # looked up now: it may have been redirected
        self.enabled = self.stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total == 0:
            return
        width = 30
        filled = width * done // total
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done == total:
            self.stream.write("\n")
        self.stream.flush()


# --- commands ---------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace, config: Config) -> int:
    with open_store(config.db):
        pass
    print(f"Database ready: {config.db}")
    return 0


def cmd_add(args: argparse.Namespace, config: Config) -> int:
    with open_store(config.db) as store:
        if store.source_by_url(args.url) is not None:
            existing = store.source_by_url(args.url)
            assert existing is not None
            raise InputError(
                f"blog already listed: {args.url!r} is '{existing.title}' (id {existing.id})"
            )

        async def find() -> Any:
            async with Fetcher(config) as fetcher:
                return await discover(fetcher, args.url)

        found = asyncio.run(find())
        title = plain_text(args.title, is_html=False) if args.title else found.title
        print(f"Found {title} ({found.format} feed at {found.feed_url})")
        for post in found.posts[:3]:
            date = long_date(post.published) if post.published else "undated"
            print(f"  {date}  {post.title}")
        if not found.posts:
            print("  (the feed has no posts yet)")
        source = store.add_source(
            found.feed_url,
            title,
            site_url=found.site_url,
            categories=args.category or (),
            now=datetime.now().astimezone(),
        )
    print(f"Added blog {source.id}: {source.title}")
    return 0


def cmd_remove(args: argparse.Namespace, config: Config) -> int:
    with open_store(config.db) as store:
        source = store.find_source(args.source)
        store.remove_source(source.id)
    print(f"Removed blog {source.id}: {source.title} (and its posts)")
    return 0


def cmd_sources(args: argparse.Namespace, config: Config) -> int:
    with open_store(config.db) as store:
        sources = store.sources()
    if args.json:
        _print_json([_source_json(s) for s in sources])
        return 0
    if not sources:
        print("No blogs yet. Add one with: townsquare add URL")
        return 0
    for s in sources:
        state = (
            s.status.value if s.enabled else f"disabled ({s.disabled_reason or 'by the curator'})"
        )
        print(f"{s.id:>5}  {s.title}  <{s.url}>  {state}")
        if s.last_error:
            print(f"       last error: {s.last_error}")
    return 0


def cmd_categories(args: argparse.Namespace, config: Config) -> int:
    with open_store(config.db) as store:
        categories = store.categories()
    if args.json:
        _print_json(
            [
                {"id": c.id, "name": c.name, "slug": c.slug, "blogs": c.source_count}
                for c in categories
            ]
        )
        return 0
    if not categories:
        print("No categories yet. Add a blog with: townsquare add URL --category NAME")
    for c in categories:
        print(f"{c.name} ({c.source_count} blog{'s' if c.source_count != 1 else ''})")
    return 0


def _run_pass(store: Store, config: Config, **kwargs: Any) -> PassReport:
    ingest = Ingest(store, config)
    try:
        return asyncio.run(ingest.run_pass(**kwargs))
    finally:
        ingest.close()


def _fetch_summary(report: PassReport) -> str:
    n = len(report.sources)
    return (
        f"Fetched {n} blog{'s' if n != 1 else ''} in {report.seconds:.1f} s: "
        f"{report.new} new, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.failed} failed"
    )


def cmd_fetch(args: argparse.Namespace, config: Config) -> int:
    with open_store(config.db) as store:
        ids = None
        if args.source:
            ids = [store.find_source(key).id for key in args.source]
        report = _run_pass(
            store, config, source_ids=ids, force=args.all, progress=ProgressBar("Fetching")
        )
    if args.json:
        _print_json(
            {
                "new": report.new,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "failed": report.failed,
                "seconds": round(report.seconds, 3),
                "sources": [
                    {
                        "id": r.source_id,
                        "title": r.title,
                        "url": r.url,
                        "outcome": r.outcome,
                        "new": r.new,
                        "updated": r.updated,
                        "unchanged": r.unchanged,
                        "error": r.error,
                    }
                    for r in sorted(report.sources, key=lambda r: r.source_id)
                ],
            }
        )
        return 0
    for r in sorted(report.sources, key=lambda r: r.source_id):
        if r.error:
            print(f"  failed: {r.title} <{r.url}>: {r.error}")
    print(_fetch_summary(report))
    if not report.sources:
        print("No blogs were due. Use 'townsquare fetch --all' to fetch every blog now.")
    return 0


def cmd_worker(args: argparse.Namespace, config: Config) -> int:
    from . import logs, metrics

    async def work(ingest: Ingest) -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        return await ingest.work(stop, batch=args.batch, idle=args.idle, once=args.once)

    logs.setup()
    with open_store(config.db) as store:
        if args.metrics_port is not None:
            try:
                port = metrics.serve_process_metrics(config.host, args.metrics_port)
            except OSError as exc:
                raise InputError(
                    f"cannot serve metrics on {config.host}:{args.metrics_port}: {exc.strerror}"
                ) from None
            print(f"Metrics at http://{config.host}:{port}/metrics", flush=True)
        ingest = Ingest(store, config)
        try:
            fetched = asyncio.run(work(ingest))
        finally:
            ingest.close()
    print(f"Worker stopped after fetching {fetched} blog{'s' if fetched != 1 else ''}")
    return 0


def _print_river(posts: list[Post]) -> None:
    out = sys.stdout
    for post in posts:
        byline = " · ".join(
            x for x in (post.source_title, long_date(post.published), post.author) if x
        )
        out.write(f"\n{post.title}\n{byline}\n")
        text = plain_text(post.content_html, limit=280)
        if text:
            out.write(f"  {text}\n")
        out.write(f"  Original source – {post.source_title}: {post.link or '(no link)'}\n")


def cmd_posts(args: argparse.Namespace, config: Config) -> int:
    with open_store(config.db) as store:
        posts = store.river(limit=args.limit)
    if args.json:
        _print_json([_post_json(p) for p in posts])
    elif not posts:
        print("No posts yet. Fetch them with: townsquare fetch")
    else:
        _print_river(posts)
    return 0


def cmd_import_opml(args: argparse.Namespace, config: Config) -> int:
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read '{path}': {exc.strerror}") from None
    feeds = read_opml(data, where=f"'{path}'")
    added = skipped = 0
    now = datetime.now().astimezone()
    with open_store(config.db) as store:
        for feed in feeds:
            if store.source_by_url(feed.url) is not None:
                skipped += 1
                continue
            title = feed.title or feed.url
            store.add_source(
                feed.url, title, site_url=feed.site_url, categories=feed.categories, now=now
            )
            added += 1
    print(
        f"Imported {added} blog{'s' if added != 1 else ''} from '{path}' ({skipped} already listed)"
    )
    return 0


def cmd_export_opml(args: argparse.Namespace, config: Config) -> int:
    with open_store(config.db) as store:
        if args.category:
            listing = category_opml(store, config, args.category)
        else:
            listing = blogs_opml(store, config)
    if args.output is None:
        sys.stdout.write(listing.body.decode("utf-8"))
        return 0
    path = Path(args.output)
    try:
        path.write_bytes(listing.body)
    except OSError as exc:
        raise InputError(f"cannot write '{path}': {exc.strerror}") from None
    print(f"Exported the blogs to '{path}'")
    return 0


def cmd_build(args: argparse.Namespace, config: Config) -> int:
    outdir = Path(args.outdir)
    with open_store(config.db) as store:
        report = build_site(store, config, outdir)
    written = f"{report.written} file{'s' if report.written != 1 else ''} written"
    print(
        f"Built the site in '{outdir}': {written}, "
        f"{report.unchanged} unchanged, {report.removed} removed"
    )
    return 0


def _listen(config: Config, host: str, port: int) -> tuple[socket.socket, Config]:
    """A listening socket, and the settings with the site's address filled in if unset."""
    from .web.serve import address, bind

    try:
        sock = bind(host, port)
    except OSError as exc:
        raise InputError(
            f"cannot listen on {host}:{port}: {exc.strerror}: choose another with --port"
        ) from None
    if config.base_url == default_value("base_url"):
        config = replace(config, base_url=address(sock))
    return sock, config


def _serve_site(config: Config, store: Store, host: str, port: int) -> int:
    """Serve the website until interrupted; prints the address once it is listening."""
    from .web import create_app
    from .web.serve import address, server

    sock, config = _listen(config, host, port)
    web = server(create_app(config, store))
    print(f"{config.site_name} is at {address(sock)}  (press Ctrl+C to stop)", flush=True)
    try:
        web.run(sockets=[sock])
    finally:
        sock.close()
    return 0


def cmd_serve(args: argparse.Namespace, config: Config) -> int:
    with open_store(config.db) as store:
        return _serve_site(config, store, args.host or config.host, _port(args, config))


def cmd_run(args: argparse.Namespace, config: Config) -> int:
    from . import logs
    from .service import Pace, run_service
    from .web.serve import address

    logs.setup()
    with open_store(config.db) as store:
        sock, config = _listen(config, args.host or config.host, _port(args, config))
        print(f"{config.site_name} is at {address(sock)}  (stop with Ctrl+C)", flush=True)
        try:
            fetched = asyncio.run(
                run_service(config, store, sock, pace=Pace(batch=args.batch, idle=args.idle))
            )
        finally:
            sock.close()
    print(f"Stopped after fetching {fetched} blog{'s' if fetched != 1 else ''}", flush=True)
    return 0


def _port(args: argparse.Namespace, config: Config) -> int:
    return config.port if args.port is None else int(args.port)


def cmd_demo(args: argparse.Namespace, config: Config) -> int:
    import ipaddress

    from .demo.server import add_sample_blogs, serve_samples

    loopback = ipaddress.ip_network("127.0.0.1/32")
    config = replace(config, allow_networks=(*config.allow_networks, loopback))
    explicit_db = args.db or os.environ.get("TOWNSQUARE_DB")
    folder = None if explicit_db else tempfile.mkdtemp(prefix="townsquare-demo-")
    db = explicit_db or str(Path(folder or ".") / "demo.db")
    config = replace(config, db=db)
    with serve_samples() as base, open_store(db) as store:
        count = add_sample_blogs(store, base, datetime.now().astimezone())
        print(f"Serving {count} sample blogs at {base}feeds/")
        report = _run_pass(store, config, force=True, progress=ProgressBar("Fetching"))
        print(_fetch_summary(report))
        print(f"The demo database is {db}")
        return _serve_site(config, store, args.host or config.host, _port(args, config))


# --- wiring -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="townsquare", description="Gather a community's blogs into one place."
    )
    parser.add_argument("--version", action="version", version=f"townsquare {__version__}")
    parser.add_argument(
        "--db",
        help="SQLite file or postgresql:// URL (default: $TOWNSQUARE_DB, then ./townsquare.db)",
    )
    parser.add_argument("--config", help="settings file (default: ./townsquare.toml if present)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(handler=handler)
        return p

    command("init", cmd_init, "Create the database, or bring it up to date.")
    p = command(
        "add",
        cmd_add,
        "Add a blog by its site or feed address; the feed is found and checked first.",
    )
    p.add_argument("url")
    p.add_argument("--title", help="the blog's name as shown (default: from the feed)")
    p.add_argument("--category", action="append", help="a category for the blog (repeat for more)")
    p = command("remove", cmd_remove, "Remove a blog and its posts.")
    p.add_argument("source", metavar="ID_OR_URL")
    p = command("sources", cmd_sources, "List the blogs and how their last fetch went.")
    p.add_argument("--json", action="store_true")
    p = command("categories", cmd_categories, "List the categories.")
    p.add_argument("--json", action="store_true")
    p = command("fetch", cmd_fetch, "Fetch the blogs that are due (all of them with --all).")
    p.add_argument(
        "--all", action="store_true", help="every enabled blog now, ignoring the schedule"
    )
    p.add_argument(
        "--source", action="append", metavar="ID_OR_URL", help="only this blog (repeatable)"
    )
    p.add_argument("--json", action="store_true")
    p = command(
        "worker",
        cmd_worker,
        "Fetch due blogs until stopped; run several, on one machine or many, to share the polling.",
    )
    p.add_argument("--once", action="store_true", help="stop when no blog is due any more")
    p.add_argument("--batch", type=int, default=50, help="blogs claimed at a time (default 50)")
    p.add_argument("--idle", type=float, default=30.0, help="seconds to wait when nothing is due")
    p.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve this worker's own metrics at http://HOST:PORT/metrics (0: any free port)",
    )
    p = command("posts", cmd_posts, "Show the newest posts.")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=20)
    p = command(
        "import-opml",
        cmd_import_opml,
        "Add the blogs listed in an OPML file; folders become categories.",
    )
    p.add_argument("file")
    p = command("serve", cmd_serve, "Serve the website.")
    _listen_arguments(p)
    p = command(
        "run",
        cmd_run,
        "Serve the website and fetch each blog when it is due, until stopped: the service.",
    )
    _listen_arguments(p)
    p.add_argument("--batch", type=int, default=50, help="blogs claimed at a time (default 50)")
    p.add_argument(
        "--idle", type=float, default=5.0, help="seconds between looks when nothing is due"
    )
    p = command(
        "export-opml",
        cmd_export_opml,
        "Write the blogs as OPML, in a folder per category, for a feed reader.",
    )
    p.add_argument("--category", metavar="SLUG", help="only the blogs in this category")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: print it)")
    p = command(
        "build",
        cmd_build,
        "Write the public site's feeds and OPML lists into a folder, changing only what changed.",
    )
    p.add_argument("outdir", metavar="OUTDIR")
    p = command(
        "demo",
        cmd_demo,
        "Serve the bundled sample blogs on 127.0.0.1, fetch them, then serve the website.",
    )
    _listen_arguments(p)
    return parser


def _listen_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", help="the address to listen on (default: 127.0.0.1)")
    p.add_argument(
        "--port", type=int, help="the port to listen on (default: 8080; 0 for any free port)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = load({"db": args.db}, config_file=args.config)
        handler: Handler = args.handler
        return handler(args, config)
    except TownsquareError as exc:
        print(f"townsquare: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("townsquare: stopped", file=sys.stderr)
        return 130
