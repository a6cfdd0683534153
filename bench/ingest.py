"""The ingest benchmark (issue 3): Townsquare against reader and the bare floor.

    python bench/ingest.py                      # 1,000 feeds, every system
    python bench/ingest.py --scales 100,1000,5000 --out results.json
    python bench/ingest.py --feeds 100 --only reader,floor --workers 4
    python bench/ingest.py --feeds 1000 --rounds 3 --workers 1   # medians of 3 rounds
    python bench/ingest.py --feeds 1000 --no-validators  # the unchanged pass without 304s

One run generates (or reuses) a seeded corpus of realistic feeds, serves it from
a local aiohttp server in its own process, then for each scale measures:

* townsquare: ``init``, ``import-opml``, a first ``fetch --all`` and an unchanged
  second one (all 304s; with --no-validators, all 200s), each a process of its own;
* reader (PyPI): ``add_feed`` for every feed, then ``update_feeds`` twice, in
  processes of their own, with the best worker count of --workers;
* the floor: aiohttp fetching every feed at once, lxml (json for JSON Feed)
  parsing every body, nh3.clean on every post body; and a conditional refetch.

Townsquare's modules are compiled to bytecode first, as installing a package does
(an editable install under PYTHONDONTWRITEBYTECODE would compile them in every step).
Wall time, feeds/s, posts/s, peak RSS and CPU of each process (``os.wait4``),
database size (file + -wal), and the server's 200/304 counts of each pass.
This file is stdlib only; the measured processes run with --python (the
project's .venv by default).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import select
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import corpus  # noqa: E402

REPO = HERE.parent
SYSTEMS = ("floor", "townsquare", "reader")
ALLOW_ENV = {"TOWNSQUARE_ALLOW_NETWORKS": "127.0.0.1/32"}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- measured processes -------------------------------------------------------


@dataclass
class Run:
    cmd: list[str]
    rc: int
    wall_s: float
    peak_rss_mb: float
    cpu_s: float
    stdout: str
    stderr: str
    timed_out: bool = False
    tree_rss_mb: float = 0.0  # the most its processes held at once, all together
    tree_pss_mb: float = 0.0  # the same as PSS: pages shared between them counted once

    def json(self) -> Any:
        """What the process printed as JSON (the whole output, or its last line)."""
        text = self.stdout.strip()
        for candidate in (text, text.splitlines()[-1] if text else ""):
            try:
                return json.loads(candidate)
            except ValueError:
                continue
        return None

    def failure(self) -> str | None:
        if self.timed_out:
            return f"timed out after {self.wall_s:.0f}s"
        if self.rc != 0:
            tail = "\n    ".join(self.stderr.strip().splitlines()[-8:])
            return f"exit status {self.rc}:\n    {tail}"
        return None


def run_measured(
    cmd: Sequence[str],
    *,
    timeout: float,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Run:
    """Run ``cmd``; its wall time, peak RSS and CPU from its own rusage (the largest of
    its processes, and their CPU), and the peak of its processes' RSS added together,
    sampled every 50 ms from /proc."""
    full_env = {**os.environ, **(env or {})}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=full_env,
            cwd=cwd,
            start_new_session=True,
        )
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            with suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        tree = TreeRss(p.pid)
        try:
            _, status, ru = os.wait4(p.pid, 0)
        except BaseException:
            kill()
            os.wait4(p.pid, 0)
            p.returncode = -9
            raise
        finally:
            timer.cancel()
            tree.stop()
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(
            cmd=list(cmd),
            rc=p.returncode,
            wall_s=wall,
            peak_rss_mb=ru.ru_maxrss / 1024,  # KiB on Linux
            cpu_s=ru.ru_utime + ru.ru_stime,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
            timed_out=timed_out.is_set(),
            tree_rss_mb=tree.peak / 1e6,
            tree_pss_mb=tree.peak_pss / 1e6,
        )


class TreeRss:
    """The peak, over time, of the summed RSS of a process and its descendants, and of
    their summed PSS (proportional set size: a page that n of them share counts 1/n in
    each, so the libraries every process maps are counted once, not once a process)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self.peak_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._stop.wait(0.05):
            pids, total, pss = [self.pid], 0, 0
            for pid in pids:
                with suppress(OSError, ValueError, IndexError):
                    for tid in os.listdir(f"/proc/{pid}/task"):
                        with open(f"/proc/{pid}/task/{tid}/children") as f:
                            pids += [int(x) for x in f.read().split()]
                    with open(f"/proc/{pid}/statm") as f:
                        total += int(f.read().split()[1]) * page
                    with open(f"/proc/{pid}/smaps_rollup") as f:
                        pss += next(int(ln.split()[1]) for ln in f if ln.startswith("Pss:")) * 1024
            self.peak = max(self.peak, total)
            self.peak_pss = max(self.peak_pss, pss)


# -- the server ---------------------------------------------------------------


class ServerGoneError(Exception):
    """The feed server stopped answering."""


class Server:
    def __init__(self, port: int, proc: subprocess.Popen[bytes], log_path: Path) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.proc = proc
        self.log_path = log_path

    def _call(self, path: str, method: str = "GET") -> Any:
        data = b"" if method == "POST" else None
        req = urllib.request.Request(self.base + path, method=method, data=data)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.loads(resp.read())
        except OSError as e:
            status = self.proc.poll()
            state = "running" if status is None else f"exited with status {status}"
            tail = self.log_path.read_text(errors="replace")[-1500:]
            raise ServerGoneError(
                f"the feed server ({state}) did not answer {path}: {e}\n{tail}"
            ) from e

    def reset(self) -> None:
        self._call("/_stats/reset", "POST")

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("/_stats")
        return result


@contextmanager
def serve(
    python: str,
    directory: Path,
    n: int,
    seed: int,
    use_gzip: bool,
    log_path: Path,
    validators: bool = True,
) -> Iterator[Server]:
    cmd = [
        python,
        str(HERE / "server.py"),
        "--dir",
        str(directory),
        "--feeds",
        str(n),
        "--seed",
        str(seed),
    ]
    if use_gzip:
        cmd.append("--gzip")
    if not validators:
        cmd.append("--no-validators")
    with open(log_path, "wb") as errlog:
        # Its own session: a Ctrl-C reaches only us, and we stop the server.
        p = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errlog,
            start_new_session=True,
        )
    try:
        assert p.stdout is not None
        deadline = time.monotonic() + 120 + n / 50
        line = b""
        while time.monotonic() < deadline and p.poll() is None:
            ready, _, _ = select.select([p.stdout], [], [], 0.5)
            if ready:
                line = p.stdout.readline()
                break
        if not line.startswith(b"READY "):
            raise SystemExit(
                f"the feed server did not start; see {log_path}:\n{log_path.read_text()[-2000:]}"
            )
        port = int(line.split()[1])
        log(f"feed server: pid {p.pid}, http://127.0.0.1:{port}/feeds/")
        yield Server(port, p, log_path)
    finally:
        if p.stdin is not None:
            p.stdin.close()  # the server exits when its stdin closes
        if p.poll() is None:
            p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


# -- results -------------------------------------------------------------------


@dataclass
class Step:
    system: str
    step: str
    wall_s: float | None = None
    inner_s: float | None = None  # the same step timed inside the process, without startup
    peak_rss_mb: float | None = None
    tree_rss_mb: float | None = None
    tree_pss_mb: float | None = None
    cpu_s: float | None = None
    db_mb: float | None = None
    feeds_per_s: float | None = None
    posts_per_s: float | None = None
    server: dict[str, Any] | None = None
    reported: Any = None
    error: str | None = None


@dataclass
class ScaleResult:
    feeds: int
    posts: int
    corpus_mb: float
    round: int = 1  # of --rounds at this scale
    steps: list[Step] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def get(self, system: str, step: str) -> Step | None:
        for s in self.steps:
            if s.system == system and s.step == step and s.error is None:
                return s
        return None


def db_mb(db: Path) -> float:
    total = 0
    for p in (db, db.with_name(db.name + "-wal")):
        if p.exists():
            total += p.stat().st_size
    return total / 1e6


def summarize(reported: Any) -> Any:
    """Shorten per-feed lists (townsquare's ``sources``) to counts of their outcomes."""
    if not isinstance(reported, dict):
        return reported
    out: dict[str, Any] = {}
    for key, value in reported.items():
        if isinstance(value, list) and len(value) > 10 and all(isinstance(v, dict) for v in value):
            outcomes = Counter(str(v.get("outcome", "?")) for v in value)
            out[key] = {"count": len(value), "outcomes": dict(outcomes)}
            errors = [v["error"] for v in value if v.get("error")]
            if errors:
                out[key]["errors"] = errors[:5]
        else:
            out[key] = value
    return out


def step_from_run(
    system: str,
    step: str,
    run: Run,
    n: int,
    posts: int,
    *,
    db: Path | None = None,
    server: dict[str, Any] | None = None,
    rate: bool = True,
) -> Step:
    s = Step(
        system,
        step,
        wall_s=run.wall_s,
        peak_rss_mb=run.peak_rss_mb,
        tree_rss_mb=run.tree_rss_mb,
        tree_pss_mb=run.tree_pss_mb,
        cpu_s=run.cpu_s,
    )
    s.error = run.failure()
    s.reported = summarize(run.json())
    if s.reported is None and run.stdout.strip():
        s.reported = run.stdout.strip()[-2000:]
    if db is not None:
        s.db_mb = db_mb(db)
    s.server = server
    if rate and run.wall_s > 0:
        s.feeds_per_s = n / run.wall_s
        s.posts_per_s = posts / run.wall_s
    if s.error:
        log(f"  {system} {step} FAILED: {s.error}")
    else:
        log(
            f"  {system} {step}: {run.wall_s:.2f}s, peak RSS {run.peak_rss_mb:.0f} MB "
            f"(all its processes: {run.tree_rss_mb:.0f} MB, PSS {run.tree_pss_mb:.0f} MB)"
        )
    return s


# -- the systems -------------------------------------------------------------


@dataclass
class Ctx:
    python: str
    townsquare_cmd: list[str]
    server: Server
    timeout: float
    work: Path
    reader_search: bool = False


def measure_floor(ctx: Ctx, res: ScaleResult, urls_file: Path, concurrency: int) -> None:
    n, posts = res.feeds, res.posts
    log(f"floor, {n} feeds")
    ctx.server.reset()
    cmd = [
        ctx.python,
        str(HERE / "workers.py"),
        "floor",
        "--urls",
        str(urls_file),
        "--concurrency",
        str(concurrency),
        "--timeout",
        str(ctx.timeout),
    ]
    run = run_measured(cmd, timeout=ctx.timeout)
    stats = ctx.server.stats()
    r = run.json()
    if run.failure() or not isinstance(r, dict):
        res.steps.append(step_from_run("floor", "first", run, n, posts, server=stats))
        return
    if r.get("n_errors"):
        log(f"  floor: {r['n_errors']} errors, e.g. {r['errors'][:2]}")
    if r["posts"] != posts:
        log(f"  floor: WARNING parsed {r['posts']} posts, corpus has {posts}")
    for step, secs, status in (
        ("first", r["first_pass_s"], r["status"]),
        ("unchanged", r["unchanged_pass_s"], r["unchanged_status"]),
    ):
        res.steps.append(
            Step(
                "floor",
                step,
                wall_s=secs,
                inner_s=secs,
                peak_rss_mb=run.peak_rss_mb,
                tree_rss_mb=run.tree_rss_mb,
                tree_pss_mb=run.tree_pss_mb,
                cpu_s=run.cpu_s if step == "first" else None,
                feeds_per_s=n / secs,
                posts_per_s=posts / secs,
                server={"status": status},
                reported=r if step == "first" else None,
            )
        )
    log(
        f"  floor: fetch {r['fetch_s']:.2f}s + parse {r['parse_s']:.2f}s + "
        f"sanitize {r['sanitize_s']:.2f}s = {r['first_pass_s']:.2f}s; "
        f"unchanged {r['unchanged_pass_s']:.2f}s"
    )


def compile_townsquare(python: str) -> None:
    """Write the bytecode of Townsquare's modules, as installing a package does.

    An editable install leaves it to be written on first import, which
    PYTHONDONTWRITEBYTECODE (set on some machines) stops: every measured step would
    then compile the project's modules again, as no installed package does.  reader's
    modules are compiled when pip installs them."""
    where = subprocess.run(
        [python, "-c", "import os, townsquare; print(os.path.dirname(townsquare.__file__))"],
        capture_output=True,
        text=True,
    )
    compiled = where.returncode == 0 and (
        subprocess.run([python, "-m", "compileall", "-q", where.stdout.strip()]).returncode == 0
    )
    if not compiled:
        log("could not compile Townsquare's modules: its steps include compiling them")


def townsquare_available(ctx: Ctx) -> tuple[str | None, Run | None]:
    """(None, the run) if the CLI answers ``--help``, else (why not, None)."""
    compile_townsquare(ctx.python)
    try:
        run = run_measured([*ctx.townsquare_cmd, "--help"], timeout=60, env=ALLOW_ENV)
    except OSError as e:
        return f"cannot run {shlex.join(ctx.townsquare_cmd)}: {e}", None
    if run.rc != 0:
        last = (run.stderr.strip().splitlines() or ["(no output)"])[-1]
        return (
            f"`{shlex.join(ctx.townsquare_cmd)} --help` failed ({run.rc}): {last}",
            None,
        )
    return None, run


def measure_townsquare(ctx: Ctx, res: ScaleResult, opml: Path) -> None:
    n, posts = res.feeds, res.posts
    d = ctx.work / f"townsquare-{n}-r{res.round}"
    d.mkdir()
    db = d / "townsquare.db"
    ts = [*ctx.townsquare_cmd, "--db", str(db)]
    log(f"townsquare, {n} feeds")
    for step, args, rate in (
        ("init", ["init"], False),
        ("import-opml", ["import-opml", str(opml)], False),
    ):
        run = run_measured([*ts, *args], timeout=ctx.timeout, env=ALLOW_ENV, cwd=d)
        res.steps.append(step_from_run("townsquare", step, run, n, posts, db=db, rate=rate))
        if run.failure():
            return
    for step in ("first", "unchanged"):
        ctx.server.reset()
        run = run_measured(
            [*ts, "fetch", "--all", "--json"], timeout=ctx.timeout, env=ALLOW_ENV, cwd=d
        )
        s = step_from_run("townsquare", step, run, n, posts, db=db, server=ctx.server.stats())
        if isinstance(s.reported, dict) and isinstance(s.reported.get("seconds"), int | float):
            s.inner_s = float(s.reported["seconds"])
        res.steps.append(s)
        if run.failure():
            return


def measure_reader(
    ctx: Ctx, res: ScaleResult, urls_file: Path, workers: int, tag: str = ""
) -> None:
    n, posts = res.feeds, res.posts
    d = ctx.work / f"reader-{n}-w{workers}-r{res.round}{tag}"
    d.mkdir()
    db = d / "reader.sqlite"
    w = [ctx.python, str(HERE / "workers.py")]
    log(f"reader (workers={workers}), {n} feeds")
    run = run_measured(
        [*w, "reader-setup", "--db", str(db), "--urls", str(urls_file)],
        timeout=ctx.timeout,
        cwd=d,
    )
    res.steps.append(step_from_run("reader", "add_feed", run, n, posts, db=db, rate=False))
    if run.failure():
        return
    for step in ("first", "unchanged"):
        ctx.server.reset()
        run = run_measured(
            [*w, "reader-update", "--db", str(db), "--workers", str(workers)],
            timeout=ctx.timeout,
            cwd=d,
        )
        s = step_from_run("reader", step, run, n, posts, db=db, server=ctx.server.stats())
        if isinstance(s.reported, dict):
            s.inner_s = s.reported.get("update_s")
        res.steps.append(s)
        if run.failure():
            return
        if isinstance(s.reported, dict) and s.reported.get("errors"):
            log(f"  reader {step}: errors, e.g. {s.reported['errors'][:2]}")
    if ctx.reader_search:
        # After both passes, so that their figures are those of reader as it comes.
        run = run_measured([*w, "reader-search", "--db", str(db)], timeout=ctx.timeout, cwd=d)
        s = step_from_run("reader", "search", run, n, posts, db=db)
        if isinstance(s.reported, dict):
            s.inner_s = s.reported.get("search_s")
        res.steps.append(s)


def calibrate_reader(
    ctx: Ctx, urls: list[str], candidates: list[int], posts: int
) -> tuple[int, dict[int, float]]:
    urls_file = ctx.work / "calibrate-urls.txt"
    urls_file.write_text("\n".join(urls) + "\n")
    log(f"calibrating reader workers among {candidates} on {len(urls)} feeds (first pass)")
    times: dict[int, float] = {}
    for w in candidates:
        tmp = ScaleResult(feeds=len(urls), posts=posts, corpus_mb=0)
        d = ctx.work / f"reader-{len(urls)}-w{w}-cal"
        d.mkdir()
        db = d / "reader.sqlite"
        cmd = [ctx.python, str(HERE / "workers.py")]
        run = run_measured(
            [*cmd, "reader-setup", "--db", str(db), "--urls", str(urls_file)],
            timeout=ctx.timeout,
        )
        if run.failure():
            log(f"  reader setup failed: {run.failure()}")
            continue
        run = run_measured(
            [*cmd, "reader-update", "--db", str(db), "--workers", str(w)],
            timeout=ctx.timeout,
        )
        tmp.steps.append(step_from_run("reader", f"first (workers={w})", run, len(urls), posts))
        if not run.failure():
            times[w] = run.wall_s
    if not times:
        raise SystemExit("reader failed with every worker count; see the messages above")
    best = min(times, key=lambda k: times[k])
    log(f"reader workers: {best} ({', '.join(f'{k}: {v:.2f}s' for k, v in times.items())})")
    return best, times


# -- report -------------------------------------------------------------------


def _f(v: float | None, fmt: str) -> str:
    if v is None:
        width = fmt.split(".")[0]
        return "—".rjust(int(width) if width.isdigit() else 0)
    return format(v, fmt)


RATIOS = (
    ("reader ÷ townsquare", "reader", "townsquare"),
    ("townsquare ÷ floor", "townsquare", "floor"),
    ("reader ÷ floor", "reader", "floor"),
)


def _ratio_value(a: Step | None, b: Step | None, *, inner: bool = False) -> float | None:
    if a is None or b is None:
        return None
    x, y = (a.inner_s, b.inner_s) if inner else (a.wall_s, b.wall_s)
    return x / y if x and y else None


def _ratio(a: Step | None, b: Step | None, *, inner: bool = False) -> str:
    value = _ratio_value(a, b, inner=inner)
    return "—" if value is None else f"{value:.2f}×"


def print_report(
    results: list[ScaleResult],
    reader_workers: int | None,
    townsquare_startup: dict[str, float] | None,
) -> None:
    p = print
    p("\nwall s: the whole process (interpreter start and imports included) for townsquare and")
    p("reader, which run one process per step; inner s: the step timed inside its process.")
    p("The floor runs both passes in one process; its peak RSS covers both.")
    p("peak RSS: the largest process; all procs: the most its processes held at once, together;")
    p("all PSS: the same as PSS, which counts pages the processes share (libraries) once.")
    if townsquare_startup:
        p(
            f"townsquare --help takes {townsquare_startup['wall_s']:.2f}s "
            f"(peak RSS {townsquare_startup['peak_rss_mb']:.0f} MB): "
            "the start-up cost in each townsquare step."
        )
    rounds = max(r.round for r in results) if results else 1
    for res in results:
        of = f", round {res.round} of {rounds}" if rounds > 1 else ""
        p(f"\n== {res.feeds:,} feeds, {res.posts:,} posts, {res.corpus_mb:.1f} MB of feeds{of} ==")
        head = (
            f"{'system':<12}{'step':<13}{'wall s':>9}{'inner s':>9}{'feeds/s':>10}"
            f"{'posts/s':>10}{'peak RSS MB':>13}{'all procs':>11}{'all PSS':>9}{'CPU s':>8}"
            f"{'DB MB':>9}  server"
        )
        p(head)
        p("-" * (len(head) + 12))
        for s in res.steps:
            name = s.system + (
                f" w{reader_workers}" if s.system == "reader" and reader_workers else ""
            )
            srv = ""
            if s.server and "status" in s.server:
                srv = " ".join(f"{k}:{v}" for k, v in s.server["status"].items())
                if "server_cpu_s" in s.server:
                    srv += f" (cpu {s.server['server_cpu_s']:.1f}s)"
            if s.error:
                p(f"{name:<12}{s.step:<13}  FAILED: {s.error.splitlines()[0]}")
                continue
            p(
                f"{name:<12}{s.step:<13}{_f(s.wall_s, '9.2f')}{_f(s.inner_s, '9.2f')}"
                f"{_f(s.feeds_per_s, '10.1f')}"
                f"{_f(s.posts_per_s, '10.0f')}{_f(s.peak_rss_mb, '13.0f')}"
                f"{_f(s.tree_rss_mb, '11.0f')}{_f(s.tree_pss_mb, '9.0f')}{_f(s.cpu_s, '8.1f')}"
                f"{_f(s.db_mb, '9.1f')}  {srv}"
            )
        fl = res.get("floor", "first")
        if fl and isinstance(fl.reported, dict):
            r = fl.reported
            p(
                f"floor components: fetch {r['fetch_s']:.2f}s + parse {r['parse_s']:.2f}s + "
                f"nh3 {r['sanitize_s']:.2f}s = {r['first_pass_s']:.2f}s "
                f"({r['posts']:,} posts, concurrency {r['concurrency']})"
            )
        for name, reason in res.skipped.items():
            p(f"{name}: skipped — {reason}")
        g = res.get
        hd = ("wall: first", "unchanged", "inner: first", "unchanged")
        p(f"{'ratios':<24}{hd[0]:>12}{hd[1]:>11}{hd[2]:>14}{hd[3]:>11}")
        for label, a, b in RATIOS:
            cells = [
                _ratio(g(a, step), g(b, step), inner=inner)
                for inner in (False, True)
                for step in ("first", "unchanged")
            ]
            p(f"  {label:<22}{cells[0]:>12}{cells[1]:>11}{cells[2]:>14}{cells[3]:>11}")
        first, search, ours = g("reader", "first"), g("reader", "search"), g("townsquare", "first")
        if first and search and ours and first.wall_s and search.wall_s and ours.wall_s:
            both = first.wall_s + search.wall_s
            p(
                f"  reader first pass and search index ({first.wall_s:.2f}s + "
                f"{search.wall_s:.2f}s) ÷ townsquare first pass (which indexes): "
                f"{both / ours.wall_s:.2f}×"
            )

    if rounds > 1:
        print_medians(results)
    p("\nscaling: ms per feed")
    cols = [(sys_, step) for sys_ in SYSTEMS for step in ("first", "unchanged")]
    cols = [c for c in cols if any(r.get(*c) for r in results)]
    p(f"{'feeds':>8}" + "".join(f"{f'{a} {b}':>22}" for a, b in cols))
    for res in results:
        if res.round != 1:
            continue
        cells = []
        for c in cols:
            st = res.get(*c)
            ms = 1000 * st.wall_s / res.feeds if st and st.wall_s else None
            cells.append(_f(ms, "22.2f"))
        p(f"{res.feeds:>8}" + "".join(cells))


def print_medians(results: list[ScaleResult]) -> None:
    """Each ratio's median over the rounds at a scale, with its range: the machine's speed
    drifts between steps, and a ratio taken within each round, then the median, is steadier
    than any one round's."""
    p = print
    p("\nratios over the rounds (each taken within its round): median (lowest–highest)")
    for n in sorted({r.feeds for r in results}):
        rounds = [r for r in results if r.feeds == n]
        p(f"  {n:,} feeds, {len(rounds)} rounds")
        for (label, a, b), step, inner in itertools.product(
            RATIOS, ("first", "unchanged"), (False, True)
        ):
            ratios = (_ratio_value(r.get(a, step), r.get(b, step), inner=inner) for r in rounds)
            values = [v for v in ratios if v is not None]
            if values:
                kind = "inner" if inner else "wall"
                p(
                    f"    {label:<22}{step:<10}{kind:<6}{statistics.median(values):6.2f}× "
                    f"({min(values):.2f}–{max(values):.2f}×)"
                )


# -- main ---------------------------------------------------------------------


def default_python() -> str:
    venv = REPO / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def parse_int_list(s: str) -> list[int]:
    try:
        values = [int(x) for x in s.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {s!r}") from None
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {s!r}")
    return values


def parse_only(s: str) -> list[str]:
    names = [x.strip() for x in s.split(",") if x.strip()]
    bad = [x for x in names if x not in SYSTEMS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"--only takes some of {','.join(SYSTEMS)}; got {s!r}")
    return names


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--feeds", type=int, default=1000, help="corpus size (default 1000)")
    ap.add_argument(
        "--scales",
        type=parse_int_list,
        help="several sizes in one run, e.g. 100,1000,5000",
    )
    ap.add_argument(
        "--only", type=parse_only, default=list(SYSTEMS), help="townsquare,reader,floor"
    )
    ap.add_argument(
        "--workers",
        type=parse_int_list,
        default=[1, 4, 16],
        help="reader's update_feeds workers; given several, the fastest on the smallest "
        "scale is used (default 1,4,16)",
    )
    ap.add_argument(
        "--calibrate-feeds",
        type=int,
        default=200,
        help="feeds used to pick reader's workers (default 200)",
    )
    ap.add_argument("--floor-concurrency", type=int, default=256)
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure every system this many times at each scale, in turn, and give each "
        "ratio's median over the rounds (default 1)",
    )
    ap.add_argument("--out", type=Path, help="write the results as JSON here")
    ap.add_argument("--seed", type=int, default=corpus.DEFAULT_SEED)
    ap.add_argument(
        "--corpus-dir",
        type=Path,
        help="corpus cache (default: a directory under the temp dir)",
    )
    ap.add_argument(
        "--gzip",
        action="store_true",
        help="serve gzip-encoded feeds to clients that ask",
    )
    ap.add_argument(
        "--no-validators",
        action="store_true",
        help="serve no ETag or Last-Modified and never 304, as many servers do: the"
        " unchanged pass then gets every feed whole again",
    )
    ap.add_argument(
        "--python",
        default=default_python(),
        help="interpreter for the measured processes",
    )
    ap.add_argument("--townsquare-cmd", help="how to run the CLI (default: PYTHON -m townsquare)")
    ap.add_argument(
        "--timeout",
        type=float,
        help="seconds per measured process (default 300 + 1 per feed)",
    )
    ap.add_argument(
        "--reader-search",
        action="store_true",
        help="also build reader's full-text search index after its passes (Townsquare's "
        "first pass builds its own), timed as a step of its own",
    )
    ap.add_argument(
        "--keep",
        action="store_true",
        help="keep the databases (the work directory is printed)",
    )
    a = ap.parse_args(argv)

    scales = sorted(set(a.scales or [a.feeds]))
    top = scales[-1]
    check = subprocess.run(
        [a.python, "-c", "import aiohttp, lxml, nh3"],
        capture_output=True,
        text=True,
        check=False,
    )
    if check.returncode != 0:
        ap.error(f"{a.python} cannot import aiohttp, lxml and nh3 (use --python):\n{check.stderr}")
    if "reader" in a.only:
        check = subprocess.run(
            [a.python, "-c", "import reader"],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode != 0:
            ap.error(
                f"{a.python} cannot import reader (pip install reader, or leave it out with --only)"
            )

    load_before = os.getloadavg()
    if load_before[0] > 0.5:
        log(
            f"WARNING: load average {load_before[0]:.1f} before starting; other work on this "
            f"machine ({os.cpu_count()} CPUs) will skew the figures"
        )
    log(f"corpus: {top} feeds, seed {a.seed}")
    cdir, metas, gen_s = corpus.ensure_corpus(top, a.seed, a.corpus_dir)
    how = f"generated in {gen_s:.1f}s" if gen_s > 0.05 else "cached"
    log(f"corpus at {cdir} ({how})")
    sizes = [(cdir / m.filename).stat().st_size for m in metas]

    work = Path(tempfile.mkdtemp(prefix="townsquare-bench-"))
    ts_cmd = shlex.split(a.townsquare_cmd) if a.townsquare_cmd else [a.python, "-m", "townsquare"]
    results: list[ScaleResult] = []
    reader_workers: int | None = None
    calibration: dict[int, float] = {}
    townsquare_skip: str | None = None
    townsquare_startup: dict[str, float] | None = None
    try:
        with serve(
            a.python, cdir, top, a.seed, a.gzip, work / "server.log", not a.no_validators
        ) as server:
            ctx = Ctx(a.python, ts_cmd, server, a.timeout or 300 + top, work, a.reader_search)
            if "townsquare" in a.only:
                townsquare_skip, help_run = townsquare_available(ctx)
                if help_run is not None:
                    townsquare_startup = {
                        "wall_s": help_run.wall_s,
                        "peak_rss_mb": help_run.peak_rss_mb,
                    }
                if townsquare_skip:
                    log(f"SKIPPING townsquare: {townsquare_skip}")
            all_urls = [f"{server.base}/{m.path}" for m in metas]
            if "reader" in a.only:
                if len(a.workers) == 1:
                    reader_workers = a.workers[0]
                else:
                    k = min(scales[0], a.calibrate_feeds)
                    reader_workers, calibration = calibrate_reader(
                        ctx, all_urls[:k], a.workers, sum(m.n_posts for m in metas[:k])
                    )
            for n in scales:
                ctx.timeout = a.timeout or 300 + n
                urls_file = work / f"urls-{n}.txt"
                urls_file.write_text("\n".join(all_urls[:n]) + "\n")
                opml = work / f"feeds-{n}.opml"
                opml.write_text(make_opml(all_urls[:n]))
                for round_ in range(1, a.rounds + 1):
                    res = ScaleResult(
                        n, sum(m.n_posts for m in metas[:n]), sum(sizes[:n]) / 1e6, round_
                    )
                    of = f", round {round_} of {a.rounds}" if a.rounds > 1 else ""
                    log(f"=== {n} feeds: {res.posts} posts, {res.corpus_mb:.1f} MB{of}")
                    if "floor" in a.only:
                        measure_floor(ctx, res, urls_file, a.floor_concurrency)
                    if "townsquare" in a.only:
                        if townsquare_skip:
                            res.skipped["townsquare"] = townsquare_skip
                        else:
                            measure_townsquare(ctx, res, opml)
                    if "reader" in a.only and reader_workers is not None:
                        measure_reader(ctx, res, urls_file, reader_workers)
                    results.append(res)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    except ServerGoneError as e:
        log(f"ERROR: {e}")
        return 1
    finally:
        if a.keep:
            log(f"kept the work directory: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    print_report(results, reader_workers, townsquare_startup)
    if a.out:
        doc = {
            "benchmark": "townsquare ingest (issue 3)",
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": {
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "python": a.python,
                "loadavg_before": load_before,
                "loadavg_after": os.getloadavg(),
            },
            "seed": a.seed,
            "gzip": a.gzip,
            "validators": not a.no_validators,
            "reader_workers": reader_workers,
            "reader_calibration_s": calibration,
            "townsquare_startup": townsquare_startup,
            "results": [asdict(r) for r in results],
        }
        a.out.write_text(json.dumps(doc, indent=2, default=str) + "\n")
        log(f"results written to {a.out}")
    return 0


def make_opml(urls: Sequence[str]) -> str:
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        "<head><title>townsquare ingest benchmark</title></head>",
        "<body>",
    ]
    for i, u in enumerate(urls):
        lines.append(
            f'<outline type="rss" text="Blog {i}" title="Blog {i}" xmlUrl={quoteattr(u)}/>'
        )
    lines += ["</body>", "</opml>", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
