"""Storage details the conformance suite does not see: layout on disk, durability extensions,
Create on a non-empty directory, stale temporary files, config errors."""

from __future__ import annotations

import os
import stat
import subprocess
import time
from pathlib import Path

import grpc
import pytest

from kloset_sdk import ConfigError, Resource
from kloset_sdk.harness import PluginProcess, StoreClient
from kloset_sftp.client import SFTPSession
from tests.conftest import ROOT, plugin_argv
from tests.emulators.sshd import SSHD
from tests.integrations.sftp.conftest import base_config, options, session


def test_layout_matches_the_go_store(sshd: SSHD, remote_dir: Path) -> None:
    repo = remote_dir / "repo"
    with PluginProcess(plugin_argv("sftp", "storage")) as proc:
        store = StoreClient(proc)
        ident = store.init(base_config(sshd, repo))
        assert (ident.type, ident.root) == ("sftp", str(repo))
        store.create(b"wrapped config")
        mac = bytes(range(32))
        store.put(Resource.STATE, mac, b"state")
        store.put(Resource.LOCK, mac, b"lock")
        assert store.size() == len(b"wrapped config") + len(b"state") + len(b"lock")
    assert (repo / "CONFIG").read_bytes() == b"wrapped config"
    assert (repo / "states" / "00" / mac.hex()).read_bytes() == b"state"
    assert (repo / "locks" / mac.hex()).read_bytes() == b"lock"
    assert stat.S_IMODE(os.stat(repo).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(repo / "locks" / mac.hex()).st_mode) == 0o600
    assert len(os.listdir(repo / "states")) == 256


def test_create_refuses_a_non_empty_directory(sshd: SSHD, remote_dir: Path) -> None:
    (remote_dir / "someone's file").write_text("keep me")
    with PluginProcess(plugin_argv("sftp", "storage")) as proc:
        store = StoreClient(proc)
        store.init(base_config(sshd, remote_dir))
        with pytest.raises(grpc.RpcError) as ei:
            store.create(b"x")
        assert "not empty" in (ei.value.details() or "")
        with pytest.raises(grpc.RpcError) as ei:
            store.open()
        assert "no repository here" in (ei.value.details() or "")
    assert os.listdir(remote_dir) == ["someone's file"]


def test_stale_temporary_files_are_removed_by_list(sshd: SSHD, remote_dir: Path) -> None:
    repo = remote_dir / "repo"
    with PluginProcess(plugin_argv("sftp", "storage")) as proc:
        store = StoreClient(proc)
        store.init(base_config(sshd, repo))
        store.create(b"c")
        shard = repo / "packfiles" / "ab"
        old, fresh = shard / ("ab" * 32 + ".tmp-0123456789ab"), shard / ("ab" * 32 + ".tmp-0a")
        young = shard / ("ab" * 32 + ".tmp-ba9876543210")
        for p in (old, fresh, young):
            p.write_bytes(b"partial")
        os.utime(old, (time.time() - 7200, time.time() - 7200))
        assert store.list(Resource.PACKFILE) == []
    assert not old.exists() and young.exists() and fresh.exists()


def test_server_extensions_are_used(sshd: SSHD) -> None:
    """OpenSSH offers what makes Put durable and atomic and reads large: check we see it."""
    s = session(base_config(sshd, "/"))
    try:
        ch = s.acquire()
        assert ch.has("fsync@openssh.com") and ch.has("posix-rename@openssh.com")
        assert ch.read_size == ch.write_size == 261120  # limits@openssh.com: 255 KiB
        s.release(ch)
    finally:
        s.close()


def test_config_errors_name_the_key(sshd: SSHD) -> None:
    good = base_config(sshd, "/")
    with pytest.raises(ConfigError, match="^username: cannot be used together with user@"):
        SFTPSession(options({**good, "username": "bob"}), 1)
    with pytest.raises(ConfigError, match="^host_key_fingerprint"):
        options({**good, "host_key_fingerprint": "MD5:aa:bb"})
    with pytest.raises(ConfigError, match="^ssh_private_key_ttl"):
        options({**good, "ssh_private_key_ttl": "5 minutes"})
    with pytest.raises(ConfigError, match="^set_owner: not an option of the storage"):
        options({**good, "set_owner": "true"})
    with pytest.raises(ConfigError, match="^ssh_config: /nonexistent: no such file"):
        SFTPSession(options({**good, "ssh_config": "/nonexistent"}), 1)


def test_generated_files_are_current() -> None:
    """manifests/sftp/*.schema.json and the README options table come from options.py."""
    proc = subprocess.run([str(ROOT / "scripts" / "gen"), "--check", "sftp"], capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
