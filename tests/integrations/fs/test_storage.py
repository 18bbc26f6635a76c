"""Storage: gohost, the on-disk layout, Create/Open refusals, and a SIGKILL mid-Put."""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from kloset_sdk import Resource
from kloset_sdk.harness import PluginProcess, StoreClient
from tests.conftest import plugin_argv, run_gohost

MiB = 1 << 20


def start(repo: Path, create: bool = True) -> tuple[PluginProcess, StoreClient]:
    proc = PluginProcess(plugin_argv("fs", "storage"))
    client = StoreClient(proc)
    ident = client.init({"location": f"posixfs://{repo}"}, proto="posixfs")
    assert (ident.origin, ident.type, ident.root, int(ident.flags)) == (
        "localhost",
        "posixfs",
        str(repo),
        1,
    )
    if create:
        client.create(b"config-bytes")
    return proc, client


def test_layout_and_permissions(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    proc, client = start(repo)
    with proc:
        mac = bytes(range(32))
        client.put(Resource.STATE, mac, b"state")
        client.put(Resource.LOCK, mac, b"lock")
        client.put(Resource.PACKFILE, mac, b"pack")
        with pytest.raises(grpc.RpcError) as ei:
            client.delete(Resource.LOCK, os.urandom(32))
        assert ei.value.code() == grpc.StatusCode.NOT_FOUND
        assert client.size() >= len(b"config-bytesstatelockpack")
    assert sorted(os.listdir(repo)) == ["CONFIG", "locks", "packfiles", "states"]
    assert len(os.listdir(repo / "packfiles")) == 256 == len(os.listdir(repo / "states"))
    assert (repo / "states" / "00" / mac.hex()).read_bytes() == b"state"
    assert (repo / "packfiles" / "00" / mac.hex()).read_bytes() == b"pack"
    assert (repo / "locks" / mac.hex()).read_bytes() == b"lock"
    for p in [repo, *repo.rglob("*")]:
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == (0o700 if p.is_dir() else 0o600), (p, oct(mode))


def test_create_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "something").write_text("x")
    proc, client = start(repo, create=False)
    with proc:
        with pytest.raises(grpc.RpcError) as ei:
            client.create(b"cfg")
        assert "not empty" in (ei.value.details() or "")
        with pytest.raises(grpc.RpcError) as ei:
            client.open()
        assert "CONFIG" in (ei.value.details() or "")


def test_killed_put_leaves_no_object(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    proc, client = start(repo)
    mac = os.urandom(32)
    release = threading.Event()
    failure: list[BaseException] = []

    def slow() -> Iterator[bytes]:
        yield os.urandom(MiB)
        yield os.urandom(MiB)
        release.wait(30)  # the host stalls mid-object; the process dies meanwhile

    def put() -> None:
        try:
            client.put(Resource.PACKFILE, mac, slow())
        except BaseException as exc:
            failure.append(exc)

    t = threading.Thread(target=put)
    t.start()
    shard = repo / "packfiles" / mac[:1].hex()
    deadline = time.monotonic() + 20
    while not any(shard.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.02)
    temps = list(shard.iterdir())
    assert temps and all(p.name.startswith(".") for p in temps)  # only a hidden temporary
    proc.proc.kill()  # SIGKILL, as Plakar's CommandContext does
    proc.proc.wait()
    release.set()
    t.join(30)
    proc.close()
    assert failure and isinstance(failure[0], grpc.RpcError)
    assert not (shard / mac.hex()).exists()
    # a new process does not list the leftover; Open removes it once it is an hour old
    old = time.time() - 7200
    for p in temps:
        os.utime(p, (old, old))
    young = shard / ".kloset-put-young"
    young.write_bytes(b"a Put still running elsewhere")
    proc, client = start(repo, create=False)
    with proc:
        assert client.open() == b"config-bytes"
        assert client.list(Resource.PACKFILE) == []
    assert sorted(shard.iterdir()) == [young]


def test_gohost_store(tmp_path: Path) -> None:
    out = run_gohost(
        "store",
        plugin_argv("fs", "storage"),
        "posixfs",
        {"location": f"posixfs://{tmp_path / 'repo'}"},
        "-n",
        "4",
        "-size",
        str(16 * MiB),
    )
    assert out["ok"], out
    assert (out["type"], out["origin"], out["flags"]) == ("posixfs", "localhost", 1)
