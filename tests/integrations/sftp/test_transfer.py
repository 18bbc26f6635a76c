"""The pipelines against the real sshd: every size/hint/range combination reads exactly the
file, writes report the server's errors, and round trips stay bounded to the window."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kloset_sftp.channel import SAFE_REQUEST
from kloset_sftp.client import SFTPSession, _fast_first
from kloset_sftp.transfer import ReadPipeline, WritePipeline
from tests.emulators.sshd import SSHD
from tests.integrations.sftp.conftest import base_config, session


@pytest.fixture(scope="module")
def sftp(sshd: SSHD) -> Iterator[SFTPSession]:
    s = session(base_config(sshd, "/"))
    yield s
    s.close()


def read_all(s: SFTPSession, path: Path, **kw: int | None) -> tuple[bytes, int]:
    ch = s.acquire()
    try:
        ch.read_size = SAFE_REQUEST  # many requests per file, to exercise the window
        handle = ch.open_read(str(path))
        pipe = ReadPipeline(ch, handle, **kw)  # type: ignore[arg-type]
        parts = []
        while chunk := pipe.read_chunk():
            parts.append(chunk)
        ch.close_handle(handle)
        return b"".join(parts), ch.request_number
    finally:
        s.release(ch)


@pytest.mark.parametrize("size", [0, 1, SAFE_REQUEST, SAFE_REQUEST + 1, 5 * SAFE_REQUEST + 7])
def test_reads_whole_files_whatever_the_hint(
    sftp: SFTPSession, remote_dir: Path, size: int
) -> None:
    data = os.urandom(size)
    path = remote_dir / "f"
    path.write_bytes(data)
    for hint in (None, size, max(0, size - 10), size + 10, 0):
        got, _ = read_all(sftp, path, hint=hint)
        assert got == data, (size, hint)


def test_ranges(sftp: SFTPSession, remote_dir: Path) -> None:
    data = os.urandom(3 * SAFE_REQUEST + 100)
    path = remote_dir / "f"
    path.write_bytes(data)
    for off, ln in [(0, 1), (5, SAFE_REQUEST), (SAFE_REQUEST - 1, 2 * SAFE_REQUEST), (10, 0)]:
        got, _ = read_all(sftp, path, offset=off, end=off + ln)
        assert got == data[off : off + ln]
    got, _ = read_all(sftp, path, offset=len(data) - 5, end=len(data) + 50)
    assert got == data[-5:]  # short: the caller (storage Get) turns that into an error


def test_an_exact_hint_costs_one_extra_request(sftp: SFTPSession, remote_dir: Path) -> None:
    path = remote_dir / "f"
    path.write_bytes(os.urandom(2 * SAFE_REQUEST + 3))
    ch = sftp.acquire()
    before = ch.request_number
    sftp.release(ch)
    _, after = read_all(sftp, path, hint=2 * SAFE_REQUEST + 3)
    assert after - before == 1 + 3 + 1 + 1  # open, 3 data reads, 1 EOF probe, close


def test_write_errors_are_reported(sftp: SFTPSession, remote_dir: Path) -> None:
    path = remote_dir / "w"
    ch = sftp.acquire()
    try:
        handle = ch.create_exclusive(str(path))
        writer = WritePipeline(ch, handle)
        writer.write(os.urandom(3 * SAFE_REQUEST))
        writer.flush()
        ch.close_handle(handle)
        assert path.stat().st_size == 3 * SAFE_REQUEST
        with pytest.raises(OSError):  # exclusive: an existing name is never overwritten
            ch.create_exclusive(str(path))
        handle = ch.open_read(str(path))  # a read-only handle: every write must fail
        writer = WritePipeline(ch, handle)
        with pytest.raises(OSError):
            writer.write(b"x" * (40 * SAFE_REQUEST))
            writer.flush()
        writer.abandon()
        ch.close_handle(handle)
    finally:
        sftp.release(ch)


def test_aes_gcm_is_preferred_when_offered(sftp: SFTPSession) -> None:
    transport = sftp._transports[-1]
    assert transport.remote_cipher == "aes128-gcm@openssh.com"
    assert transport.local_cipher == "aes128-gcm@openssh.com"


def test_fast_first_keeps_every_cipher() -> None:
    offered = ("aes128-ctr", "aes256-ctr", "aes256-gcm@openssh.com", "aes128-gcm@openssh.com")
    assert _fast_first(offered) == (
        "aes128-gcm@openssh.com",
        "aes256-gcm@openssh.com",
        "aes128-ctr",
        "aes256-ctr",
    )
    assert _fast_first(("aes128-ctr",)) == ("aes128-ctr",)  # a disabled cipher stays out
