"""The TCP socket under the SSH connection, set up for SSH's small request/answer exchanges.

Without it every connection waited twice for about 40 ms on Linux against OpenSSH 9.2
(sftpImporter's spawn to Init answered: 327 ms before, 247 ms after, measured by
`scripts/bench_frozen.py --runs 5 sftp`):

- Nagle's algorithm held our userauth request back until the server had acked our previous
  packet, and the server delays that ack: TCP_NODELAY sends each packet at once.
- Right after login OpenSSH sends a `hostkeys-00@openssh.com` notice that wants no reply, so
  nothing of ours carries its ack, and the kernel delays it. The server keeps Nagle on for
  non-interactive sessions, so its answer to our channel open waited for that ack.
  TCP_QUICKACK acks at once; Linux turns it off again by itself, so it is set after every
  read. It costs one setsockopt per read, where a read is at most one SSH packet (32 KiB).

macOS has no TCP_QUICKACK: there the socket only gets TCP_NODELAY.
"""

from __future__ import annotations

import socket
from typing import Any

QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)


class QuickAckSocket:
    """A connected socket that acks at once what it has read; paramiko reads through recv."""

    def __init__(self, sock: socket.socket, quickack: int) -> None:
        self._sock = sock
        self._quickack = quickack

    def recv(self, size: int) -> bytes:
        data = self._sock.recv(size)
        try:
            self._sock.setsockopt(socket.IPPROTO_TCP, self._quickack, 1)
        except OSError:
            pass  # a socket the peer has just closed: the next recv reports that
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def connect(host: str, port: int, timeout: float) -> socket.socket | QuickAckSocket:
    """A TCP connection to host:port for paramiko.Transport; OSError when it cannot be made."""
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return QuickAckSocket(sock, QUICKACK) if QUICKACK is not None else sock
