"""Chunks read straight from a file descriptor, for importer Open and storage Get.

`os.pread` returns a fresh `bytes` per chunk, which the SDK's `iter_chunks` passes on as is;
a buffered file object would read into a bytearray and copy it again. The SDK calls `close()`
when the stream ends or is cancelled, so the descriptor never leaks.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from kloset_sdk import CHUNK_SIZE


class FdChunks:
    """`length` bytes from `offset` (None: to the end of the file), in chunks of <= 1 MiB."""

    def __init__(self, fd: int, offset: int = 0, length: int | None = None) -> None:
        self._fd = fd
        self._offset = offset
        self._length = length

    def __iter__(self) -> Iterator[bytes]:
        pos, left = self._offset, self._length
        try:
            while left is None or left > 0:
                want = CHUNK_SIZE if left is None else min(CHUNK_SIZE, left)
                data = os.pread(self._fd, want, pos)
                if not data:
                    return
                pos += len(data)
                if left is not None:
                    left -= len(data)
                yield data
        finally:
            self.close()

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)
