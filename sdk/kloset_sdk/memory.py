"""glibc's malloc, told to keep multi-MiB buffers out of its heaps, at a fixed threshold.

glibc gives an allocation of at least M_MMAP_THRESHOLD its own mapping, returned to the kernel
when freed. But every such free raises the threshold (up to 32 MiB), and from then on the
multi-MiB parts a plugin moves come from glibc's per-thread heaps, which keep what they once
held. Setting the threshold turns that raising off. It is set to 2 MiB, above the 1 MiB
chunks of the wire: those come from the heaps and are reused, while a mapping per chunk costs
a page fault per 4 KiB (at 128 KiB, transport throughput fell 14 to 31 %: a large-file import
377 against 544 MB/s). Measured under plakar (docs/BENCHMARKS.notes.md), peak RSS of our s3
storage during a 1 GiB backup: 323 MiB with glibc's rising threshold, 209 MiB fixed at
128 KiB, 210 MiB fixed at 2 MiB. A threshold the user set through GLIBC_TUNABLES is left
alone; on other C libraries this does nothing.
"""

from __future__ import annotations

import os
import sys

M_MMAP_THRESHOLD = -3  # from glibc's malloc.h
MMAP_THRESHOLD = 2 << 20


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
