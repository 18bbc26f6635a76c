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
def test_parts_keep_their_own_mapping_and_chunks_stay_in_the_heap() -> None:
    """Without the fixed threshold, freeing one 16 MiB buffer raises glibc's threshold, and the
    next 4 MiB buffers come from a heap; with it, each still gets its own mapping, while 1 MiB
    chunks come from the heap (mallinfo2's hblkhd: the bytes glibc holds in mmapped blocks)."""
    probe = """
import ctypes, sys
from kloset_sdk.memory import keep_large_buffers_mapped
if sys.argv[1] == "fixed":
    keep_large_buffers_mapped()
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in "arena ordblks smblks hblks hblkhd usmblks "
                "fsmblks uordblks fordblks keepcost".split()]
f = ctypes.CDLL(None).mallinfo2
f.restype = Info
b = bytearray(16 << 20)
del b
base = f().hblkhd
chunks = [bytearray(1 << 20) for _ in range(16)]
after_chunks = f().hblkhd
parts = [bytearray(4 << 20) for _ in range(8)]
print((after_chunks - base) >> 20, (f().hblkhd - after_chunks) >> 20)
"""
    mapped = {}
    for mode in ("fixed", "default"):
        out = subprocess.run(
            [sys.executable, "-c", probe, mode], capture_output=True, text=True, check=True
        )
        chunks, parts = (int(n) for n in out.stdout.split())
        mapped[mode] = (chunks, parts)
    assert mapped["fixed"][0] == 0, mapped  # 1 MiB chunks: from the heap
    assert mapped["fixed"][1] >= 32 > mapped["default"][1], mapped  # 4 MiB parts: mapped
