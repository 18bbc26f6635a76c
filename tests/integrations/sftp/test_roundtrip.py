"""Importer then exporter through the plugin processes, checked with os.stat on the server side.

The sshd is local, so what the plugins did over SFTP can be compared with what `os.lstat` and
`os.readlink` see: modes with setuid/setgid/sticky, mtimes (SFTPv3: whole seconds), owners,
symlinks, non-ASCII names and spaces, sizes from 0 bytes to 50 MiB.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from kloset_sdk.harness import ExporterClient, ImporterClient, ImportRun, PluginProcess
from tests.conftest import plugin_argv, run_gohost
from tests.emulators.sshd import SSHD
from tests.integrations.sftp.conftest import base_config

MiB = 1 << 20
FILES = {
    "empty": 0,
    "one byte": 1,
    "almost a MiB.bin": MiB - 1,
    "ñandú/è é.bin": 3 * MiB + 5,
    "日本語/テスト.txt": 1000,
    "deep/a/b/c/d/leaf": 17,
    "big/fifty.bin": 50 * MiB,
}
MODES = {"setuid": 0o4755, "setgid": 0o2750, "readonly": 0o444, "private": 0o600}


def build_tree(root: Path) -> None:
    for i, (rel, size) in enumerate(FILES.items()):
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(os.urandom(size))
        os.utime(p, (1_000_000_000 + i, 1_000_000_000 + i * 7))
    for i, (name, mode) in enumerate(MODES.items()):
        p = root / "modes" / name
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(name.encode())
        os.chown(p, 1234, 5678)
        os.chmod(p, mode)  # after chown, which clears setuid
        os.utime(p, (1_500_000_000 + i, 1_500_000_000 + i))
    (root / "links").mkdir()
    os.symlink("../one byte", root / "links" / "relative")
    os.symlink("/etc/hostname", root / "links" / "absolute")
    os.symlink("nowhere/at all", root / "links" / "dangling")
    os.symlink("../deep", root / "links" / "to a dir")
    (root / "sticky").mkdir(mode=0o755)
    os.chmod(root / "sticky", 0o1777)
    (root / "ro dir").mkdir()
    (root / "ro dir" / "inside").write_bytes(b"x")
    dirs = [p for p in root.rglob("*") if p.is_dir() and not p.is_symlink()]
    for d in sorted(dirs, reverse=True):
        os.utime(d, (1_200_000_000, 1_200_000_000 + len(str(d))))
    os.chmod(root / "ro dir", 0o555)


def snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    """What must survive the round trip, per relative path."""
    out: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = os.lstat(p)
            rel = str(p.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p), int(st.st_mtime), st.st_uid)
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode), int(st.st_mtime), st.st_uid)
            else:
                digest = hashlib.sha256(p.read_bytes()).hexdigest()
                out[rel] = (
                    "file",
                    stat.S_IMODE(st.st_mode),
                    int(st.st_mtime),
                    st.st_size,
                    digest,
                    st.st_uid,
                    st.st_gid,
                )
    return out


@pytest.fixture(scope="module")
def source(sshd: SSHD) -> Path:
    root = sshd.root_dir / "roundtrip-src"
    if not root.exists():
        root.mkdir()
        build_tree(root)
    return root


@pytest.fixture(scope="module")
def imported(sshd: SSHD, source: Path) -> ImportRun:
    with PluginProcess(plugin_argv("sftp", "importer")) as proc:
        client = ImporterClient(proc)
        ident = client.init(base_config(sshd, source), maxconcurrency=8)
        assert (ident.type, ident.root) == ("sftp", str(source))
        assert ident.origin == f"{sshd.host}:{sshd.port}"
        run = client.scan(keep_data=True)
        client.close()
    assert run.finished
    return run


def test_import_records(imported: ImportRun, source: Path) -> None:
    assert not imported.errors, imported.errors
    by_path = imported.by_path()
    for rel, size in FILES.items():
        item = by_path[f"{source}/{rel}"]
        assert item.read == size == item.record.info.size  # type: ignore[union-attr]
        assert item.sha256 == hashlib.sha256((source / rel).read_bytes()).hexdigest()
    setuid = by_path[f"{source}/modes/setuid"].record.info
    assert setuid is not None and setuid.mode == 0o755 | (1 << 23)
    assert (setuid.uid, setuid.gid, setuid.nlink) == (1234, 5678, 1)
    link = by_path[f"{source}/links/dangling"].record
    assert link.target == "nowhere/at all" and link.is_symlink
    root = by_path[str(source)].record
    assert root.is_dir and root.info is not None and root.info.username == "root"
    assert by_path["/"].record.is_dir  # parents of the root come first, as from the fs importer
    paths = [r.record.pathname for r in imported.records]
    assert paths.index(str(source)) < paths.index(f"{source}/deep/a")


def test_export_restores_everything(sshd: SSHD, imported: ImportRun, source: Path) -> None:
    target = sshd.root_dir / "roundtrip-dst"
    items = []
    prefix = str(source)
    for item in imported.records:
        rec = item.record
        if rec.pathname != prefix and not rec.pathname.startswith(prefix + "/"):
            continue
        rec.pathname = rec.pathname[len(prefix) :] or "/"
        items.append((rec, item.data if rec.is_regular else None))
    with PluginProcess(plugin_argv("sftp", "exporter")) as proc:
        client = ExporterClient(proc)
        client.init(base_config(sshd, target))
        run = client.export(items)
        client.close()
    assert not run.errors, run.errors
    assert len(run.results) == len(items)
    want, got = snapshot(source), snapshot(target)
    assert got == want
    assert not [p for p in target.rglob("*kloset-*")], "temporary files left behind"


def test_gohost_import_and_export(sshd: SSHD, source: Path, tmp_path: Path) -> None:
    """Wire compatibility with grpc-go (Plakar's stack), 16 concurrent Opens."""
    out = tmp_path / "records.jsonl"
    res = run_gohost(
        "import", plugin_argv("sftp", "importer"), "sftp", base_config(sshd, source),
        "-j", "16", "-out", str(out),
    )  # fmt: skip
    assert res["ok"] and res["errors"] == 0, res
    lines = {ln["path"]: ln for ln in map(json.loads, out.read_text().splitlines())}
    for rel in FILES:
        digest = hashlib.sha256((source / rel).read_bytes()).hexdigest()
        assert lines[f"{source}/{rel}"]["sha256"] == digest, rel
    local = tmp_path / "local"
    (local / "sub dir").mkdir(parents=True)
    (local / "sub dir" / "ü.txt").write_bytes(b"hello")
    target = sshd.root_dir / "gohost-dst"
    res = run_gohost(
        "export", plugin_argv("sftp", "exporter"), "sftp", base_config(sshd, target),
        "-from", str(local),
    )  # fmt: skip
    assert res["ok"], res
    assert (target / "sub dir" / "ü.txt").read_bytes() == b"hello"


def test_gohost_store(sshd: SSHD, remote_dir: Path) -> None:
    res = run_gohost(
        "store", plugin_argv("sftp", "storage"), "sftp", base_config(sshd, remote_dir / "repo"),
        "-n", "4", "-size", str(4 * MiB),
    )  # fmt: skip
    assert res["ok"], res
    assert all(v == "ok" for v in res["checks"].values()), res["checks"]
    assert sorted(os.listdir(remote_dir / "repo")) == ["CONFIG", "locks", "packfiles", "states"]
    assert len(os.listdir(remote_dir / "repo" / "packfiles")) == 256
