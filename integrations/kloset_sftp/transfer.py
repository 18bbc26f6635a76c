"""Pipelined reads and writes on one SFTP channel.

Why not paramiko's own transfer code:
- `SFTPFile.prefetch` asks for the whole file at once and buffers every answer until it is
  read, so a 50 MiB file held by a slow host sits in memory; its requests are 32 KiB.
- pipelined `SFTPFile.write` registers its requests with no owner: the statuses of the last
  ones are read and dropped by `close()`, so a failed write (disk full) can go unnoticed.

Both pipelines below keep a bounded window of requests in flight, of the sizes the server
announces in `limits@openssh.com` (OpenSSH: 255 KiB; 32 KiB otherwise, the RFC's safe size),
and check every single status.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import paramiko
from paramiko.message import Message
from paramiko.sftp import CMD_DATA, CMD_READ, CMD_STATUS, CMD_WRITE, int64

from .channel import Channel

READ_WINDOW = 16  # requests in flight per transfer: 16 x 255 KiB = ~4 MiB
WRITE_WINDOW = 16


class _Pipeline:
    """Shared bookkeeping: answers that arrive while waiting for another request land here."""

    def __init__(self, ch: Channel, handle: bytes) -> None:
        self.ch = ch
        self.handle = handle
        self._me: Any = ch
        self._done: dict[int, tuple[int, Message]] = {}

    def _async_response(self, t: int, msg: Message, num: int) -> None:  # paramiko callback
        self._done[num] = (t, msg)

    def _send(self, t: int, *args: Any) -> int:
        num: int = self._me._async_request(self, t, self.handle, *args)
        return num

    def _wait(self, num: int) -> tuple[int, Message | None]:
        """The answer to request `num`; raises EOFError/OSError for an error status."""
        if num in self._done:
            t, msg = self._done.pop(num)
            if t == CMD_STATUS:
                self._me._convert_status(msg)
                return t, None
            return t, msg
        t, msg = self._me._read_response(num)
        return t, msg


class ReadPipeline(_Pipeline):
    """In-order reads of [offset, end) (end None: to EOF) with READ_WINDOW requests in flight.

    `hint` is the expected size: one request ends exactly there and one more probes past it,
    so a file of the announced size costs one EOF answer in the same window (no extra round
    trip), and a file that grew is still read to its real end.
    """

    def __init__(
        self,
        ch: Channel,
        handle: bytes,
        offset: int = 0,
        end: int | None = None,
        hint: int | None = None,
        window: int = READ_WINDOW,
    ) -> None:
        super().__init__(ch, handle)
        self.pos = offset
        self._next = offset
        self._end = end
        self._hint = hint
        self._window = window
        self._size = ch.read_size
        self._inflight: deque[tuple[int, int, int]] = deque()
        self._ended = False  # the end of the file was seen: send no more requests
        self.eof = end is not None and offset >= end

    def _limit(self) -> int | None:
        if self._end is not None:
            return self._end
        if self._hint is not None and self.pos <= self._hint:
            return self._hint + self._size
        return None

    def _fill(self) -> None:
        limit = self._limit()
        while len(self._inflight) < self._window and (limit is None or self._next < limit):
            n = self._size
            if self._end is not None:
                n = min(n, self._end - self._next)
            elif self._hint is not None and self._next < self._hint:
                n = min(n, self._hint - self._next)  # end exactly at the hint, then probe
            num = self._send(CMD_READ, int64(self._next), n)
            self._inflight.append((num, self._next, n))
            self._next += n

    def read_chunk(self) -> bytes:
        """The next bytes in order (at most one request's worth); b"" at the end."""
        while not self.eof:
            if not self._ended:
                self._fill()
            if not self._inflight:
                self.eof = True
                break
            num, off, n = self._inflight.popleft()
            try:
                t, msg = self._wait(num)
            except EOFError:
                self.eof = True
                break
            if t != CMD_DATA or msg is None:
                raise paramiko.SFTPError(f"expected data, got SFTP packet type {t}")
            data = msg.get_binary()
            self.pos += len(data)
            if len(data) < n:
                # Short: the file ends here (what OpenSSH means by it), unless the requests
                # after this one found more data; either way they start at wrong offsets.
                self._ended = self._drain()
                self._next = self.pos
            if data:
                return data
        self._drain()
        return b""

    def _drain(self) -> bool:
        """Collect every answer still in flight; True if one of them was EOF."""
        eof = False
        while self._inflight:
            num = self._inflight.popleft()[0]
            try:
                self._wait(num)
            except EOFError:
                eof = True
            except OSError:
                pass
        return eof

    def close(self) -> None:
        self.eof = True
        self._drain()


class WritePipeline(_Pipeline):
    """Sequential writes from `offset` with WRITE_WINDOW requests in flight, each status read."""

    def __init__(
        self, ch: Channel, handle: bytes, offset: int = 0, window: int = WRITE_WINDOW
    ) -> None:
        super().__init__(ch, handle)
        self.pos = offset
        self._window = window
        self._size = ch.write_size
        self._inflight: deque[int] = deque()

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        for start in range(0, len(view), self._size):
            piece = view[start : start + self._size]  # paramiko copies it into the packet
            self._inflight.append(self._send(CMD_WRITE, int64(self.pos), piece))
            self.pos += len(piece)
            while len(self._inflight) > self._window:
                self._wait(self._inflight.popleft())

    def flush(self) -> None:
        """Wait until the server acknowledged every write; raises the first failure."""
        while self._inflight:
            self._wait(self._inflight.popleft())

    def abandon(self) -> None:
        """Collect what is still in flight, ignoring failures (the write is being aborted)."""
        while self._inflight:
            try:
                self._wait(self._inflight.popleft())
            except (EOFError, OSError):
                pass
