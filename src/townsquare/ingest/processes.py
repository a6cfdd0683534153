"""Parsing processes of Townsquare's own: an ``Executor`` whose workers are child
processes that take jobs on their standard input and answer on their standard output.

multiprocessing's pool needs semaphores, and with them a resource-tracker process that
lives as long as the pass (12 MB) and a thread that feeds its queue; a child of our own
needs only a pipe each way.  A child ends when its input closes, and when this process
has gone, ``kill -9`` included, even in the middle of a job: a killed pass leaves nothing
running.  A child that dies (killed, or out of memory) fails only the jobs it had been
sent; the next job starts a new one.  A child runs at a lower priority than its parent
(``NICENESS``), so that parsing never holds up fetching, writing or serving pages.
"""

from __future__ import annotations

import fcntl
import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from contextlib import suppress
from typing import IO, Any

_LENGTH = struct.Struct("!Q")  # each message: its length, then a pickle
NICENESS = 19  # how far below this process a child's priority is: the lowest there is
CLOSE_TIMEOUT = 30.0  # seconds a child may take to finish its job once told to stop
PARENT_CHECK = 0.5  # seconds between a child's looks at whether its parent is there
# Each pipe's buffer, where the system allows it (Linux: up to /proc/sys/fs/pipe-max-size,
# 1 MB by default). A feed's answer, a few hundred kilobytes, then goes in one write,
# not in 64 KB pieces that each wait for the other side to wake up and read.
PIPE_BYTES = 1 << 20

_Job = tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]  # a future and what to call


class WorkerGoneError(RuntimeError):
    """The parsing process stopped before it answered."""


def _write(stream: IO[bytes], data: bytes) -> None:
    stream.write(_LENGTH.pack(len(data)))
    stream.write(data)
    stream.flush()


def _read(stream: IO[bytes]) -> bytes | None:
    """The next message, or None at the end of the stream."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (size,) = _LENGTH.unpack(head)
    data = stream.read(size)
    return data if len(data) == size else None


def serve() -> None:
    """A child's loop: run each job read from standard input, answer on standard output."""
    # Ctrl-C in a terminal reaches the child too; the parent decides, and closes its input.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Parsing yields the CPU: fetching, writing the store and serving pages come first.
    with suppress(OSError):
        os.nice(NICENESS)
    threading.Thread(target=_end_with, args=(os.getppid(),), daemon=True).start()
    jobs = os.fdopen(os.dup(0), "rb")
    answers = os.fdopen(os.dup(1), "wb")
    # Anything else that writes to standard output must not break the answers.
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    while (data := _read(jobs)) is not None:
        function, args = pickle.loads(data)
        try:
            answer: tuple[bool, Any] = (True, function(*args))
        except Exception as exc:  # the caller's future raises it
            answer = (False, exc)
        try:
            payload = pickle.dumps(answer, pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            payload = pickle.dumps((False, RuntimeError(f"{type(exc).__name__}: {exc}")))
        try:
            _write(answers, payload)
        except BrokenPipeError:  # the parent has gone
            os._exit(0)


def _end_with(parent: int) -> None:
    """End the child when its parent has gone, even in the middle of a job."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK)
    os._exit(0)


def _widen(pipe: IO[bytes]) -> None:
    """Give a pipe a buffer of ``PIPE_BYTES``, or leave it as it is where it cannot."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)  # Linux only
    if set_size is not None:
        with suppress(OSError):  # larger than this system allows
            fcntl.fcntl(pipe.fileno(), set_size, PIPE_BYTES)


class _Process:
    """One child process, and the futures of the jobs sent to it, in order."""

    def __init__(self) -> None:
        code = f"import sys; sys.path[:] = {sys.path!r}; from {__name__} import serve; serve()"
        self.popen = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        for pipe in (self.popen.stdin, self.popen.stdout):
            assert pipe is not None
            _widen(pipe)
        self._sent: deque[Future[Any]] = deque()
        self._lock = threading.Lock()
        self.gone = False
        threading.Thread(target=self._receive, name="parse-answers", daemon=True).start()

    def send(self, future: Future[Any], payload: bytes) -> None:
        with self._lock:
            if self.gone:
                future.set_exception(WorkerGoneError("the parsing process stopped"))
                return
            self._sent.append(future)
        stdin = self.popen.stdin
        assert stdin is not None
        with suppress(OSError):  # it has died: _receive fails what it was sent
            _write(stdin, payload)

    def _receive(self) -> None:
        stdout = self.popen.stdout
        assert stdout is not None
        while (data := _read(stdout)) is not None:
            try:
                ok, value = pickle.loads(data)
            except Exception:
                self.popen.kill()
                break
            with self._lock:
                future = self._sent.popleft()
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        stdout.close()
        with self._lock:
            self.gone = True
            lost = list(self._sent)
            self._sent.clear()
        for future in lost:
            future.set_exception(
                WorkerGoneError("the parsing process stopped before it had finished")
            )

    def close(self) -> None:
        stdin = self.popen.stdin
        assert stdin is not None
        with suppress(OSError):
            stdin.close()
        try:
            self.popen.wait(timeout=CLOSE_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


class _Worker:
    """A thread that sends jobs to its child process, one at a time (a job may wait for
    the child to read it), starting a new child when the last has died."""

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.pending = 0  # jobs given to it and not yet answered
        self._process: _Process | None = None
        self._thread = threading.Thread(target=self._run, name="parse-jobs", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (job := self.jobs.get()) is not None:
            future, function, args = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                payload = pickle.dumps((function, args), pickle.HIGHEST_PROTOCOL)
            except Exception as exc:
                future.set_exception(exc)
                continue
            if self._process is None or self._process.gone:
                if self._process is not None:
                    self._process.close()
                try:
                    self._process = _Process()
                except OSError as exc:
                    future.set_exception(exc)
                    continue
            self._process.send(future, payload)
        if self._process is not None:
            self._process.close()

    def stop(self, *, wait: bool) -> None:
        self.jobs.put(None)
        if wait:
            self._thread.join()


class ParsingProcesses(Executor):
    """``processes`` child processes; a job goes to the one with the fewest waiting."""

    def __init__(self, processes: int) -> None:
        self._workers = [_Worker() for _ in range(max(1, processes))]
        self._lock = threading.Lock()
        self._closed = False

    def submit(  # type: ignore[override]  # positional arguments only
        self, fn: Callable[..., Any], /, *args: Any
    ) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot give jobs to parsing processes that have stopped")
            worker = min(self._workers, key=lambda w: w.pending)
            worker.pending += 1

        def answered(_: Future[Any]) -> None:
            with self._lock:
                worker.pending -= 1

        future.add_done_callback(answered)
        worker.jobs.put((future, fn, args))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
        for worker in self._workers:
            if cancel_futures:
                while True:
                    try:
                        job = worker.jobs.get_nowait()
                    except queue.Empty:
                        break
                    if job is not None:
                        job[0].cancel()
            worker.stop(wait=wait)
