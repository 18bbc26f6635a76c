"""glibc's malloc, told to keep large buffers out of its heaps.

glibc gives an allocation of at least M_MMAP_THRESHOLD its own mapping, returned to the kernel
when freed. But every such free raises the threshold (up to 32 MiB), and from then on the
1 MiB chunks and multi-MiB parts a plugin moves come from glibc's per-thread heaps, which keep
what they once held. Setting the threshold, here to glibc's own starting value of 128 KiB,
turns that raising off: a 1 GiB `plakar backup` into our s3 storage peaked at 248 MiB of
plugin RSS instead of 323 MiB (docs/BENCHMARKS.notes.md). A threshold the user set through
GLIBC_TUNABLES is left alone; on other C libraries this does nothing.
"""

from __future__ import annotations

import os
import sys

M_MMAP_THRESHOLD = -3  # from glibc's malloc.h
MMAP_THRESHOLD = 128 << 10


def keep_large_buffers_mapped() -> bool:
    """Fix glibc's mmap threshold; True when it was set."""
    if not sys.platform.startswith("linux"):
        return False
    if "mmap_threshold" in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (ImportError, OSError, AttributeError):  # a build without ctypes, or no mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
