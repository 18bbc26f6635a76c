"""Chunking rules shared by every connector (PROTOCOL.md §1.4, P6, P12).

The host sends and expects chunks of at most 1 MiB, never empty on Open, and rejects any message
over 4 MiB. `iter_chunks` turns whatever a connector returns (bytes, a file object, an iterator
of blobs of any size) into chunks that obey those rules; `ChunkStream` turns incoming chunks
back into a file object for exporters and storage Put.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import IO, Any

CHUNK_SIZE = 1 << 20
MAX_MESSAGE = 4 << 20


def iter_chunks(content: Any, size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield non-empty chunks of at most `size` bytes from bytes, a readable, or an iterable."""
    if isinstance(content, (bytes, bytearray, memoryview)):
        view = memoryview(content)
        for off in range(0, len(view), size):
            yield bytes(view[off : off + size])
        return
    read = getattr(content, "read", None)
    if read is not None:
        readinto = getattr(content, "readinto", None)
        if readinto is not None and isinstance(content, io.RawIOBase | io.BufferedIOBase):
            while True:
                buf = bytearray(size)
                n = readinto(buf)
                if not n:
                    return
                if n < size:
                    del buf[n:]
                yield bytes(buf)
        while True:
            data = read(size)
            if not data:
                return
            yield from iter_chunks(data, size) if len(data) > size else (bytes(data),)
        return
    for blob in content:
        if not blob:
            continue
        if len(blob) <= size:
            yield bytes(blob)
        else:
            yield from iter_chunks(blob, size)


class ChunkStream(io.RawIOBase):
    """A read-only file over a sequence of incoming chunks.

    `next_chunk` returns the next chunk, or None at a clean end of data. It raises (for instance
    `ProtocolError` when the host stopped without the terminator) to make `read` raise, so a
    writer never mistakes a truncated stream for a complete one.
    """

    def __init__(self, next_chunk: Callable[[], bytes | None]) -> None:
        super().__init__()
        self._next = next_chunk
        self._buf = memoryview(b"")
        self._eof = False
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def _fill(self) -> bool:
        while not self._buf:
            if self._eof:
                return False
            chunk = self._next()
            if chunk is None:
                self._eof = True
                return False
            self._buf = memoryview(chunk)
        return True

    def readinto(self, b: Any) -> int:
        if not self._fill():
            return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        self.bytes_read += n
        return n

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        # Fill up to `size` unless EOF: many libraries treat a short read as the end.
        parts: list[bytes] = []
        want = size
        while want > 0 and self._fill():
            piece = self._buf[:want].tobytes()
            self._buf = self._buf[len(piece) :]
            parts.append(piece)
            want -= len(piece)
        out = b"".join(parts)
        self.bytes_read += len(out)
        return out

    def read_chunk(self) -> bytes:
        """Return the next incoming chunk whole (no copy), or b'' at the end."""
        if not self._fill():
            return b""
        out = self._buf
        self._buf = memoryview(b"")
        self.bytes_read += len(out)
        whole = out.obj
        if isinstance(whole, bytes) and len(whole) == len(out):
            return whole
        return out.tobytes()

    def readall(self) -> bytes:
        parts: list[bytes] = []
        while True:
            chunk = self.read_chunk()
            if not chunk:
                return b"".join(parts)
            parts.append(chunk)

    def drain(self) -> int:
        """Consume what is left (raising like read on a truncated stream); returns bytes skipped."""
        n = 0
        while True:
            chunk = self.read_chunk()
            if not chunk:
                return n
            n += len(chunk)

    def __iter__(self) -> Iterator[bytes]:
        while True:
            chunk = self.read_chunk()
            if not chunk:
                return
            yield chunk


def copy_stream(src: IO[bytes] | ChunkStream, dst: IO[bytes]) -> int:
    """Copy all of `src` into `dst` chunk by chunk; returns bytes copied."""
    n = 0
    if isinstance(src, ChunkStream):
        for chunk in src:
            dst.write(chunk)
            n += len(chunk)
        return n
    while True:
        data = src.read(CHUNK_SIZE)
        if not data:
            return n
        dst.write(data)
        n += len(data)


def part_size_for(total: int | None, minimum: int, maximum_parts: int, preferred: int) -> int:
    """Smallest part size >= preferred (and >= minimum) that fits `total` in `maximum_parts`."""
    size = max(preferred, minimum)
    if total is not None and total > size * maximum_parts:
        size = -(-total // maximum_parts)
    return size
