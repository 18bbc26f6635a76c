"""A connection reset mid-transfer (FaultProxy between plugin and sshd): a clean error or a
retried success, and never a truncated file under its final name."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from kloset_sdk import FileInfo, Record, Resource
from kloset_sdk.harness import ExporterClient, ImporterClient, PluginProcess, StoreClient
from tests.conformance.storage import assert_clean_error
from tests.conftest import plugin_argv
from tests.emulators.faultproxy import FaultProxy
from tests.emulators.sshd import SSHD

MiB = 1 << 20


def via_proxy(sshd: SSHD, proxy: FaultProxy, path: Path) -> dict[str, str]:
    """Through the proxy's port; the host key is pinned (known_hosts names the real port)."""
    return {
        "location": f"sftp://{sshd.user}@{proxy.host_port}{path}",
        "identity": str(sshd.key_path),
        "host_key_fingerprint": sshd.host_key_fingerprint,
        "ssh_config": str(Path(__file__).with_name("empty_ssh_config")),
        "connect_timeout": "5",
    }


@pytest.fixture
def proxy(sshd: SSHD, fault_proxy: Callable[[str, int], FaultProxy]) -> FaultProxy:
    return fault_proxy(sshd.host, sshd.port)


@pytest.fixture
def store(sshd: SSHD, proxy: FaultProxy, remote_dir: Path) -> Iterator[StoreClient]:
    with PluginProcess(plugin_argv("sftp", "storage")) as proc:
        client = StoreClient(proc)
        client.init(via_proxy(sshd, proxy, remote_dir / "repo"))
        client.create(b"config")
        yield client


def leftovers(root: Path) -> list[str]:
    return [str(p) for p in root.rglob("*") if ".tmp-" in p.name or ".kloset-" in p.name]


def test_put_reset_midway_stores_nothing(
    store: StoreClient, proxy: FaultProxy, remote_dir: Path
) -> None:
    data = os.urandom(8 * MiB)
    mac = hashlib.sha256(data).digest()
    final = remote_dir / "repo" / "packfiles" / mac.hex()[:2] / mac.hex()
    proxy.reset_after(3 * MiB, "upstream")
    with pytest.raises(grpc.RpcError) as ei:
        store.put(Resource.PACKFILE, mac, data)
    assert_clean_error(ei.value)
    assert "connection to" in (ei.value.details() or "")
    assert not final.exists()
    assert leftovers(remote_dir) == []  # removed over a fresh connection
    assert store.put(Resource.PACKFILE, mac, data) == len(data)  # the store reconnects
    assert final.read_bytes() == data


def test_get_reset_midway_resumes(store: StoreClient, proxy: FaultProxy) -> None:
    data = os.urandom(10 * MiB)
    mac = hashlib.sha256(data).digest()
    store.put(Resource.PACKFILE, mac, data)
    proxy.reset_after(2 * MiB, "downstream")
    assert store.get(Resource.PACKFILE, mac) == data
    proxy.reset_after(1 * MiB, "downstream")
    assert store.get(Resource.PACKFILE, mac, 3 * MiB, 5 * MiB) == data[3 * MiB : 8 * MiB]
    assert proxy.connections >= 3


def test_import_open_reset_midway_resumes(sshd: SSHD, proxy: FaultProxy, remote_dir: Path) -> None:
    data = os.urandom(12 * MiB)
    (remote_dir / "big.bin").write_bytes(data)
    with PluginProcess(plugin_argv("sftp", "importer")) as proc:
        client = ImporterClient(proc)
        client.init(via_proxy(sshd, proxy, remote_dir))
        proxy.reset_after(5 * MiB, "downstream")
        run = client.scan()
    item = run.by_path()[f"{remote_dir}/big.bin"]
    assert not run.errors, run.errors
    assert item.sha256 == hashlib.sha256(data).hexdigest()


def test_export_reset_midway_leaves_no_truncated_file(
    sshd: SSHD, proxy: FaultProxy, remote_dir: Path
) -> None:
    big = os.urandom(12 * MiB)
    items = [
        (Record.directory("/", FileInfo("/", mode=0o755)), None),
        (Record.file("/small", FileInfo("small", size=5, mode=0o644), bytes), b"small"),
        (Record.file("/big", FileInfo("big", size=len(big), mode=0o644), bytes), big),
        (Record.file("/after", FileInfo("after", size=5, mode=0o600), bytes), b"after"),
    ]
    target = remote_dir / "restore"
    with PluginProcess(plugin_argv("sftp", "exporter")) as proc:
        client = ExporterClient(proc)
        client.init(via_proxy(sshd, proxy, target))
        proxy.reset_after(4 * MiB, "upstream")
        run = client.export(items)
    errors = dict(run.errors)
    assert list(errors) == ["/big"], run.errors
    assert "lost" in errors["/big"]
    assert not (target / "big").exists()
    assert (target / "small").read_bytes() == b"small"
    assert (target / "after").read_bytes() == b"after"  # the next file reconnected
    assert leftovers(remote_dir) == []


def test_silent_connection_ends_in_a_clean_error(
    sshd: SSHD, proxy: FaultProxy, remote_dir: Path
) -> None:
    """A black hole (no RST, no bytes): the call fails after 4 x connect_timeout plus one
    reconnect attempt, instead of hanging; once the network heals the store works again."""
    with PluginProcess(plugin_argv("sftp", "storage")) as proc:
        store = StoreClient(proc)
        store.init({**via_proxy(sshd, proxy, remote_dir / "repo"), "connect_timeout": "1"})
        store.create(b"c")
        data = os.urandom(MiB)
        mac = hashlib.sha256(data).digest()
        store.put(Resource.STATE, mac, data)
        proxy.blackhole(True)
        t0 = time.monotonic()
        with pytest.raises(grpc.RpcError) as ei:
            store.get(Resource.STATE, mac)
        assert time.monotonic() - t0 < 30
        assert_clean_error(ei.value)
        assert f"{mac.hex()}: connection" in (ei.value.details() or "")
        t0 = time.monotonic()
        with pytest.raises(grpc.RpcError) as ei:  # 256 directories, still one timeout or two
            store.list(Resource.STATE)
        assert time.monotonic() - t0 < 15, time.monotonic() - t0
        assert "reconnecting failed" in (ei.value.details() or "")
        proxy.blackhole(False)
        assert store.get(Resource.STATE, mac) == data  # the first call after the fix works


def test_import_stops_when_the_server_is_gone(
    sshd: SSHD, proxy: FaultProxy, remote_dir: Path
) -> None:
    """Connection reset mid-walk and reconnect refused: the Import fails with one clear error
    instead of sending an error record for every directory left."""
    for i in range(60):
        d = remote_dir / f"d{i:02d}"
        d.mkdir()
        (d / "f").write_bytes(b"x")
    with PluginProcess(plugin_argv("sftp", "importer")) as proc:
        client = ImporterClient(proc)
        client.init(via_proxy(sshd, proxy, remote_dir), maxconcurrency=2)
        proxy.refuse(True)  # established connections live on, new ones are refused
        proxy.reset_after(6000, "downstream")
        t0 = time.monotonic()
        with pytest.raises(grpc.RpcError) as ei:
            client.scan(read=False)
        assert time.monotonic() - t0 < 20
    assert "reconnecting failed: cannot connect" in (ei.value.details() or "")
