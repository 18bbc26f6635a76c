"""Reading ahead: small packfile reads served from a few block fetches (ReadAhead), and Get and
Open streams read on a helper thread ahead of the wire (chunks.streamed), never wrong bytes."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from kloset_sdk import InitContext, NotFound, Resource
from kloset_sdk.chunks import READ_AHEAD, prefetched, streamed
from kloset_sdk.objectstore import chunk_stream
from kloset_sdk.readahead import ReadAhead
from tests.sdk.test_objectstore import DirOptions, DirStore

BLOB = os.urandom(5 * 1000 + 123)


class Backend:
    """fetch() over BLOB, counting calls; short at the end like a store past EOF."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int]] = []

    def fetch(self, key: str, offset: int, length: int) -> bytes:
        self.calls.append((key, offset, length))
        return BLOB[offset : offset + length]


def test_first_read_is_direct_then_blocks_serve_the_rest() -> None:
    be = Backend()
    ra = ReadAhead(be.fetch, block=1000, small=500, budget=10_000)
    assert ra.read("p", 10, 20) is None  # read once: the store answers exactly
    assert be.calls == []
    got = [ra.read("p", off, 37) for off in range(0, 4900, 37)]
    assert got == [BLOB[off : off + 37] for off in range(0, 4900, 37)]
    assert be.calls == [("p", n * 1000, 1000) for n in range(5)]  # one fetch per block
    assert ra.read("p", 990, 20) == BLOB[990:1010]  # across two blocks, both kept


def test_long_reads_and_reads_past_the_end_go_to_the_store() -> None:
    be = Backend()
    ra = ReadAhead(be.fetch, block=1000, small=500, budget=10_000)
    ra.read("p", 0, 1)
    assert ra.read("p", 0, 501) is None
    assert ra.read("p", 0, 0) is None
    assert ra.read("p", len(BLOB) - 10, 20) is None  # short block: the store words the error
    assert ra.read("p", len(BLOB) - 10, 10) == BLOB[-10:]


def test_budget_bounds_what_is_kept() -> None:
    be = Backend()
    ra = ReadAhead(be.fetch, block=1000, small=500, budget=2000)
    ra.read("p", 0, 1)
    for n in range(5):
        ra.read("p", n * 1000, 10)
    assert ra._held <= 2000
    before = len(be.calls)
    assert ra.read("p", 0, 10) == BLOB[:10]  # evicted long ago: fetched again
    assert len(be.calls) == before + 1


def test_concurrent_reads_of_one_block_wait_for_one_fetch() -> None:
    entered, release = threading.Event(), threading.Event()
    calls = []

    def fetch(key: str, offset: int, length: int) -> bytes:
        calls.append(offset)
        entered.set()
        release.wait(30)
        return BLOB[offset : offset + length]

    ra = ReadAhead(fetch, block=1000, small=500, budget=10_000)
    ra.read("p", 0, 1)
    out: list[bytes | None] = [None] * 8

    def reader(i: int) -> None:
        out[i] = ra.read("p", i * 10, 10)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(8)]
    threads[0].start()
    assert entered.wait(30)
    for t in threads[1:]:
        t.start()
    time.sleep(0.2)  # let the others reach the pending fetch (if they fetched, calls > 1)
    release.set()
    for t in threads:
        t.join(30)
    assert calls == [0]
    assert out == [BLOB[i * 10 : i * 10 + 10] for i in range(8)]


def test_a_failed_fetch_fails_its_readers_and_is_not_kept() -> None:
    fail = [True]

    def fetch(key: str, offset: int, length: int) -> bytes:
        if fail[0]:
            raise NotFound(f"{key}: gone")
        return BLOB[offset : offset + length]

    ra = ReadAhead(fetch, block=1000, small=500)
    ra.read("p", 0, 1)
    with pytest.raises(NotFound):
        ra.read("p", 0, 10)
    fail[0] = False
    assert ra.read("p", 0, 10) == BLOB[:10]


def test_objectstore_reads_through_blocks_and_forgets_a_deleted_packfile(tmp_path: Path) -> None:
    cfg = {"location": f"dirstore://{tmp_path / 'repo'}"}
    store = DirStore(DirOptions(cfg["location"]), InitContext("storage", "dirstore", cfg))
    store.create(b"cfg")
    reads: list[tuple[str, int | None, int | None]] = []
    plain = store.read

    def counting(key: str, offset: int | None, length: int | None) -> bytes:
        reads.append((key, offset, length))
        return plain(key, offset, length)

    store.read = counting  # type: ignore[method-assign]
    mac, blob = bytes(range(32)), os.urandom(3 << 20)
    store.put(Resource.PACKFILE, mac, chunk_stream(blob), 0)
    pieces = [(off, 4096) for off in range(0, len(blob) - 4096, 3 * 4096)]
    for off, n in pieces:
        assert store.get(Resource.PACKFILE, mac, off, n) == blob[off : off + n]
    assert len(reads) == 1 + 3  # the first piece as asked, then one read per 1 MiB block
    store.delete(Resource.PACKFILE, mac)
    with pytest.raises(NotFound):
        store.get(Resource.PACKFILE, mac, 0, 4096)
    store.put(Resource.STATE, mac, chunk_stream(blob), 0)
    reads.clear()
    for off, n in pieces[:10]:
        store.get(Resource.STATE, mac, off, n)
    assert len(reads) == 10  # only packfiles (which never change) are kept


# -- prefetched / streamed: chunks read ahead of the wire ---------------------------------------


class Source:
    """A file object that counts reads and can fail at a given read."""

    def __init__(self, n: int, fail_at: int = -1) -> None:
        self.n, self.fail_at, self.reads, self.closed = n, fail_at, 0, False
        self.threads: set[str] = set()

    def read(self, size: int) -> bytes:
        self.threads.add(threading.current_thread().name)
        self.reads += 1
        if self.reads - 1 == self.fail_at:
            raise OSError("disk gone")
        if self.reads > self.n:
            return b""
        return bytes([self.reads]) * 10

    def close(self) -> None:
        self.closed = True


def test_streamed_keeps_order_and_closes_the_source() -> None:
    src = Source(20)
    assert list(streamed(src)) == [bytes([i]) * 10 for i in range(1, 21)]
    assert src.closed
    assert "read-ahead" in src.threads  # the chunks after the first were read on the helper


def test_a_one_chunk_answer_uses_no_thread() -> None:
    src = Source(1)
    assert list(streamed(src)) == [b"\x01" * 10]
    assert src.threads == {threading.current_thread().name}


def test_an_error_while_reading_ahead_reaches_the_reader() -> None:
    src = Source(20, fail_at=5)
    got = []
    with pytest.raises(OSError, match="disk gone"):
        for chunk in streamed(src):
            got.append(chunk)
    assert got == [bytes([i]) * 10 for i in range(1, 6)]
    assert src.closed


def test_closing_early_stops_the_helper_before_the_source_closes() -> None:
    src = Source(10_000)
    stream = streamed(src)
    assert next(stream) == b"\x01" * 10
    assert next(stream) == b"\x02" * 10
    stream.close()
    assert src.closed
    assert not [t for t in threading.enumerate() if t.name == "read-ahead"]
    assert src.reads <= 2 + READ_AHEAD + 2  # it stopped reading: not 10,000 reads


def test_prefetched_of_an_empty_stream_is_empty() -> None:
    assert list(prefetched(iter([]))) == []
