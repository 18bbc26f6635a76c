"""kloset_sdk.memory: glibc's mmap threshold, fixed at plugin start."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from kloset_sdk.memory import keep_large_buffers_mapped

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="a glibc-only setting")


@glibc
def test_sets_the_threshold_on_glibc() -> None:
    assert keep_large_buffers_mapped() is True


@glibc
def test_a_threshold_from_glibc_tunables_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=1048576")
    assert keep_large_buffers_mapped() is False


@glibc
def test_a_freed_large_buffer_goes_back_to_the_kernel() -> None:
    """Without the fixed threshold, freeing one 8 MiB buffer raises glibc's threshold, and the
    next 1 MiB buffers come from a heap; with it, each still gets its own mapping (mallinfo2's
    hblkhd: the bytes glibc holds in mmapped blocks)."""
    probe = """
import ctypes, sys
from kloset_sdk.memory import keep_large_buffers_mapped
if sys.argv[1] == "fixed":
    keep_large_buffers_mapped()
b = bytearray(8 << 20)
del b
keep = [bytearray(1 << 20) for _ in range(16)]
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in "arena ordblks smblks hblks hblkhd usmblks "
                "fsmblks uordblks fordblks keepcost".split()]
f = ctypes.CDLL(None).mallinfo2
f.restype = Info
print(f().hblkhd >> 20)
"""
    mapped = {}
    for mode in ("fixed", "default"):
        out = subprocess.run(
            [sys.executable, "-c", probe, mode], capture_output=True, text=True, check=True
        )
        mapped[mode] = int(out.stdout)
    assert mapped["fixed"] >= 16 > mapped["default"], mapped
