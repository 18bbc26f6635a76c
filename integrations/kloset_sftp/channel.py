"""One SFTP channel that knows OpenSSH's extensions (paramiko's SFTPClient does not).

paramiko drops the extension list of the server's VERSION packet, so there is no way to ask
whether `fsync@openssh.com`, `posix-rename@openssh.com`, `limits@openssh.com`,
`hardlink@openssh.com`, `lsetstat@openssh.com` or `users-groups-by-id@openssh.com` exist; this
subclass keeps that list and sends those requests. It also replaces two helpers whose
byte-by-byte slicing makes large requests cost quadratic copying, and adds the calls paramiko
lacks (open with attributes and O_EXCL, one SETSTAT for several attributes, close without
waiting). It and transfer.py are the only modules using paramiko's request plumbing
(`_request`, `_async_request`, `_read_response`), the calls its own prefetch uses.
"""

from __future__ import annotations

import struct
from typing import Any

import paramiko
from paramiko.buffered_pipe import PipeTimeout
from paramiko.message import Message
from paramiko.sftp import (
    CMD_CLOSE,
    CMD_EXTENDED,
    CMD_FSETSTAT,
    CMD_HANDLE,
    CMD_INIT,
    CMD_OPEN,
    CMD_SETSTAT,
    CMD_VERSION,
    SFTP_FLAG_CREATE,
    SFTP_FLAG_EXCL,
    SFTP_FLAG_TRUNC,
    SFTP_FLAG_WRITE,
)
from paramiko.sftp_attr import SFTPAttributes

from .pipe import ChunkPipe

SAFE_REQUEST = 32 * 1024  # every server must accept this much per read/write (draft-02 §3)
MAX_REQUEST = 256 * 1024


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
        # quadratic copying for the 255 KiB answers we ask for. Waiting for the whole answer
        # first wakes this thread once per answer, not once per 32 KiB SSH packet.
        pipe = self.sock.in_buffer
        if isinstance(pipe, ChunkPipe):
            try:
                pipe.wait_for(n, self.sock.gettimeout())
            except PipeTimeout:
                raise TimeoutError() from None  # what Channel.recv raises (socket.timeout)
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
