"""The C heap of a townsquare process: threads share two arenas (``townsquare.heap``)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="arenas are glibc's",
)

# Eight threads each take memory from malloc while all of them are alive, then glibc
# lists its arenas on standard error ("Arena 0:", "Arena 1:", ...).
_PROGRAM = """
import ctypes, sys, threading
if sys.argv[1] == "tuned":
    from townsquare.heap import tune_heap
    tune_heap()
elif sys.argv[1] == "command":  # what the townsquare command does before anything else
    from townsquare.cli import main
    try:
        main(["--version"])
    except SystemExit:
        pass
started = threading.Barrier(9)
done = threading.Event()
def work():
    held = [bytearray(2_000) for _ in range(100)]  # above pymalloc's 512 bytes: malloc's
    started.wait()
    done.wait()
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads:
    t.start()
started.wait()
ctypes.CDLL(None).malloc_stats()
done.set()
for t in threads:
    t.join()
"""


def _arenas(mode: str) -> int:
    run = subprocess.run(
        [sys.executable, "-c", _PROGRAM, mode], capture_output=True, text=True, check=True
    )
    return sum(1 for line in run.stderr.splitlines() if line.startswith("Arena "))


def test_threads_share_two_arenas() -> None:
    assert _arenas("tuned") == 2
    # Without it, glibc gives each new thread an arena of its own.
    assert _arenas("plain") > 2


def test_the_command_line_tunes_the_heap_first() -> None:
    assert _arenas("command") == 2
