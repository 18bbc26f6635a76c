"""One SFTP channel with OpenSSH's extensions, and pipelined reads and writes on it.

Why not paramiko's own transfer code:
- `SFTPFile.prefetch` asks for the whole file at once and buffers every answer until it is
  read, so a 50 MiB file held by a slow host sits in memory; its requests are 32 KiB.
- pipelined `SFTPFile.write` registers its requests with no owner: the statuses of the last
  ones are read and dropped by `close()`, so a failed write (disk full) can go unnoticed.
- paramiko drops the extension list of the server's VERSION packet, so there is no way to ask
  whether `fsync@openssh.com`, `posix-rename@openssh.com` or `limits@openssh.com` exist.

Both pipelines below keep a bounded window of requests in flight, of the sizes the server
announces in `limits@openssh.com` (OpenSSH: 255 KiB; 32 KiB otherwise, the RFC's safe size),
and check every single status. They use paramiko's request plumbing (`_async_request`,
`_read_response`), the same calls its prefetch uses; this module is the only place that does.
"""

from __future__ import annotations

import struct
from collections import deque
from typing import Any

import paramiko
from paramiko.message import Message
from paramiko.sftp import (
    CMD_CLOSE,
    CMD_DATA,
    CMD_EXTENDED,
    CMD_FSETSTAT,
    CMD_HANDLE,
    CMD_INIT,
    CMD_OPEN,
    CMD_READ,
    CMD_SETSTAT,
    CMD_STATUS,
    CMD_VERSION,
    CMD_WRITE,
    SFTP_FLAG_CREATE,
    SFTP_FLAG_EXCL,
    SFTP_FLAG_TRUNC,
    SFTP_FLAG_WRITE,
    int64,
)
from paramiko.sftp_attr import SFTPAttributes

SAFE_REQUEST = 32 * 1024  # every server must accept this much per read/write (draft-02 §3)
MAX_REQUEST = 256 * 1024
READ_WINDOW = 16  # requests in flight per transfer: 16 x 255 KiB = ~4 MiB
WRITE_WINDOW = 16


class Channel(paramiko.SFTPClient):
    """An SFTP session channel that remembers the server's extensions and limits."""

    extensions: dict[str, bytes]
    read_size: int = SAFE_REQUEST
    write_size: int = SAFE_REQUEST
    generation: int = 0

    def _send_version(self) -> int:
        # paramiko's version keeps only the number; the extension pairs follow it (draft-02 §4).
        me: Any = self
        msg = Message()
        msg.add_int(3)
        me._send_packet(CMD_INIT, msg)
        t, data = me._read_packet()
        if t != CMD_VERSION:
            raise paramiko.SFTPError("Incompatible sftp protocol")
        reply = Message(data)
        version = reply.get_int()
        self.extensions = {}
        while reply.get_remainder():
            name = reply.get_text()  # (in `d[f()] = g()` Python calls g first)
            self.extensions[name] = reply.get_binary()
        return version

    def _read_all(self, n: int) -> bytes:
        # paramiko's version grows the packet with `out += x`, one 32 KiB recv at a time:
        # quadratic copying for the 255 KiB answers we ask for.
        parts = []
        while n > 0:
            x = self.sock.recv(n)
            if not x:
                raise EOFError()
            parts.append(x)
            n -= len(x)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _write_all(self, out: bytes) -> None:
        # paramiko's version re-slices the rest of the packet (`out = out[n:]`) after each
        # 32 KiB channel send: quadratic copying for 255 KiB writes. A view slices for free.
        view: Any = memoryview(out)  # Channel.send slices and copies it once into the message
        while view:
            n = self.sock.send(view)
            if n <= 0:
                raise EOFError()
            view = view[n:]

    def has(self, extension: str) -> bool:
        return extension in getattr(self, "extensions", {})

    def extended(self, name: str, *args: Any) -> Message | None:
        _t, msg = self._call(CMD_EXTENDED, name, *args)
        return msg

    def _call(self, t: int, *args: Any) -> tuple[int | None, Message | None]:
        me: Any = self
        result: tuple[int | None, Message | None] = me._request(t, *args)
        return result

    def load_limits(self) -> None:
        """Use the largest reads/writes the server allows (`limits@openssh.com`)."""
        if not self.has("limits@openssh.com"):
            return
        msg = self.extended("limits@openssh.com")
        if msg is None:
            return
        _packet, max_read, max_write = msg.get_int64(), msg.get_int64(), msg.get_int64()
        if max_read:
            self.read_size = max(SAFE_REQUEST, min(max_read, MAX_REQUEST))
        if max_write:
            self.write_size = max(SAFE_REQUEST, min(max_write, MAX_REQUEST))

    # -- handles --------------------------------------------------------------------------
    def open_read(self, path: str) -> bytes:
        return self._handle(CMD_OPEN, path, 0x00000001, SFTPAttributes())

    def create_exclusive(self, path: str, mode: int = 0o600) -> bytes:
        """A new file (never an existing one or a symlink's target), born with `mode`."""
        attr = SFTPAttributes()
        attr.st_mode = mode
        flags = SFTP_FLAG_WRITE | SFTP_FLAG_CREATE | SFTP_FLAG_TRUNC | SFTP_FLAG_EXCL
        return self._handle(CMD_OPEN, path, flags, attr)

    def _handle(self, t: int, *args: Any) -> bytes:
        kind, msg = self._call(t, *args)
        if kind != CMD_HANDLE or msg is None:
            raise paramiko.SFTPError("Expected handle")
        return msg.get_binary()

    def close_handle(self, handle: bytes) -> None:
        self._call(CMD_CLOSE, handle)

    def close_handle_later(self, handle: bytes) -> None:
        """Close a read handle without waiting for the answer (nothing to learn from it):
        one round trip less per file read; whoever uses the channel next skips the reply."""
        me: Any = self
        me._async_request(type(None), CMD_CLOSE, handle)

    def fsetstat(self, handle: bytes, attr: SFTPAttributes) -> None:
        self._call(CMD_FSETSTAT, handle, attr)

    def setstat(self, path: str, attr: SFTPAttributes) -> None:
        """One SETSTAT for several attributes (paramiko only has one call per attribute)."""
        self._call(CMD_SETSTAT, path, attr)

    def fsync(self, handle: bytes) -> bool:
        """Flush the file to the server's disk; False when the server cannot."""
        if not self.has("fsync@openssh.com"):
            return False
        self.extended("fsync@openssh.com", handle)
        return True

    # -- path operations beyond SFTPv3 ----------------------------------------------------
    def replace(self, src: str, dst: str) -> None:
        """rename(2): atomic and overwriting with `posix-rename@openssh.com`.

        Without it an SFTPv3 rename refuses an existing target, so the target is removed first
        (not atomic: a reader may briefly see no file, but never a partial one).
        """
        if self.has("posix-rename@openssh.com"):
            self.posix_rename(src, dst)
            return
        try:
            self.rename(src, dst)
        except OSError:
            self.remove(dst)
            self.rename(src, dst)

    def hardlink(self, existing: str, new: str) -> bool:
        if not self.has("hardlink@openssh.com"):
            return False
        self.extended("hardlink@openssh.com", existing, new)
        return True

    def lsetstat(self, path: str, attr: SFTPAttributes) -> bool:
        """setstat that does not follow a final symlink (times and owner of a link itself)."""
        if not self.has("lsetstat@openssh.com"):
            return False
        self.extended("lsetstat@openssh.com", path, attr)
        return True

    def names_by_id(self, uids: list[int], gids: list[int]) -> tuple[list[str], list[str]]:
        """User and group names of ids, from `users-groups-by-id@openssh.com` ("" = unknown)."""
        if not self.has("users-groups-by-id@openssh.com"):
            return [""] * len(uids), [""] * len(gids)
        msg = self.extended(
            "users-groups-by-id@openssh.com",
            struct.pack(f">{len(uids)}I", *uids),
            struct.pack(f">{len(gids)}I", *gids),
        )
        if msg is None:
            return [""] * len(uids), [""] * len(gids)
        users, groups = Message(msg.get_binary()), Message(msg.get_binary())
        return [users.get_text() for _ in uids], [groups.get_text() for _ in gids]


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
