"""The shared conformance suites (kloset_sdk.testing) against the Graph emulator, and a grpc-go
host run of the store (issue 7)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator

import pytest

from kloset_onedrive.options import FRAGMENT_UNIT
from kloset_sdk import Resource
from kloset_sdk.harness import PluginProcess, StoreClient
from kloset_sdk.testing import (
    ExporterConformance,
    ImporterConformance,
    StorageConformance,
    StorageLifecycle,
)
from kloset_sdk.testing.checks import MiB, mac_of
from kloset_sdk.testing.importer import sample_tree
from tests.conformance.connector import Connector
from tests.conftest import plugin_argv, run_gohost
from tests.emulators.graph import GraphEmulator
from tests.integrations.onedrive.support import app_config

FRAGMENT = str(4 * FRAGMENT_UNIT)  # 1.25 MiB, so the 5 MiB objects take several fragments


class _ClassGraph:
    @pytest.fixture(scope="class")
    @classmethod
    def graph(cls) -> Iterator[GraphEmulator]:
        with GraphEmulator() as emu:
            yield emu


class TestOneDriveImporter(Connector, _ClassGraph, ImporterConformance):
    connector = "onedrive"
    proto = "onedrive"

    @pytest.fixture(scope="class")
    @classmethod
    def expected_files(cls, graph: GraphEmulator) -> dict[str, bytes]:
        files = {f"/{rel}": data for rel, data in sample_tree().items()}
        for path, data in files.items():
            graph.add_file(path, data)
        return files

    @pytest.fixture(scope="class")
    @classmethod
    def importer_config(
        cls, graph: GraphEmulator, expected_files: dict[str, bytes]
    ) -> dict[str, str]:
        return app_config(graph, "onedrive:///")


class TestOneDriveExporter(Connector, _ClassGraph, ExporterConformance):
    connector = "onedrive"
    proto = "onedrive"
    exports_xattrs = False  # OneDrive recomputes its hashes: nothing to restore from xattrs

    @pytest.fixture(scope="class")
    @classmethod
    def exporter_config(cls, graph: GraphEmulator) -> dict[str, str]:
        return app_config(graph, "onedrive:///Restore", part_size=FRAGMENT)

    @pytest.fixture(scope="class")
    @classmethod
    def read_back(cls, graph: GraphEmulator) -> Callable[[str], bytes | None]:
        return lambda path: graph.tree().get("/Restore" + path)


class TestOneDriveStorage(Connector, _ClassGraph, StorageConformance, StorageLifecycle):
    connector = "onedrive"
    proto = "onedrive"
    big_sizes = (5 * MiB + 3, 4 * MiB)

    @pytest.fixture(scope="class")
    @classmethod
    def storage_config(cls, graph: GraphEmulator) -> dict[str, str]:
        return app_config(graph, "onedrive:///Apps/plakar/repo", part_size=FRAGMENT)

    def test_layout_is_the_go_stores(self, store: StoreClient, graph: GraphEmulator) -> None:
        data = os.urandom(100)
        mac = mac_of(data)
        store.put(Resource.PACKFILE, mac, data)
        store.put(Resource.LOCK, mac, data)
        tree = graph.tree()
        root = "/Apps/plakar/repo"
        assert tree[f"{root}/packfiles/{mac.hex()[:2]}/{mac.hex()}"] == data
        assert tree[f"{root}/locks/{mac.hex()}"] == data
        assert f"{root}/CONFIG" in tree

    def test_ranged_get_is_one_request(self, store: StoreClient, graph: GraphEmulator) -> None:
        data = os.urandom(2 * MiB)
        mac = mac_of(data)
        store.put(Resource.PACKFILE, mac, data)
        graph.reset_stats()
        for off in (0, 4096, MiB + 7):
            assert store.get(Resource.PACKFILE, mac, off, 1000) == data[off : off + 1000]
        assert graph.stats["download"] == 3 and graph.stats["download_range"] == 3
        assert graph.stats["requests"] == 3  # the download URL came with the upload answer

    def test_put_never_shows_a_partial_object(
        self, store: StoreClient, graph: GraphEmulator
    ) -> None:
        """Looked at while the upload session receives its fragments: nothing under the final
        name but the whole object, and no temporary names."""
        data = os.urandom(5 * MiB)  # 4 fragments of 1.25 MiB
        mac = mac_of(data)
        final = f"/Apps/plakar/repo/packfiles/{mac.hex()[:2]}/{mac.hex()}"
        seen = graph.stats["upload_fragment"]
        errors: list[BaseException] = []
        done = threading.Event()

        def put() -> None:
            try:
                store.put(Resource.PACKFILE, mac, data)
            except BaseException as exc:  # reported below
                errors.append(exc)
            finally:
                done.set()

        graph.faults.latency = 0.2  # per request: time to look between two fragments
        thread = threading.Thread(target=put)
        thread.start()
        mid_session = 0  # looks taken after the first fragment and before the last
        try:
            while not done.wait(0.02):
                fragments = graph.stats["upload_fragment"] - seen
                tree = graph.tree()
                if final in tree:
                    assert tree[final] == data, f"{len(tree[final])} bytes under the final name"
                assert not [p for p in tree if ".tmp" in p or "~" in p]
                if 1 <= fragments < 4 and final not in tree:
                    mid_session += 1
        finally:
            thread.join(60)
            graph.faults.latency = 0.0
        assert not errors, errors
        assert mid_session >= 2, f"looked {mid_session} times during the upload session"
        assert graph.tree()[final] == data
        assert graph.stats["upload_cancel"] == 0


def test_gohost_store(emu: GraphEmulator) -> None:
    """grpc-go (Plakar's stack) drives the store: create, put/get/list/delete, ranges."""
    cfg = app_config(emu, "onedrive:///gohost-repo", part_size=FRAGMENT)
    out = run_gohost(
        "store",
        plugin_argv("onedrive", "storage"),
        "onedrive",
        cfg,
        "-n",
        "4",
        "-size",
        str(5 * MiB),
    )
    assert out.get("ok"), {k: v for k, v in out.items() if k != "_stderr"}


def test_open_without_repository_is_clear(emu: GraphEmulator) -> None:
    with PluginProcess(plugin_argv("onedrive", "storage")) as proc:
        store = StoreClient(proc)
        store.init(app_config(emu, "onedrive:///nothing-here"))
        with pytest.raises(Exception) as ei:
            store.open()
        assert "no repository at onedrive:/nothing-here" in str(ei.value)
