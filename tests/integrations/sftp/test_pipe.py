"""ChunkPipe keeps BufferedPipe's contract: bytes come out in order whatever the read sizes,
reads block until data or close, time out, and the channel's event follows the buffer; and the
channels of a session really use it."""

from __future__ import annotations

import os
import threading

import pytest
from paramiko.buffered_pipe import PipeTimeout

from kloset_sftp.client import SFTPSession
from kloset_sftp.pipe import ChunkPipe
from kloset_sftp.streams import RemoteReader
from tests.emulators.sshd import SSHD
from tests.integrations.sftp.conftest import base_config, session


@pytest.mark.parametrize("read_size", [1, 4, 13, 4096, 100_000, 1 << 22])
def test_bytes_come_out_in_order(read_size: int) -> None:
    data = os.urandom(300_000)
    pipe = ChunkPipe()
    sizes = [1, 4, 32768, 7, 65536, 0, 150_000]
    pos = 0
    for n in sizes + [len(data)]:
        pipe.feed(data[pos : pos + n])
        pos += n
        if pos >= len(data):
            break
    assert len(pipe) == len(data)
    out = []
    while len(pipe):
        chunk = pipe.read(read_size)
        assert 0 < len(chunk) <= read_size
        out.append(chunk)
    assert b"".join(out) == data
    pipe.close()
    assert pipe.read(10) == b""


def test_empty_returns_everything_left() -> None:
    pipe = ChunkPipe()
    pipe.feed(b"abcdef")
    pipe.feed(b"ghi")
    assert pipe.read(2) == b"ab"
    assert pipe.empty() == b"cdefghi"
    assert len(pipe) == 0 and not pipe.read_ready()


def test_read_waits_for_a_feed_or_times_out() -> None:
    pipe = ChunkPipe()
    with pytest.raises(PipeTimeout):
        pipe.read(10, timeout=0.0)
    with pytest.raises(PipeTimeout):
        pipe.read(10, timeout=0.05)
    threading.Timer(0.05, pipe.feed, [b"late"]).start()
    assert pipe.read(10, timeout=5) == b"late"
    threading.Timer(0.05, pipe.close).start()
    assert pipe.read(10, timeout=5) == b""


def test_event_follows_the_buffer() -> None:
    pipe = ChunkPipe()
    event = threading.Event()
    pipe.set_event(event)
    assert not event.is_set()
    pipe.feed(b"xy")
    assert event.is_set() and pipe.read_ready()
    assert pipe.read(1) == b"x"
    assert event.is_set()
    assert pipe.read(1) == b"y"
    assert not event.is_set()
    pipe.close()
    assert event.is_set()
    late = threading.Event()
    pipe.set_event(late)
    assert late.is_set()  # a closed pipe must wake a select() at once


def test_session_channels_use_it(sshd: SSHD) -> None:
    s: SFTPSession = session(base_config(sshd, "/"))
    try:
        ch = s.acquire()
        try:
            assert isinstance(ch.sock.in_buffer, ChunkPipe)
        finally:
            s.release(ch)
        data = os.urandom(3_000_000)
        (sshd.root_dir / "pipe.bin").write_bytes(data)
        with RemoteReader(s, str(sshd.root_dir / "pipe.bin")) as r:
            assert r.read() == data
    finally:
        s.close()
