"""Fewer malloc arenas for the long-running commands (``atx agent``, ``atx sync``).

glibc gives each thread that allocates its own arena (up to 8 per core), and memory freed in
one is not reused by another: the agent's reading, posting and write-back threads then hold
10-30 MB more than they use (benchmarks/README.md: peak RSS 118-123 MB with two arenas, 131-153
MB without, same wall time). ``MALLOC_ARENA_MAX`` in the environment (the Docker image sets it)
does the same before Python starts; this sets it at start-up for every other way of running the
agent, before its threads exist. Elsewhere than glibc nothing happens.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys

log = logging.getLogger("atx")
M_ARENA_MAX = -8  # glibc <malloc.h>
ARENAS = 2


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """True when the limit was set now; False when the environment sets it or this is not
    glibc (then the allocator's own behaviour stands)."""
    if os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(M_ARENA_MAX, arenas))
    if not done:
        log.debug("mallopt(M_ARENA_MAX, %d) refused", arenas)
    return done
