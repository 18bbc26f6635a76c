"""GdriveStorage beyond the conformance suite: ranged reads, names, duplicates, gohost."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import grpc
import pytest

from kloset_sdk import Resource
from kloset_sdk.harness import PluginProcess, StoreClient
from tests.conftest import plugin_argv, run_gohost
from tests.emulators.drive import DriveEmulator
from tests.integrations.gdrive.conftest import drive_config

MiB = 1 << 20


@pytest.fixture
def store(emu: DriveEmulator) -> Iterator[StoreClient]:
    with PluginProcess(plugin_argv("gdrive", "storage")) as proc:
        client = StoreClient(proc)
        client.init(drive_config(emu, "gdrive://Backups/repo", chunk_size="1"), proto="gdrive")
        client.create(b"config bytes")
        yield client
        client.close()


def names(emu: DriveEmulator, path: str) -> list[str]:
    return sorted(item.name for item in emu.children(emu.find(path)))


def test_ranged_get_downloads_only_the_range(emu: DriveEmulator, store: StoreClient) -> None:
    data = os.urandom(5 * MiB + 11)
    mac = hashlib.sha256(data).digest()
    store.put(Resource.PACKFILE, mac, data)
    emu.reset_stats()
    assert store.get(Resource.PACKFILE, mac, 3 * MiB + 5, 70_000) == data[3 * MiB + 5 :][:70_000]
    assert emu.stats["bytes_sent"] == 70_000 and emu.stats["media"] == 1, emu.stats
    media = [r for r in emu.request_log if r.kind == "media"]
    assert media[0].range == f"bytes={3 * MiB + 5}-{3 * MiB + 5 + 70_000 - 1}"
    emu.reset_stats()
    assert store.get(Resource.PACKFILE, mac) == data
    assert emu.stats["bytes_sent"] == len(data) and emu.stats["media"] == 1


def test_layout_temp_names_and_lazy_shards(emu: DriveEmulator, store: StoreClient) -> None:
    assert names(emu, "Backups/repo") == ["CONFIG"]  # no 512 shard folders made up front
    data = os.urandom(2 * MiB + 1)  # a resumable upload with 1 MiB chunks
    mac = hashlib.sha256(data).digest()
    emu.reset_stats()
    assert store.put(Resource.STATE, mac, data) == len(data)
    assert emu.stats["upload_chunk"] == 3, emu.stats
    hx = mac.hex()
    assert names(emu, "Backups/repo") == ["CONFIG", "states"]
    assert names(emu, f"Backups/repo/states/{hx[:2]}") == [hx]
    # the upload was made under a temporary name and renamed when complete
    sessions = [r for r in emu.request_log if r.kind == "upload"]
    assert sessions and emu.stats["update"] == 1
    store.put(Resource.LOCK, mac, b"lock")
    assert names(emu, "Backups/repo/locks") == [hx]
    assert store.list(Resource.STATE) == [mac] and store.list(Resource.LOCK) == [mac]
    assert store.size() == len(data) + 4 + len(b"config bytes")
    store.put(Resource.STATE, mac, data)  # already there: the second copy is dropped
    assert names(emu, f"Backups/repo/states/{hx[:2]}") == [hx]


def test_duplicate_names(emu: DriveEmulator, store: StoreClient) -> None:
    same, other = b"same bytes", b"other bytes"
    mac = hashlib.sha256(same).digest()
    store.put(Resource.PACKFILE, mac, same)
    shard = emu.find(f"Backups/repo/packfiles/{mac.hex()[:2]}")
    twin = emu.add_file(mac.hex(), same, shard)  # another process raced us: same bytes, fine
    assert store.get(Resource.PACKFILE, mac) == same
    mac2 = hashlib.sha256(other).digest()
    store.put(Resource.PACKFILE, mac2, other)
    shard2 = emu.find(f"Backups/repo/packfiles/{mac2.hex()[:2]}")
    bad = emu.add_file(mac2.hex(), b"corrupt", shard2)
    with PluginProcess(plugin_argv("gdrive", "storage")) as proc:  # a fresh cache
        client = StoreClient(proc)
        client.init(drive_config(emu, "gdrive://Backups/repo"), proto="gdrive")
        assert client.get(Resource.PACKFILE, mac) == same
        with pytest.raises(grpc.RpcError) as ei:
            client.get(Resource.PACKFILE, mac2)
        assert bad in (ei.value.details() or "") and "different bytes" in (ei.value.details() or "")
        client.delete(Resource.PACKFILE, mac)  # deletes both copies
    assert twin not in [i.id for i in emu.children(shard)]


def test_open_missing_repository(emu: DriveEmulator) -> None:
    with PluginProcess(plugin_argv("gdrive", "storage")) as proc:
        client = StoreClient(proc)
        client.init(drive_config(emu, "gdrive://nowhere"), proto="gdrive")
        with pytest.raises(grpc.RpcError) as ei:
            client.open()
        assert "no repository" in (ei.value.details() or "")


def test_quota_exhausted_stops_cleanly(emu: DriveEmulator, store: StoreClient) -> None:
    emu.faults.quota_exhausted = "storageQuotaExceeded"
    emu.reset_stats()
    with pytest.raises(grpc.RpcError) as ei:
        store.put(Resource.PACKFILE, os.urandom(32), b"x" * 1000)
    assert "quota" in (ei.value.details() or "").lower()
    assert emu.stats["quota_rejected"] == 1  # not retried


def test_gohost_store(emu: DriveEmulator) -> None:
    res = run_gohost(
        "store", plugin_argv("gdrive", "storage"), "gdrive",
        drive_config(emu, "gdrive://gohost-repo"), "-n", "3", "-size", str(3 * MiB),
    )  # fmt: skip
    assert res["ok"], res
    assert all(v == "ok" for v in res["checks"].values()), res["checks"]


@pytest.mark.parametrize("status", [404, 501])
def test_no_generate_ids_store_keeps_one_copy(emu: DriveEmulator, status: int) -> None:
    """A store on a service without files.generateIds: folders and objects are created
    without pre-generated ids, and a Put whose upload answer was lost leaves one object."""
    emu.api.generate_ids_status = status
    data = os.urandom(1000)
    mac = hashlib.sha256(data).digest()
    with PluginProcess(plugin_argv("gdrive", "storage")) as proc:
        client = StoreClient(proc)
        client.init(drive_config(emu, "gdrive://Backups/repo"), proto="gdrive")
        client.create(b"config bytes")
        emu.faults.drop_mode = "after"
        emu.faults.inject("drop", path="uploadType=multipart", count=1)
        emu.faults.inject("drop", path=r"^/drive/v3/files\?", count=1)  # a shard folder
        assert client.put(Resource.PACKFILE, mac, data) == len(data)
        assert client.get(Resource.PACKFILE, mac) == data
        assert client.list(Resource.PACKFILE) == [mac]
        assert client.open() == b"config bytes"
        client.close()
    assert emu.stats["dropped"] == 2 and emu.stats["generate_ids"] == 1, emu.stats
    hx = mac.hex()
    assert names(emu, "Backups/repo/packfiles") == [hx[:2]]
    assert names(emu, f"Backups/repo/packfiles/{hx[:2]}") == [hx]
