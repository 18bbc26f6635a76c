"""The SSH connection's TCP socket sends at once (TCP_NODELAY) and, on Linux, acks every read at
once (TCP_QUICKACK): each saved a ~40 ms stall per connection against OpenSSH."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator

import pytest

from kloset_sftp import tcp
from kloset_sftp.client import SFTPSession
from tests.emulators.sshd import SSHD
from tests.integrations.sftp.conftest import base_config, session

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="TCP_QUICKACK")


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    srv = socket.create_server(("127.0.0.1", 0))
    try:
        yield srv
    finally:
        srv.close()


def test_connect_turns_nagle_off(listener: socket.socket) -> None:
    sock = tcp.connect("127.0.0.1", listener.getsockname()[1], timeout=5)
    try:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        assert sock.gettimeout() == 5
    finally:
        sock.close()


@linux_only
def test_every_read_turns_quickack_back_on(listener: socket.socket) -> None:
    sock = tcp.connect("127.0.0.1", listener.getsockname()[1], timeout=5)
    peer, _ = listener.accept()
    try:
        assert isinstance(sock, tcp.QuickAckSocket)
        for payload in (b"first", b"second" * 1000):
            # 0 puts the socket back in delayed-ack mode, as the kernel does by itself
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 0)
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK) == 0
            peer.sendall(payload)
            got = b""
            while len(got) < len(payload):
                got += sock.recv(len(payload) - len(got))
            assert got == payload
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK) == 1
        peer.close()
        assert sock.recv(10) == b""  # end of stream still comes through
    finally:
        sock.close()


def test_connect_error_is_oserror(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    listener.close()
    with pytest.raises(OSError):
        tcp.connect("127.0.0.1", port, timeout=5)


def test_sessions_dial_through_it(sshd: SSHD) -> None:
    s: SFTPSession = session(base_config(sshd, "/"))
    try:
        s.release(s.acquire())
        sock = s._transports[0].sock
        if tcp.QUICKACK is not None:
            assert isinstance(sock, tcp.QuickAckSocket)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        s.close()
