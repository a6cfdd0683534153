"""The command line: parse arguments, call the core, print.

Errors are one line on standard error naming the problem and what to do;
exit status 1 for an error, 2 for a usage mistake.  ``fetch`` exits 0 when
the pass completed, even if some blogs failed.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import signal
import socket
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from . import __version__
from .config import Config, default_value, load
from .errors import InputError, TownsquareError
from .heap import tune_heap
from .ingest.clean import plain_text
from .model import Frequency, Post, Source
from .search import SearchResults, Sort, search
from .store import Store, open_store
from .text import long_date

if TYPE_CHECKING:
    from .ingest.pipeline import PassReport
    from .notify.digest import DigestReport
    from .store.websub import Subscription
    from .websub import WebSub

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
    # One write: json.dump writes each piece on its own, which with PYTHONUNBUFFERED (as
    # in the Dockerfile) made the report of a pass of 1,000 blogs 36,000 system calls.
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


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
    from .ingest.discover import discover
    from .ingest.fetch import Fetcher

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
        pushed = store.subscription_of(source.id) is not None
        store.remove_source(source.id)
        print(f"Removed blog {source.id}: {source.title} (and its posts)")
        if pushed:
            report = _with_websub(store, config, lambda w: w.subscriber.end_unwanted())
            for line in report.failed:
                print(f"  could not tell its hub to stop: {line}")
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
    from .ingest.pipeline import Ingest

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
    from .ingest.pipeline import Ingest

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


def _search_json(results: SearchResults) -> dict[str, Any]:
    return {
        "query": str(results.query),
        "sort": results.sort.value,
        "total": results.total,
        "total_is_exact": results.total_is_exact,
        "searched_since": results.searched_since.isoformat() if results.searched_since else None,
        "page": results.page,
        "per_page": results.per_page,
        "results": [
            {
                **{k: v for k, v in _post_json(hit.post).items() if k != "content_html"},
                "title_html": hit.title_html,
                "snippet": hit.snippet_text,
                "snippet_html": hit.snippet_html,
            }
            for hit in results.hits
        ],
    }


def cmd_search(args: argparse.Namespace, config: Config) -> int:
    text = " ".join(args.query)
    if args.limit < 1:
        raise InputError(f"--limit must be 1 or more, not {args.limit}")
    with open_store(config.db) as store:
        results = search(
            store,
            text,
            sort=Sort(args.sort) if args.sort else None,
            page=args.page,
            per_page=args.limit,
        )
    if args.json:
        _print_json(_search_json(results))
        return 0
    if results.query.is_empty:
        print("Type some words to search for, for example: townsquare search digital identity")
        return 0
    if not results.total:
        since = results.searched_since
        within = f" in posts since {long_date(since)}" if since else ""
        print(f"No posts match '{results.query}'{within}.")
        return 0
    order = "newest first" if results.sort is Sort.DATE else "best match first"
    print(
        f"{results.count_text} for '{results.query}' ({order}), page {results.page} of "
        f"{results.pages}"
    )
    for hit in results.hits:
        post = hit.post
        byline = " · ".join(
            x for x in (post.source_title, long_date(post.published), post.author) if x
        )
        print(f"\n{post.title}\n{byline}")
        if hit.snippet_text:
            print(f"  {hit.snippet_text}")
        print(f"  Original source – {post.source_title}: {post.link or '(no link)'}")
    return 0


def cmd_import_opml(args: argparse.Namespace, config: Config) -> int:
    from .opml import read_opml

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
    from .publish.opml import blogs_opml, category_opml

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
    from .publish.static_site import build_site

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


def _digest_line(r: DigestReport) -> str:
    noun = f"{r.frequency.value} digest{'s' if r.sent != 1 else ''}"
    return (
        f"Sent {r.sent} {noun} for {r.period} in {r.seconds:.1f} s: {r.empty} with nothing new, "
        f"{r.retry} to try again next run, {r.refused} refused ({r.paused} subscribers paused), "
        f"{r.unknown} perhaps not delivered"
    )


def cmd_digest_send(args: argparse.Namespace, config: Config) -> int:
    from .notify.digest import send_digests

    frequencies = [Frequency(args.frequency)] if args.frequency else list(Frequency)
    reports = []
    with open_store(config.db) as store:
        for frequency in frequencies:
            reports.append(
                send_digests(
                    store,
                    config,
                    frequency,
                    progress=ProgressBar(f"Sending {frequency.value} digests"),
                )
            )
    if args.json:
        _print_json([{**asdict(r), "frequency": r.frequency.value} for r in reports])
        return 0
    for r in reports:
        for line in r.errors:
            print(f"  {line}")
        if r.resolved:
            print(
                f"  {r.resolved} digest{'s' if r.resolved != 1 else ''} left by a stopped run "
                "may have been delivered: they will not be sent again"
            )
        print(_digest_line(r))
    return 0


def cmd_digest_stats(args: argparse.Namespace, config: Config) -> int:
    with open_store(config.db) as store:
        counts = store.subscriber_counts()
    if args.json:
        _print_json(
            {
                "confirmed": {f.value: n for f, n in counts.confirmed.items()},
                "all_categories": {f.value: n for f, n in counts.all_categories.items()},
                "categories": {
                    name: {f.value: n for f, n in by.items()}
                    for name, by in counts.by_category.items()
                },
                "unconfirmed": counts.unconfirmed,
                "paused": counts.paused,
            }
        )
        return 0
    rows = [
        ("Everyone", counts.confirmed),
        ("All categories", counts.all_categories),
        *counts.by_category.items(),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"{'Subscribers':<{width}}  {'daily':>7}  {'weekly':>7}")
    for name, by in rows:
        print(f"{name:<{width}}  {by[Frequency.DAILY]:>7}  {by[Frequency.WEEKLY]:>7}")
    print(f"\nNot confirmed yet: {counts.unconfirmed}.")
    print(f"Paused after refused emails: {counts.paused}.")
    return 0


def cmd_digest_unsubscribe(args: argparse.Namespace, config: Config) -> int:
    from .notify.address import check_address

    try:
        _, key = check_address(args.address)
    except InputError:
        raise InputError(f"not an email address: {args.address!r}") from None
    with open_store(config.db) as store:
        subscriber = store.subscriber_by_address(key)
        if subscriber is not None:
            store.remove_subscriber(subscriber.id)
    if subscriber is None:
        print(f"No subscriber has the address {args.address!r}: nothing to do")
    else:
        print(f"Unsubscribed {args.address!r}: the address is forgotten")
    return 0


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


T = TypeVar("T")


def _with_websub(store: Store, config: Config, work: Callable[[WebSub], Awaitable[T]]) -> T:
    from .websub import WebSub

    async def run() -> T:
        async with WebSub(store, config) as websub:
            return await work(websub)

    return asyncio.run(run())


def cmd_websub_renew(args: argparse.Namespace, config: Config) -> int:
    with open_store(config.db) as store:
        report = _with_websub(store, config, lambda w: w.renew())
    if report.not_asking and config.websub_subscribe:
        print(f"Not asking blogs' hubs to push their posts: {report.not_asking}")
    for line in report.failed:
        print(f"  failed: {line}")
    print(
        f"WebSub subscriptions: {report.asked} asked of their hubs, {report.ended} ended, "
        f"{len(report.failed)} failed"
    )
    return 0


def cmd_websub_run(args: argparse.Namespace, config: Config) -> int:
    async def work(websub: WebSub) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        print("Sending and receiving WebSub pushes (press Ctrl+C to stop)", flush=True)
        await websub.run(stop)

    with open_store(config.db) as store:
        _with_websub(store, config, work)
    print("Stopped")
    return 0


def _subscription_line(sub: Subscription, titles: dict[int, str]) -> str:
    from .store.websub import SubscriptionState

    name = titles.get(sub.source_id or 0, "(a removed blog)")
    if sub.state is SubscriptionState.ACTIVE and sub.lease_expires:
        state = f"pushed until {long_date(sub.lease_expires)}"
    elif sub.state is SubscriptionState.FAILED:
        state = f"failed ({sub.last_error}); trying again on {long_date(sub.next_action_at)}"
    elif sub.state is SubscriptionState.UNSUBSCRIBING:
        state = "being ended"
    else:
        state = "asked, waiting for the hub to check with us"
    return f"{name}: {state} <{sub.hub}>"


def cmd_websub_status(args: argparse.Namespace, config: Config) -> int:
    with open_store(config.db) as store:
        subs = store.subscriptions()
        titles = {s.id: s.title for s in store.sources()}
        ours = store.hub_subscriptions(datetime.now().astimezone())
    if args.json:
        _print_json(
            {
                "subscriptions": [
                    {
                        "source_id": s.source_id,
                        "hub": s.hub,
                        "topic": s.topic,
                        "state": s.state.value,
                        "lease_expires": _iso(s.lease_expires),
                        "last_push_at": _iso(s.last_push_at),
                        "last_error": s.last_error,
                    }
                    for s in subs
                ],
                "hub_subscriptions": [
                    {"topic": h.topic, "callback": h.callback, "expires_at": _iso(h.expires_at)}
                    for h in ours
                ],
            }
        )
        return 0
    if not subs:
        print("No blog's hub pushes its posts to this site yet.")
    for sub in subs:
        print(_subscription_line(sub, titles))
    feeds = len({h.topic for h in ours})
    print(
        f"This site's hub: {len(ours)} subscription{'s' if len(ours) != 1 else ''} "
        f"to {feeds} feed{'s' if feeds != 1 else ''}"
    )
    return 0


def _read_password(username: str) -> str:
    """The new password: asked twice on a terminal, else the first line of standard input
    (never an argument, which other users of the machine could see)."""
    if sys.stdin.isatty():
        first = getpass.getpass(f"Password for {username}: ")
        if getpass.getpass("The same password again: ") != first:
            raise InputError("the two passwords are not the same: nothing was changed")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def cmd_user(args: argparse.Namespace, config: Config) -> int:
    from .curation.passwords import check_username, hash_password

    # What was asked is checked before the store is opened (or made).
    if args.json and args.action != "list":
        raise InputError("--json goes with 'townsquare user list'")
    if args.action != "list" and not args.username:
        raise InputError(f"give the username: townsquare user {args.action} USERNAME")
    now = datetime.now().astimezone()
    with open_store(config.db) as store:
        if args.action == "list":
            curators = store.curators()
            if args.json:
                _print_json(
                    [
                        {
                            "username": c.username,
                            "added": _iso(c.created_at),
                            "last_signed_in": _iso(c.last_login_at),
                        }
                        for c in curators
                    ]
                )
                return 0
            if not curators:
                print("No curators yet. Add one with: townsquare user add USERNAME")
            for c in curators:
                last = long_date(c.last_login_at) if c.last_login_at else "never"
                print(f"{c.username}  (added {long_date(c.created_at)}, last signed in {last})")
            return 0
        username = check_username(args.username)
        if args.action == "remove":
            store.remove_curator(username)
            print(f"Removed the curator {username}")
            return 0
        if args.action == "add" and store.curator(username) is not None:
            raise InputError(
                f"there is already a curator called {username!r}: "
                f"to change the password, run 'townsquare user password {username}'"
            )
        if args.action == "password" and store.curator(username) is None:
            raise InputError(f"no such curator: {username!r}")
        hashed = hash_password(_read_password(username))
        if args.action == "add":
            store.add_curator(username, hashed, now)
            store.audit(username, "Curator account added on the command line", now)
            print(f"Added the curator {username}: sign in at {config.base_url}admin/login")
        else:
            store.set_password(username, hashed)
            store.audit(username, "Password changed on the command line", now)
            print(f"Changed the password of {username}; their sessions have ended")
    return 0


def cmd_health_email(args: argparse.Namespace, config: Config) -> int:
    from .curation.health_email import compose
    from .curation.mail import message, send

    with open_store(config.db) as store:
        email = compose(store, config, datetime.now().astimezone())
    if args.print:
        print(f"Subject: {email.subject}\n\n{email.body}", end="")
        return 0
    to = args.to or config.curator_address
    if not to:
        raise InputError(
            "no address to send the health email to: set curator_email, or give --to ADDRESS"
        )
    send(config, message(config, to, email.subject, email.body))
    print(f"Sent the health email to {to}: {email.subject}")
    return 0


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
    p = sub.add_parser(
        "websub",
        help="WebSub: posts pushed to this site by blogs' hubs, and this site's own hub.",
        description="WebSub: posts pushed to this site by blogs' hubs, and this site's own hub.",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, handler, text in (
        (
            "renew",
            cmd_websub_renew,
            "Ask the hubs blogs name to push their posts, renew subscriptions before they end "
            "and end those of removed blogs.",
        ),
        (
            "run",
            cmd_websub_run,
            "Until stopped: send new posts to this site's subscribers (or tell its hub), "
            "and renew subscriptions.",
        ),
        ("status", cmd_websub_status, "List the subscriptions, both ways."),
    ):
        action = actions.add_parser(name, help=text, description=text)
        action.set_defaults(handler=handler)
        if name == "status":
            action.add_argument("--json", action="store_true")
    p = command("posts", cmd_posts, "Show the newest posts.")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=20)
    p = command(
        "search",
        cmd_search,
        'Search every blog\'s posts: words, "exact phrases", -leave-out, blog:, category:, '
        "author:, after:, before:.",
    )
    p.add_argument("query", nargs="+", help="what to search for (put -- before a leading -word)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=20, help="results a page (at most 100)")
    p.add_argument("--page", type=int, default=1)
    p.add_argument("--sort", choices=[s.value for s in Sort], help="default: relevance")
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
        "Write the whole public site (pages, feeds and OPML lists) into a folder, for any "
        "static host, changing only what changed.",
    )
    p.add_argument("outdir", metavar="OUTDIR")
    p = command(
        "demo",
        cmd_demo,
        "Serve the bundled sample blogs on 127.0.0.1, fetch them, then serve the website.",
    )
    _listen_arguments(p)
    p = command(
        "user",
        cmd_user,
        "Manage curator accounts: the password is asked for (or read from standard input).",
    )
    p.add_argument("action", choices=["add", "password", "remove", "list"])
    p.add_argument("username", nargs="?")
    p.add_argument("--json", action="store_true", help="with list: the curators as JSON")
    p = command(
        "health-email",
        cmd_health_email,
        "Email the curator the blogs failing for a week or silent for six months (run weekly).",
    )
    p.add_argument("--to", metavar="ADDRESS", help="send it here (default: curator_email)")
    p.add_argument("--print", action="store_true", help="print it instead of sending it")

    digest = sub.add_parser("digest", help="Email digests: send them, count subscribers.")
    digest_sub = digest.add_subparsers(dest="digest_command", metavar="COMMAND", required=True)
    p = digest_sub.add_parser(
        "send",
        help="Send this period's digests; safe to run again.",
        description="Send the digests due now: daily ones for today (UTC), weekly ones for "
        "this ISO week. Running it again sends only what is still to send.",
    )
    p.set_defaults(handler=cmd_digest_send)
    p.add_argument("--frequency", choices=[f.value for f in Frequency], help="default: both")
    p.add_argument("--json", action="store_true")
    p = digest_sub.add_parser(
        "stats", help="Count subscribers by frequency and category (no addresses)."
    )
    p.set_defaults(handler=cmd_digest_stats)
    p.add_argument("--json", action="store_true")
    p = digest_sub.add_parser(
        "unsubscribe",
        help="Unsubscribe an address by hand (for requests sent by email).",
    )
    p.set_defaults(handler=cmd_digest_unsubscribe)
    p.add_argument("address")
    return parser


def _listen_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", help="the address to listen on (default: 127.0.0.1)")
    p.add_argument(
        "--port", type=int, help="the port to listen on (default: 8080; 0 for any free port)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    tune_heap()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = load({"db": args.db}, config_file=args.config)
        handler: Handler = args.handler
        code = handler(args, config)
        sys.stdout.flush()  # here, so that a closed pipe is caught below
        return code
    except TownsquareError as exc:
        print(f"townsquare: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("townsquare: stopped", file=sys.stderr)
        return 130
    except BrokenPipeError:  # what reads the output stopped early (`| head`): not an error
        # Python would complain again when it flushes standard output at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
