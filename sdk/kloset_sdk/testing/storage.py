"""Storage conformance suite (docs/PROTOCOL.md: Storage) for any storage plugin.

Subclass `StorageConformance` (and `StorageLifecycle` for the process-level checks) and
provide two class-scoped fixtures:

    class TestMyStore(StorageConformance, StorageLifecycle):
        proto = "mystore"
        big_sizes = (16 * MiB,)          # what your backend must get right: multipart, ...

        @pytest.fixture(scope="class")
        @classmethod
        def storage_argv(cls) -> list[str]:
            return [sys.executable, "-m", "my_connector", "storage"]

        @pytest.fixture(scope="class")
        @classmethod
        def storage_config(cls, tmp_path_factory) -> dict[str, str]:
            return {"location": "mystore://..."}  # an empty, throw-away location

Each class gets one plugin process and one freshly created repository. Every test is one of
the checks in `kloset_sdk.testing.checks`, which `klosetctl store check` runs too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import grpc
import pytest

from kloset_sdk.harness import PluginProcess, StoreClient

from .checks import Checker, MiB, clean_error, mac_of
from .suite import required_fixture

__all__ = ["MiB", "StorageConformance", "StorageLifecycle", "assert_clean_error", "mac_of"]


def assert_clean_error(exc: grpc.RpcError) -> None:
    """§9 item 41 / P13: ordinary errors are neither CANCELLED nor UNAVAILABLE, one line."""
    clean_error(exc, "the call")


class StorageConformance:
    """What the backend declares about itself (class attributes), then one test per check."""

    proto: str = ""
    #: Mode a fresh store must report (6 = read+write).
    expected_mode: int = 6
    #: Larger objects for backends where multipart or upload sessions matter.
    big_sizes: tuple[int, ...] = (5 * MiB + 3,)
    #: Whether Size() reports the bytes stored. A storage that cannot tell declares False here
    #: and must then answer -1 (the protocol's "unknown"); otherwise -1 is a failure.
    size_known: bool = True

    storage_argv = required_fixture("storage_argv", "the storage plugin's command line")

    storage_config = required_fixture(
        "storage_config", "the Init config of a fresh, empty location"
    )

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

    @pytest.fixture(scope="class")
    @classmethod
    def checker(cls, store: StoreClient) -> Checker:
        return Checker(
            store,
            store.config_blob,  # type: ignore[attr-defined]
            cls.expected_mode,
            big_sizes=cls.big_sizes,
            size_known=cls.size_known,
        )

    def test_open_returns_create_bytes(self, checker: Checker) -> None:
        checker.check_open()

    def test_second_create_fails(self, checker: Checker) -> None:
        checker.check_second_create()

    def test_mode(self, checker: Checker) -> None:
        checker.check_mode()

    def test_ping(self, checker: Checker) -> None:
        checker.check_ping()

    def test_put_get_roundtrip(self, checker: Checker) -> None:
        checker.check_roundtrip()

    def test_big_roundtrip(self, checker: Checker) -> None:
        checker.check_big()

    def test_get_chunks_at_most_1mib(self, checker: Checker) -> None:
        checker.check_chunks()

    def test_ranged_get(self, checker: Checker) -> None:
        checker.check_ranges()

    def test_get_unknown_mac_fails(self, checker: Checker) -> None:
        checker.check_unknown()

    def test_bad_put_rejected_then_serves(self, checker: Checker) -> None:
        checker.check_bad_put()

    def test_hot_flag_accepted(self, checker: Checker) -> None:
        checker.check_hot()

    def test_cancelled_put_leaves_nothing(self, checker: Checker) -> None:
        checker.check_cancelled_put()

    def test_list_and_delete(self, checker: Checker) -> None:
        checker.check_list_delete()

    def test_unknown_list_type_fails_cleanly(self, checker: Checker) -> None:
        checker.check_unknown_list_type()

    def test_concurrent_put_get(self, checker: Checker) -> None:
        checker.check_concurrent()

    def test_size(self, checker: Checker) -> None:
        checker.check_size()


class StorageLifecycle:
    """Process-level checks: a fresh process each (Close, EOF exit, Init errors)."""

    proto: str = ""

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
