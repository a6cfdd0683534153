"""``townsquare build`` of a large store: a first build, an unchanged rebuild, and a rebuild
after new posts, against file-system floors.

    python bench/build.py                          # 100,000 posts, then 100 new ones
    python bench/build.py --posts 20000 --new 100 --out build.json

1. **Store.** The website benchmark's store (``bench/web.py``): ``--posts``
   posts from 500 blogs in 12 categories over five years, 1–6 KB of clean
   HTML each.  It is built once under ``$TMPDIR/townsquare-bench-web`` and
   copied for each run, since the run adds posts to it.
2. **Builds.** Each is ``python -m townsquare --db STORE build OUT`` in its
   own process, timed by this one, with its CPU time and peak RSS from
   ``os.wait4``: the first build into an empty folder; the same again (no
   change: nothing should be written); then ``--new`` posts are added (the
   newest in the store, from as many blogs, with direct SQL as the store was
   made) and the site is built again.
3. **Floors.** Two processes that only move the built files' bytes, with no
   store and no rendering: *copy* writes every file of the built site into an
   empty folder (what any build must at least write), and *read* reads every
   file (what a rebuild that compares bytes must at least read).

Figures on a busy machine vary; CPU seconds are steadier than wall seconds,
and the load average is printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from web import STORE_VERSION, WORDS, build_store  # noqa: E402  (bench/web.py)

BASE_URL = "https://blogs.example.org/"
_FLOOR = """
import os, shutil, sys
source, target = sys.argv[1], sys.argv[2:]
for folder, _, names in os.walk(source):
    for name in names:
        path = os.path.join(folder, name)
        if target:
            out = os.path.join(target[0], os.path.relpath(path, source))
            os.makedirs(os.path.dirname(out), exist_ok=True)
            shutil.copyfile(path, out)
        else:
            with open(path, "rb") as f:
                f.read()
"""


@dataclass
class Step:
    name: str
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    written: int = 0
    unchanged: int = 0
    removed: int = 0
    load_before: float = 0.0


def run(name: str, cmd: list[str], env: dict[str, str] | None = None) -> Step:
    """Run one process; its wall time, CPU time and peak RSS."""
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    assert proc.stdout is not None and proc.stderr is not None
    out, err = proc.stdout.read().decode(), proc.stderr.read().decode()
    proc.stdout.close()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{name} failed:\n{out}{err}")
    step = Step(name, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)
    step.load_before = load
    found = re.search(r"(\d+) files? written, (\d+) unchanged, (\d+) removed", out)
    if found:
        step.written, step.unchanged, step.removed = (int(n) for n in found.groups())
    print(
        f"  {name}: {wall:.1f} s wall, {step.cpu_s:.1f} s CPU, {step.peak_rss_mb:.0f} MB peak"
        + (f"; {step.written:,} written, {step.unchanged:,} unchanged" if found else "")
        + f" (load {load:.1f})",
        flush=True,
    )
    return step


def add_posts(db: Path, count: int, seed: int = 2) -> None:
    """``count`` new posts, the newest in the store, each from a blog picked at random."""
    sys.path.insert(0, str(HERE.parent / "src"))
    from townsquare.store import open_store

    rng = random.Random(seed)
    with open_store(str(db)) as store:
        newest = store.river(limit=1)[0].published
        blogs = [s.id for s in store.sources()]
        rows = []
        for n in range(count):
            published = newest + timedelta(minutes=n + 1)
            source = rng.choice(blogs)
            link = f"https://blog{source - 1}.example/new/{n}"
            title = " ".join(rng.choice(WORDS) for _ in range(8)).capitalize()
            html = "<p>" + " ".join(rng.choice(WORDS) for _ in range(300)) + ".</p>"
            rows.append((source, link, link, link, title, "A. Writer", published, published,
                         published, html, "", "[]", f"new{n}"))  # fmt: skip
        with store.db.transaction():
            store.db.executemany(
                """INSERT INTO posts (source_id, guid, link, canonical_link, title, author,
                       published, first_seen, last_changed, content_html, summary_html,
                       categories, content_hash)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                rows,
            )


def up_to_date(db: Path) -> None:
    """Migrate the copy (and fill any new index) now, so no build below pays for it."""
    sys.path.insert(0, str(HERE.parent / "src"))
    from townsquare.store import open_store

    open_store(str(db)).close()


def folder_size(root: Path) -> tuple[int, int]:
    files = total = 0
    for folder, _, names in os.walk(root):
        for name in names:
            files += 1
            total += os.path.getsize(os.path.join(folder, name))
    return files, total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="command")
    helper = sub.add_parser("make-store", help="(internal) build the store to copy")
    helper.add_argument("db", type=Path)
    helper.add_argument("count", type=int)
    helper = sub.add_parser("up-to-date", help="(internal) migrate a copy of the store")
    helper.add_argument("db", type=Path)
    helper = sub.add_parser("add-posts", help="(internal) add new posts to a store")
    helper.add_argument("db", type=Path)
    helper.add_argument("count", type=int)
    ap.add_argument("--posts", type=int, default=100_000)
    ap.add_argument("--new", type=int, default=100, help="posts added before the last rebuild")
    ap.add_argument("--dir", default=str(Path(tempfile.gettempdir()) / "townsquare-bench-web"))
    ap.add_argument("--keep", action="store_true", help="keep the built site and its store")
    ap.add_argument("--out", help="write the figures as JSON")
    args = ap.parse_args(argv)
    # The store is changed in processes of their own, so this one stays small: a process
    # started from it counts this one's memory in its own peak (Linux keeps the peak from
    # before ``exec``).
    if args.command == "make-store":
        build_store(args.db, args.count)
        return 0
    if args.command == "up-to-date":
        up_to_date(args.db)
        return 0
    if args.command == "add-posts":
        add_posts(args.db, args.count)
        return 0

    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    template = folder / f"store-v{STORE_VERSION}-{args.posts}.db"
    if not template.exists():
        print(f"Building a store of {args.posts:,} posts in {template} ...", flush=True)
        subprocess.run([sys.executable, __file__, "make-store", str(template), str(args.posts)],
                       check=True)  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="townsquare-bench-build-"))
    try:
        db, site = work / "store.db", work / "site"
        shutil.copyfile(template, db)
        helper = [sys.executable, __file__]
        subprocess.run([*helper, "up-to-date", str(db)], check=True)
        env = {
            **os.environ,
            "PYTHONPATH": str(HERE.parent / "src"),
            "TOWNSQUARE_BASE_URL": BASE_URL,
        }
        env.pop("TOWNSQUARE_DB", None)
        build = [sys.executable, "-m", "townsquare", "--db", str(db), "build", str(site)]
        print(f"townsquare build, {args.posts:,} posts, into {site}", flush=True)
        steps = [run("first build", build, env)]
        files, size = folder_size(site)
        steps.append(run("rebuild, nothing new", build, env))
        subprocess.run([*helper, "add-posts", str(db), str(args.new)], check=True)
        steps.append(run(f"rebuild, {args.new} new posts", build, env))
        floor = [sys.executable, "-c", _FLOOR, str(site)]
        steps.append(run("floor: copy every file", [*floor, str(work / "copy")]))
        shutil.rmtree(work / "copy")
        steps.append(run("floor: read every file", floor))
    finally:
        if not args.keep:
            shutil.rmtree(work)

    first, _, after, copy, read = steps
    print(f"\nStatic build, {args.posts:,} posts: {files:,} files, {size / 1e9:.2f} GB")
    print(f"{'step':<28}{'wall s':>9}{'CPU s':>9}{'peak RSS':>10}{'written':>10}{'load':>7}")
    for s in steps:
        print(
            f"{s.name:<28}{s.wall_s:>9.1f}{s.cpu_s:>9.1f}{s.peak_rss_mb:>8.0f}MB"
            f"{s.written:>10,}{s.load_before:>7.1f}"
        )
    print(
        f"\nfirst build ÷ copy floor: {first.wall_s / copy.wall_s:.1f} (wall), "
        f"{first.cpu_s / copy.cpu_s:.1f} (CPU)\n"
        f"rebuild after {args.new} new posts ÷ read floor: {after.wall_s / read.wall_s:.1f} "
        f"(wall), {after.cpu_s / read.cpu_s:.1f} (CPU); it rewrote {after.written:,} of "
        f"{after.written + after.unchanged:,} files\n"
        f"per post, first build: {first.cpu_s / args.posts * 1000:.2f} ms of CPU"
    )
    if args.out:
        figures = {"posts": args.posts, "new": args.new, "files": files, "bytes": size,
                   "steps": [asdict(s) for s in steps]}  # fmt: skip
        Path(args.out).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
