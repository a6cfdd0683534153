"""How this process's C heap (glibc's malloc) is set up: memory a pass frees goes back
to the system, and threads share two arenas.

- glibc takes a block of 128 KB or more straight from the system and gives it back
  when freed, but it raises that threshold to the size of each such block freed, up to
  32 MB.  After the first few feed bodies, bodies and posts would come from the heap,
  and the heap would keep what they leave: about 10 MB more at the peak of a 5,000-feed
  pass.  A fixed threshold keeps giving them back.
- glibc gives each new thread an arena of its own, up to eight per core, and memory
  freed in one arena serves only that arena's threads.  A pass has a dozen threads (the
  writer, the checkpoint, the parsing processes' pipes, the event loop's helpers), so
  each arena held its own free space: two arenas make the main process's peak 10–15 MB
  smaller at 1,000 feeds, no slower (``docs/performance.md``).

``tune_heap`` is called first thing, before any thread starts.  Elsewhere than glibc it
does nothing.
"""

from __future__ import annotations

import ctypes

M_MMAP_THRESHOLD = -3  # glibc's <malloc.h>
M_ARENA_MAX = -8
MMAP_THRESHOLD = 128 * 1024  # glibc's default, made fixed
ARENAS = 2


def tune_heap() -> None:
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    mallopt(M_ARENA_MAX, ARENAS)
