"""Importer against an emulated drive of ~3,000 items: full listing, delta, resync (issues 7, 9)."""

from __future__ import annotations

import base64
import math
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from kloset_onedrive.quickxor import quickxor_b64
from kloset_sdk.harness.clients import Imported
from tests.conftest import plugin_argv, run_gohost
from tests.emulators.graph import GraphEmulator
from tests.integrations.onedrive.support import (
    MiB,
    app_config,
    dirs_of,
    expected_tree,
    files_of,
    run_import,
    seed_tree,
    sha,
)

QXOR = "user.onedrive.quickxorhash"


@pytest.fixture(scope="module")
def big() -> Iterator[GraphEmulator]:
    """2,900 files in 100 nested folders, a 100 MiB file, a OneNote notebook, the vault."""
    with GraphEmulator() as emu:
        seed_tree(emu, files=2900, folders=100, big=100 * MiB)
        yield emu


def test_full_import_reproduces_tree_and_bytes(big: GraphEmulator) -> None:
    files, dirs = expected_tree(big)
    assert len(files) + len(dirs) >= 3000
    sample = set(list(files)[:200])
    big.reset_stats()
    run = run_import(
        app_config(big, checksums="true"),
        opens=lambda i: not i.record.is_xattr or i.record.pathname in sample,
    )
    assert run.finished and not run.errors, run.errors[:3]
    # the whole tree in delta pages of 1,000 items (the root too; the vault's content is hidden
    # from delta), no folder listing, no item lookup: 4 requests for 3,000 items in 100 folders
    graph = {k: v for k, v in big.stats.items() if k in _GRAPH_KINDS and v}
    assert graph == {"delta": _delta_pages(big), "download": len(files) - _empty(files)}
    assert graph["delta"] == 4, graph
    got = files_of(run)
    assert set(got) == set(files)
    assert dirs_of(run) == dirs
    for path, data in files.items():
        assert got[path].read == len(data) and got[path].sha256 == sha(data), path
    assert got["/dir 000/big.iso"].read == 100 * MiB
    # neither the notebook nor the vault (nor anything inside them) is in the backup
    assert not [p for p in run.by_path() if "Notebook" in p or "Vault" in p]
    # mtimes are OneDrive's fileSystemInfo (seconds), hashes are kept as xattrs (checksums)
    xattrs = run.xattrs()
    for path in sample:
        item = big.get_item(path)
        rec = got[path].record
        assert rec.info is not None
        assert rec.info.mtime_ns // 10**9 == _seconds(
            item["fileSystemInfo"]["lastModifiedDateTime"]
        )
        assert QXOR in rec.xattrs
        assert xattrs[(path, QXOR)].sha256 == sha(quickxor_b64(files[path]).encode())


def test_delta_fetches_only_what_changed(big: GraphEmulator, tmp_path: Path) -> None:
    state = tmp_path / "delta.sqlite"
    cfg = app_config(big, delta="true", state_file=str(state))
    first = run_import(cfg, opens=lambda item: False)  # kloset's cache knows every file already
    assert first.finished and not first.errors
    files, dirs = expected_tree(big)
    assert set(files_of(first)) == set(files) and dirs_of(first) == dirs
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o600
    before = {p: _stamp(r) for p, r in files_of(first).items()}

    d = _folders_with_files(files)
    updated = _first_file(files, d[1])
    renamed_from = _first_file(files, d[3])
    renamed_to = renamed_from.rsplit("/", 1)[0] + "/renamed.bin"
    big.add_file(d[0] + "/added.txt", b"new file")
    big.update(updated, b"new content", modified=1_700_000_000)
    big.delete(_first_file(files, d[2]))
    big.rename(renamed_from, "renamed.bin")
    big.add_folder(d[4] + "/new folder")
    big.reset_stats()

    second = run_import(cfg, opens=lambda item: _changed(before, item))
    assert second.finished and not second.errors
    files, dirs = expected_tree(big)
    got = files_of(second)
    assert set(got) == set(files) and dirs_of(second) == dirs
    opened = {p: r for p, r in got.items() if r.sha256}
    assert set(opened) == {d[0] + "/added.txt", updated, renamed_to}
    for path, r in opened.items():
        assert r.sha256 == sha(files[path]), path
    # one delta page for the changes, one download per changed non-empty file, nothing else
    graph = {k: v for k, v in big.stats.items() if k in _GRAPH_KINDS and v}
    assert graph == {"delta": 1, "download": sum(1 for p in opened if files[p])}, graph


def test_delta_resyncs_when_the_token_is_refused(emu: GraphEmulator, tmp_path: Path) -> None:
    seed_tree(emu, files=60, folders=8)
    cfg = app_config(emu, delta="true", state_file=str(tmp_path / "delta.sqlite"))
    run_import(cfg, opens=lambda item: False)
    emu.invalidate_delta_tokens()
    emu.add_file("/dir 007/after-resync.txt", b"resync")
    emu.delete(min(d for d in expected_tree(emu)[1] if d.count("/") == 1 and d != "/"))
    emu.reset_stats()
    run = run_import(cfg, opens=lambda item: item.record.pathname.endswith("after-resync.txt"))
    assert emu.stats["status_410"] == 1 and emu.stats["delta"] == 2  # refused, then full again
    assert run.finished and not run.errors
    files, dirs = expected_tree(emu)
    assert set(files_of(run)) == set(files) and dirs_of(run) == dirs
    assert files_of(run)["/dir 007/after-resync.txt"].sha256 == sha(b"resync")


def test_delta_state_waits_for_every_ack(emu: GraphEmulator, tmp_path: Path) -> None:
    """A run the host abandons (gohost -noack: no ack at all) must not move the deltaLink."""
    seed_tree(emu, files=20, folders=3)
    state = tmp_path / "delta.sqlite"
    cfg = app_config(emu, delta="true", state_file=str(state))
    out = run_gohost("import", plugin_argv("onedrive", "importer"), "onedrive", cfg, "-noack")
    assert out["finished"] and not state.exists()
    out = run_gohost("import", plugin_argv("onedrive", "importer"), "onedrive", cfg)
    assert out["ok"] and state.exists()
    saved = state.read_bytes()
    # an abandoned run on top of a stored state: its changes are rolled back, the file unchanged
    emu.add_file("/late.txt", b"late")
    out = run_gohost("import", plugin_argv("onedrive", "importer"), "onedrive", cfg, "-noack")
    assert out["finished"] and state.read_bytes() == saved
    emu.reset_stats()
    run = run_import(cfg, opens=lambda item: item.record.pathname == "/late.txt")
    assert run.finished and files_of(run)["/late.txt"].sha256 == sha(b"late")
    assert emu.stats["delta"] == 1  # the stored link still worked: the change came again


def test_gohost_import(emu: GraphEmulator) -> None:
    """grpc-go (Plakar's stack) imports the drive: records, Opens, acks, exit 0."""
    seed_tree(emu, files=40, folders=5)
    files, dirs = expected_tree(emu)
    out = run_gohost("import", plugin_argv("onedrive", "importer"), "onedrive", app_config(emu))
    assert out["ok"], {k: v for k, v in out.items() if k != "_stderr"}
    assert out["files"] >= len(files) and not out["errors"]


@pytest.mark.parametrize("how", ["site_id", "user"])
def test_sharepoint_site_and_user_drives(emu: GraphEmulator, how: str) -> None:
    if how == "site_id":
        drive = emu.add_drive("documentLibrary")
        target = {"site_id": str(emu.site_id_of(drive))}
    else:
        drive, target = emu.default_drive_id, {"user": "alice@contoso.example"}
    emu.add_file("/Shared/report.docx", b"quarterly", drive_id=drive)
    cfg = {k: v for k, v in app_config(emu).items() if k != "drive_id"}
    run = run_import({**cfg, **target})
    assert run.finished and not run.errors
    assert run.by_path()["/Shared/report.docx"].sha256 == sha(b"quarterly")


def test_location_below_root_keeps_ancestors(big: GraphEmulator) -> None:
    big.reset_stats()
    run = run_import(app_config(big, "onedrive:///dir 001"), opens=lambda item: False)
    assert run.finished and not run.errors
    paths = set(run.by_path())
    files, dirs = expected_tree(big)
    below = {p for p in set(files) | dirs if p.startswith("/dir 001/")}
    assert paths == {"/", "/dir 001"} | below
    assert not [p for p in paths if "Notebook" in p]
    # the location and its ancestor looked up, then the drive's delta filtered by ancestry (the
    # emulator, like a business drive, refuses delta on a folder: one 400 first)
    assert big.stats["item"] == 2 and big.stats["children"] == 0
    assert big.stats["delta"] == 1 + _delta_pages(big)


_GRAPH_KINDS = {
    "item",
    "children",
    "delta",
    "download",
    "content",
    "drive",
    "me",
    "create_folder",
    "upload_simple",
    "upload_session",
    "upload_fragment",
}


def _delta_pages(emu: GraphEmulator) -> int:
    """Pages of 1,000 for the whole drive: the root and all below, but the vault's content."""
    listed = 1 + sum(1 for p in emu.tree() if not p.startswith("/Personal Vault/"))
    return math.ceil(listed / 1000)


def _empty(files: dict[str, bytes]) -> int:
    return sum(1 for data in files.values() if not data)


def _changed(before: dict[str, tuple[int, int]], item: Imported) -> bool:
    """kloset's cache: a file is read again when its size or mtime differs (xattrs: skip)."""
    return not item.record.is_xattr and before.get(item.record.pathname) != _stamp(item)


def _stamp(item: Imported) -> tuple[int, int]:
    info = item.record.info
    assert info is not None
    return info.size, info.mtime_ns


def _folders_with_files(files: dict[str, bytes]) -> list[str]:
    return sorted({p.rsplit("/", 1)[0] for p in files if p.count("/") > 1})


def _first_file(files: dict[str, bytes], folder: str) -> str:
    return min(p for p in files if p.rsplit("/", 1)[0] == folder)


def _seconds(stamp: str) -> int:
    from kloset_sdk.records import parse_rfc3339_ns

    return parse_rfc3339_ns(stamp) // 10**9


def test_quickxor_matches_graph() -> None:
    """Our quickXorHash (kloset_onedrive.quickxor) against the emulator's independent one."""
    from tests.emulators.graph import quickxor_b64 as graph_quickxor

    for size in (0, 1, 19, 20, 159, 160, 161, 4095, 655_359, 655_360, 655_361, 3 * MiB + 5):
        data = os.urandom(size)
        assert quickxor_b64(data) == graph_quickxor(data), size
    assert base64.b64decode(quickxor_b64(b"J")) == b"J" + bytes(11) + b"\x01" + bytes(7)
