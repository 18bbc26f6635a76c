"""Exporter: restore into the emulated drive, import it back, compare (issue 7)."""

from __future__ import annotations

import os

from kloset_onedrive.options import FRAGMENT_UNIT
from kloset_onedrive.quickxor import quickxor_b64
from kloset_sdk import FileInfo, Record
from tests.emulators.graph import GraphEmulator
from tests.integrations.onedrive.support import (
    MiB,
    app_config,
    files_of,
    run_export,
    run_import,
    sha,
)

FRAGMENT = 4 * FRAGMENT_UNIT  # 1.25 MiB: several fragments without big test files
T0 = 1_650_000_000_123_456_789  # ns; OneDrive keeps whole seconds


def _tree() -> dict[str, bytes]:
    return {
        "/empty.txt": b"",
        "/one.txt": b"1",
        "/docs/small.md": os.urandom(1000),
        "/docs/deep/four-mib.bin": os.urandom(4 * MiB),
        "/docs/deep/four-mib-plus.bin": os.urandom(4 * MiB + 1),
        "/media/six.bin": os.urandom(6 * MiB + 3),
    }


def _records(files: dict[str, bytes]) -> list[tuple[Record, bytes | None]]:
    dirs = sorted({p.rsplit("/", 1)[0] or "/" for p in files} | {"/docs", "/media"})
    out: list[tuple[Record, bytes | None]] = []
    for d in dirs:
        out.append((Record.directory(d, FileInfo(d.rsplit("/", 1)[-1] or "/", mode=0o755)), None))
    for i, (path, data) in enumerate(sorted(files.items())):
        info = FileInfo(
            path.rsplit("/", 1)[-1], size=len(data), mode=0o644, mtime_ns=T0 + i * 10**9
        )
        out.append((Record.file(path, info, opener=lambda: b""), data))
    return out


def test_export_then_import_round_trips(emu: GraphEmulator) -> None:
    files = _tree()
    records = _records(files)
    result = run_export(
        app_config(emu, "onedrive:///Restore", fragment_size=str(FRAGMENT)), records
    )
    assert not result.errors, result.errors
    back = run_import(app_config(emu, "onedrive:///Restore", checksums="true"))
    assert back.finished and not back.errors
    plain = run_import(app_config(emu, "onedrive:///Restore"))  # no hash xattrs by default
    assert plain.finished and not plain.errors and plain.xattrs() == {}
    assert all(not r.record.xattrs for r in files_of(plain).values())
    assert {p: r.sha256 for p, r in files_of(plain).items()} == {
        p: r.sha256 for p, r in files_of(back).items()
    }
    got = {p.removeprefix("/Restore"): r for p, r in files_of(back).items()}
    assert set(got) == set(files)
    xattrs = back.xattrs()
    for rec, data in records:
        if data is None:
            continue
        imported = got[rec.pathname]
        assert imported.sha256 == sha(data), rec.pathname
        assert rec.info is not None and imported.record.info is not None
        assert imported.record.info.mtime_ns // 10**9 == rec.info.mtime_ns // 10**9
        qx = xattrs[("/Restore" + rec.pathname, "user.onedrive.quickxorhash")]
        assert qx.sha256 == sha(quickxor_b64(data).encode())
    # mtimes came with the upload (fileSystemInfo), not a second PATCH: no extra versions,
    # except for the empty file (a session cannot carry 0 bytes: PUT, then PATCH)
    assert emu.stats["versions"] <= 1
    assert emu.stats["upload_session"] == 5 and emu.stats["upload_simple"] == 1


def test_interrupted_session_resumes_without_resending(emu: GraphEmulator) -> None:
    data = os.urandom(8 * FRAGMENT + 12345)
    emu.faults.drop_upload_after_bytes = 3 * FRAGMENT + 1000  # mid-way through fragment 4
    emu.faults.fail_next(416, kinds=("upload_fragment",))  # and a 416 on the first fragment
    info = FileInfo("big.bin", size=len(data), mode=0o644, mtime_ns=T0)
    cfg = app_config(emu, "onedrive:///", fragment_size=str(FRAGMENT))
    result = run_export(cfg, [(Record.file("/big.bin", info, opener=lambda: b""), data)])
    assert not result.errors, result.errors
    assert emu.get_content("/big.bin") == data
    (session,) = emu.upload_sessions()
    accepted = [(s, e) for s, e, status in session["fragments"] if status in (200, 201, 202)]
    assert len(accepted) == len(set(accepted)) == 9  # every fragment accepted exactly once
    assert emu.stats["faults_upload_drop"] == 1 and emu.stats["upload_status"] >= 2
    # resent: only the fragment that broke (and the one refused with 416), nothing finished
    assert session["bytes_received"] <= len(data) + 2 * FRAGMENT


def test_failed_upload_cancels_the_session(emu: GraphEmulator) -> None:
    info = FileInfo("short.bin", size=5 * MiB, mode=0o644, mtime_ns=T0)
    cfg = app_config(emu, "onedrive:///", fragment_size=str(FRAGMENT))
    short = os.urandom(3 * MiB)  # the host announced 5 MiB and sends 3
    result = run_export(cfg, [(Record.file("/short.bin", info, opener=lambda: b""), short)])
    assert [p for p, _ in result.errors] == ["/short.bin"]
    assert emu.stats["upload_cancel"] == 1
    assert not emu.exists("/short.bin")


def test_full_drive_is_a_clear_error(emu: GraphEmulator) -> None:
    emu.faults.insufficient_storage = True
    info = FileInfo("x.bin", size=10, mode=0o644, mtime_ns=T0)
    result = run_export(
        app_config(emu), [(Record.file("/x.bin", info, opener=lambda: b""), b"0" * 10)]
    )
    ((path, error),) = result.errors
    assert path == "/x.bin" and "drive is full" in error and "507" in error


def test_symlink_is_reported_not_written(emu: GraphEmulator) -> None:
    link = Record.symlink("/link", FileInfo("link", mode=0o777), target="/etc/passwd")
    result = run_export(app_config(emu), [(link, None)])
    assert [p for p, _ in result.errors] == ["/link"]
    assert not emu.exists("/link")
