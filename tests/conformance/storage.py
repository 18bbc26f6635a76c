"""Storage conformance (docs/PROTOCOL.md: Storage), reusable for any storage plugin.

Subclass `StorageConformance` and override the two class-scoped fixtures:

    class TestMyStore(StorageConformance):
        @pytest.fixture(scope="class")
        @classmethod
        def storage_argv(cls): return plugin_argv("s3", "storage")
        @pytest.fixture(scope="class")
        @classmethod
        def storage_config(cls, seaweedfs): return {"location": ..., ...}

Each class gets one plugin process and one freshly created repository; tests use random MACs.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from kloset_sdk import Resource
from kloset_sdk._pb import storage_pb2 as spb
from kloset_sdk.harness import PluginProcess, StoreClient

MiB = 1 << 20


def mac_of(data: bytes) -> bytes:
    return hashlib.sha256(data + os.urandom(8)).digest()


def assert_clean_error(exc: grpc.RpcError) -> None:
    """§9 item 41 / P13: ordinary errors are neither CANCELLED nor UNAVAILABLE, one line."""
    assert exc.code() not in (
        grpc.StatusCode.OK,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.UNAVAILABLE,
    )
    details = exc.details() or ""
    assert details and "\n" not in details and "Traceback" not in details, details


class StorageConformance:
    proto: str = ""
    #: Mode a fresh store must report (6 = read+write).
    expected_mode: int = 6
    #: Larger objects for backends where multipart matters.
    big_sizes: tuple[int, ...] = (5 * MiB + 3,)
    #: Whether Size() reports the bytes stored. A storage that cannot tell declares False here
    #: and must then answer -1 (the protocol's "unknown"); otherwise -1 is a failure.
    size_known: bool = True

    @pytest.fixture(scope="class")
    @classmethod
    def storage_argv(cls) -> list[str]:
        raise NotImplementedError

    @pytest.fixture(scope="class")
    @classmethod
    def storage_config(cls) -> dict[str, str]:
        raise NotImplementedError

    @pytest.fixture(scope="class")
    @classmethod
    def store_proc(cls, storage_argv: list[str]) -> Iterator[PluginProcess]:
        with PluginProcess(storage_argv) as proc:
            yield proc

    @pytest.fixture(scope="class")
    @classmethod
    def store(
        cls, store_proc: PluginProcess, storage_config: dict[str, str]
    ) -> Iterator[StoreClient]:
        client = StoreClient(store_proc)
        client.init(storage_config, proto=cls.proto)
        client.config_blob = os.urandom(517)  # type: ignore[attr-defined]
        client.create(client.config_blob)  # type: ignore[attr-defined]
        yield client

    # -- Create / Open / Mode / Size ----------------------------------------------------------
    def test_open_returns_create_bytes(self, store: StoreClient) -> None:
        assert store.open() == store.config_blob

    def test_second_create_fails(self, store: StoreClient) -> None:
        with pytest.raises(grpc.RpcError) as ei:
            store.create(b"again")
        assert_clean_error(ei.value)
        assert store.open() == store.config_blob

    def test_mode(self, store: StoreClient) -> None:
        assert store.mode() == self.expected_mode

    def test_ping(self, store: StoreClient) -> None:
        store.ping()

    # -- Put / Get ----------------------------------------------------------------------------
    @pytest.mark.parametrize("size", [0, 1, MiB - 1, MiB, MiB + 1, 3 * MiB + 17])
    def test_put_get_roundtrip(self, store: StoreClient, size: int) -> None:
        data = os.urandom(size)
        mac = mac_of(data)
        assert store.put(Resource.PACKFILE, mac, data) == size
        assert store.get(Resource.PACKFILE, mac) == data

    def test_big_roundtrip(self, store: StoreClient) -> None:
        for size in self.big_sizes:
            data = os.urandom(size)
            mac = mac_of(data)
            assert store.put(Resource.PACKFILE, mac, data) == size
            got = store.get(Resource.PACKFILE, mac)
            assert len(got) == size and got == data

    def test_get_chunks_at_most_1mib(self, store: StoreClient) -> None:
        data = os.urandom(2 * MiB + 5)
        mac = mac_of(data)
        store.put(Resource.STATE, mac, data)
        chunks = list(store.get_iter(Resource.STATE, mac))
        assert all(len(c) <= MiB for c in chunks)
        assert b"".join(chunks) == data

    def test_ranged_get(self, store: StoreClient) -> None:
        data = os.urandom(3 * MiB + 100)
        mac = mac_of(data)
        store.put(Resource.PACKFILE, mac, data)
        for off, ln in [(0, 1), (1, 4096), (MiB - 3, 10), (MiB, MiB), (len(data) - 10, 10), (5, 0)]:
            assert store.get(Resource.PACKFILE, mac, off, ln) == data[off : off + ln], (off, ln)

    def test_range_past_end_fails(self, store: StoreClient) -> None:
        data = os.urandom(1000)
        mac = mac_of(data)
        store.put(Resource.PACKFILE, mac, data)
        with pytest.raises(grpc.RpcError) as ei:
            store.get(Resource.PACKFILE, mac, 990, 100)
        assert_clean_error(ei.value)

    def test_get_unknown_mac_fails(self, store: StoreClient) -> None:
        for res in (Resource.PACKFILE, Resource.STATE, Resource.LOCK):
            with pytest.raises(grpc.RpcError) as ei:
                store.get(res, os.urandom(32))
            assert_clean_error(ei.value)

    def test_hot_flag_accepted(self, store: StoreClient) -> None:
        data = b"hot" * 1000
        mac = mac_of(data)
        store.put(Resource.PACKFILE, mac, data, flags=1)
        assert store.get(Resource.PACKFILE, mac) == data

    def test_bad_mac_rejected_then_serves(self, store: StoreClient) -> None:
        for bad in (b"", b"x" * 31, b"y" * 33):
            with pytest.raises(grpc.RpcError) as ei:
                store.put(Resource.PACKFILE, bad, b"data")
            assert_clean_error(ei.value)
        assert store.mode() == self.expected_mode

    def test_put_missing_type_rejected(self, store: StoreClient) -> None:
        with pytest.raises(grpc.RpcError) as ei:
            store.put(Resource.UNDEFINED, os.urandom(32), b"data")
        assert_clean_error(ei.value)

    def test_concurrent_put_get(self, store: StoreClient) -> None:
        blobs = [os.urandom(MiB // 2 + i) for i in range(12)]
        macs = [mac_of(b) for b in blobs]
        errors: list[BaseException] = []

        def work(i: int) -> None:
            try:
                store.put(Resource.PACKFILE, macs[i], blobs[i])
                assert store.get(Resource.PACKFILE, macs[i]) == blobs[i]
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(blobs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert not errors, errors

    def test_cancelled_put_leaves_nothing(self, store: StoreClient) -> None:
        mac = os.urandom(32)
        sent = threading.Event()

        def requests() -> Iterator[spb.PutRequest]:
            yield spb.PutRequest(mac=mac, type=spb.STORAGE_RESOURCE_PACKFILE)
            yield spb.PutRequest(chunk=os.urandom(MiB))
            sent.set()
            threading.Event().wait(1.0)
            raise RuntimeError("host source reader failed")  # aborts the call, no half-close

        with pytest.raises(grpc.RpcError):
            store.stub.Put(requests())
        assert sent.is_set()
        threading.Event().wait(0.5)
        assert mac not in store.list(Resource.PACKFILE)
        with pytest.raises(grpc.RpcError):
            store.get(Resource.PACKFILE, mac)

    # -- List / Delete / Size -----------------------------------------------------------------
    def test_list_per_resource(self, store: StoreClient) -> None:
        mine = {}
        for res in (Resource.PACKFILE, Resource.STATE, Resource.LOCK):
            data = f"{res.name}".encode() * 10
            mine[res] = mac_of(data)
            store.put(res, mine[res], data)
        for res, mac in mine.items():
            listed = store.list(res)
            assert all(len(m) == 32 for m in listed)
            assert mac in listed
            for other, omac in mine.items():
                if other != res:
                    assert omac not in listed

    def test_delete(self, store: StoreClient) -> None:
        data = b"lock"
        mac = mac_of(data)
        store.put(Resource.LOCK, mac, data)
        assert store.get(Resource.LOCK, mac) == data
        store.delete(Resource.LOCK, mac)
        assert mac not in store.list(Resource.LOCK)
        with pytest.raises(grpc.RpcError):
            store.get(Resource.LOCK, mac)

    def test_size(self, store: StoreClient) -> None:
        before = store.size()
        data = os.urandom(4096)
        store.put(Resource.PACKFILE, mac_of(data), data)
        size = store.size()
        if not self.size_known:
            assert (before, size) == (-1, -1), "declared size_known = False, so Size() must be -1"
            return
        assert before >= 0, f"Size() was {before} before the Put, yet size_known is declared"
        assert size >= before + 4096, f"Size() went from {before} to {size} after a 4096-byte Put"

    def test_unknown_list_type_fails_cleanly(self, store: StoreClient) -> None:
        with pytest.raises(grpc.RpcError) as ei:
            store.stub.List(spb.ListRequest(type=0))
        assert_clean_error(ei.value)


class StorageLifecycle:
    """Process-level checks: fresh process each (close, EOF exit, Init errors)."""

    proto: str = ""

    @pytest.fixture
    def lifecycle_config(self, storage_config: dict[str, str]) -> dict[str, str]:
        return storage_config

    def test_close_then_eof_exits_zero(
        self, storage_argv: list[str], storage_config: dict[str, str]
    ) -> None:
        proc = PluginProcess(storage_argv)
        client = StoreClient(proc)
        client.init(storage_config, proto=self.proto)
        client.close()
        assert proc.finish(10) == 0

    def test_eof_without_close_exits_zero(self, storage_argv: list[str]) -> None:
        proc = PluginProcess(storage_argv)
        assert proc.finish(10) == 0

    def test_unknown_config_key_fails_init(
        self, storage_argv: list[str], storage_config: dict[str, str]
    ) -> None:
        with PluginProcess(storage_argv) as proc:
            client = StoreClient(proc)
            with pytest.raises(grpc.RpcError) as ei:
                client.init({**storage_config, "no_such_option_xyz": "1"}, proto=self.proto)
            assert_clean_error(ei.value)
            assert "no_such_option_xyz" in (ei.value.details() or "")


def conformance_summary(store: StoreClient) -> dict[str, Any]:  # pragma: no cover - debug aid
    return {"mode": store.mode(), "size": store.size()}
