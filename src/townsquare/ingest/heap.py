"""Memory that a pass frees goes back to the system.

glibc's malloc takes a block of 128 KB or more straight from the system and gives it
back when freed, but it raises that threshold to the size of each such block freed, up
to 32 MB. After the first few feed bodies, bodies and posts come from the heap, and
the heap keeps what they leave: about 10 MB more at the peak of a 5,000-feed pass.
A fixed threshold keeps giving them back.  Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes

M_MMAP_THRESHOLD = -3  # glibc's <malloc.h>
THRESHOLD = 128 * 1024  # glibc's default, made fixed


def give_back_large_blocks() -> None:
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(M_MMAP_THRESHOLD, THRESHOLD)
