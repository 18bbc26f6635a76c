"""Chunking rules shared by every connector (docs/PROTOCOL.md: Messages and limits).

The host sends and expects chunks of at most 1 MiB, never empty on Open, and rejects any message
over 4 MiB. `iter_chunks` turns whatever a connector returns (bytes, a file object, an iterator
of blobs of any size) into chunks that obey those rules; `ChunkStream` turns incoming chunks
back into a file object for exporters and storage Put.
"""

from __future__ import annotations

import io
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from typing import IO, Any

CHUNK_SIZE = 1 << 20
MAX_MESSAGE = 4 << 20


def iter_chunks(content: Any, size: int = CHUNK_SIZE) -> Generator[bytes, None, None]:
    """Yield non-empty chunks of at most `size` bytes from bytes, a readable, or an iterable."""
    if isinstance(content, (bytes, bytearray, memoryview)):
        view = memoryview(content)
        for off in range(0, len(view), size):
            yield bytes(view[off : off + size])
        return
    read = getattr(content, "read", None)
    if read is not None:
        # read(size) hands back a fresh bytes object (one allocation, no copy); readinto into a
        # bytearray would zero 1 MiB per chunk and then copy it into bytes.
        while True:
            data = read(size)
            if not data:
                return
            if len(data) > size:
                yield from iter_chunks(data, size)
            else:
                yield data if type(data) is bytes else bytes(data)
        return
    for blob in content:
        if not blob:
            continue
        if len(blob) <= size:
            yield bytes(blob)
        else:
            yield from iter_chunks(blob, size)


def announce_first(
    next_chunk: Callable[[], bytes | memoryview | None], announce: Callable[[], None]
) -> Callable[[], bytes | memoryview | None]:
    """`next_chunk`, calling `announce()` once, when the connector takes its first data.

    The servicers log that moment at debug level: it is how a test (or a user reading a debug
    log) knows a Put or an Export is really under way in the connector, not only in transit.
    """
    done = [False]

    def pull() -> bytes | memoryview | None:
        chunk = next_chunk()
        if chunk and not done[0]:
            done[0] = True
            announce()
        return chunk

    return pull


class ChunkStream(io.RawIOBase):
    """A read-only file over a sequence of incoming chunks.

    `next_chunk` returns the next chunk, or None at a clean end of data. It raises (for instance
    `ProtocolError` when the host stopped without the terminator) to make `read` raise, so a
    writer never mistakes a truncated stream for a complete one.
    """

    def __init__(self, next_chunk: Callable[[], bytes | memoryview | None]) -> None:
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


# -- bulk messages on the wire, without protobuf objects ------------------------------------------
# The messages that carry file data are one bytes field each (GetResponse, OpenResponse: `bytes
# chunk = 1`) or a few scalars around one (PutRequest). Building a protobuf object for a 1 MiB
# chunk copies it twice (into the message, then out of it) and, for requests, does so on grpcio's
# single completion-queue thread, which every call in the process waits on. These helpers write
# and read that wire format directly: one copy to build a response, none to parse a request.

_CHUNK_FIELD = b"\x0a"  # field 1, wire type 2 (length-delimited)


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def encode_chunk_message(chunk: bytes | bytearray | memoryview) -> bytes:
    """The serialized `{bytes chunk = 1}` message (GetResponse, OpenResponse) for `chunk`."""
    return b"".join((_CHUNK_FIELD, _varint(len(chunk)), chunk))


class PutMessage:
    """A parsed `store.PutRequest`: `chunk` is a view into the received bytes (no copy)."""

    __slots__ = ("chunk", "flags", "mac", "type")

    def __init__(self, mac: memoryview, type: int, chunk: memoryview, flags: int) -> None:
        self.mac = mac
        self.type = type
        self.chunk = chunk
        self.flags = flags


def _short_varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """A varint of at most 4 bytes (< 2**28), or (-1, pos) for anything else."""
    result = shift = 0
    while pos < end and shift < 28:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
    return -1, pos


def parse_put_request(raw: bytes) -> PutMessage:
    """Decode `PutRequest{mac=1, type=2, chunk=3, flags=4}` exactly as protobuf does.

    The fast path accepts only those four fields with their own wire types and small varints
    (all a real host ever sends); anything else (unknown fields, groups, overlong or truncated
    varints) is handed to protobuf itself, so odd input gets protobuf's answer, DecodeError
    included.
    """
    view = memoryview(raw)
    mac = chunk = view[0:0]
    typ = flags = 0
    pos, end = 0, len(raw)
    while pos < end:
        key = raw[pos]
        pos += 1
        if key == 0x1A or key == 0x0A:  # chunk / mac: length-delimited
            size, pos = _short_varint(raw, pos, end)
            if size < 0 or pos + size > end:
                return _slow_put(raw)
            if key == 0x1A:
                chunk = view[pos : pos + size]
            else:
                mac = view[pos : pos + size]
            pos += size
        elif key == 0x10 or key == 0x20:  # type / flags: small non-negative enums
            value, pos = _short_varint(raw, pos, end)
            if value < 0:
                return _slow_put(raw)
            if key == 0x10:
                typ = value
            else:
                flags = value
        else:
            return _slow_put(raw)
    return PutMessage(mac, typ, chunk, flags)


def _slow_put(raw: bytes) -> PutMessage:
    from ._pb import storage_pb2

    msg = storage_pb2.PutRequest.FromString(raw)
    return PutMessage(memoryview(msg.mac), int(msg.type), memoryview(msg.chunk), int(msg.flags))


def part_size_for(total: int | None, minimum: int, maximum_parts: int, preferred: int) -> int:
    """Smallest part size >= preferred (and >= minimum) that fits `total` in `maximum_parts`."""
    size = max(preferred, minimum)
    if total is not None and total > size * maximum_parts:
        size = -(-total // maximum_parts)
    return size


#: Chunks read ahead of the wire by `prefetched` (at most this many MiB held per stream).
READ_AHEAD = 3


def streamed(content: Any, ahead: bool = True) -> Generator[bytes, None, None]:
    """The chunks of what a connector returned, read ahead (`prefetched`) unless already in
    memory, and the content closed after, however the stream ends (EOF, error, cancel)."""
    chunks = iter_chunks(content)
    if ahead and not isinstance(content, (bytes, bytearray, memoryview)):
        chunks = prefetched(chunks)
    try:
        yield from chunks
    finally:
        chunks.close()  # stops the read-ahead helper before the source is closed under it
        close = getattr(content, "close", None)
        if close is not None:
            close()


def prefetched(chunks: Iterator[bytes], depth: int = READ_AHEAD) -> Generator[bytes, None, None]:
    """`chunks`, with everything after the first read on a helper thread `depth` chunks ahead.

    A Get or Open that reads a network stream and sends each chunk before reading the next
    makes the two take turns: the socket idles while grpcio sends, and the wire while the
    backend answers. Reading ahead overlaps them. The first two chunks come straight through, so
    a one-chunk answer costs no thread. Closing this generator stops the helper after at most
    the chunk it is reading.
    """
    for _ in range(2):  # a one-chunk answer learns it ended without starting a thread
        chunk = next(chunks, None)
        if chunk is None:
            return
        yield chunk
    ready: queue.Queue[tuple[int, Any]] = queue.Queue(depth)
    stop = threading.Event()

    def offer(item: tuple[int, Any]) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def pump() -> None:
        try:
            for chunk in chunks:
                if not offer((0, chunk)):
                    return
            offer((1, None))
        except BaseException as exc:  # handed to the reader, raised there
            offer((2, exc))

    helper = threading.Thread(target=pump, name="read-ahead", daemon=True)
    helper.start()
    try:
        while True:
            kind, value = ready.get()
            if kind == 0:
                yield value
            elif kind == 1:
                return
            else:
                raise value
    finally:
        stop.set()
        helper.join(60)
