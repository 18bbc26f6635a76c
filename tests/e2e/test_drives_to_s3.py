"""The mission, end to end: Google Drive and OneDrive backed up into an S3 repository by the
real plakar, checked, restored; then a few files change on each drive and a second,
incremental backup downloads only those (the emulators count every download).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kloset_sdk.harness.plakar import PlakarHome
from tests.e2e.backends import E2EBackends, Spot, files_below
from tests.e2e.run import add_config, ok, snapshots
from tests.e2e.trees import MiB, digests

SEED = {
    **{f"photos/img-{i:02d}.jpg": os.urandom(200_000 + i) for i in range(8)},
    **{f"docs/notes-{i}.txt": f"note {i}\n".encode() * (i + 1) for i in range(6)},
    "big/video.bin": os.urandom(6 * MiB + 5),
    "empty.txt": b"",
}
CHANGED = {
    "docs/notes-2.txt": b"edited after the first backup\n",
    "photos/img-03.jpg": os.urandom(210_000),
}
ADDED = {"docs/new file.txt": b"created after the first backup\n"}


def _drive_downloads(emu: Any) -> list[str]:
    """File ids whose content the Drive emulator served (alt=media GETs)."""
    return [
        r.path.rsplit("/", 1)[-1]
        for r in emu.request_log
        if r.kind == "media" and r.status in (200, 206)
    ]


def _graph_downloads(emu: Any) -> list[dict[str, Any]]:
    return [r for r in emu.requests_of("download") if r["status"] in (200, 206)]


def _restored(plakar: PlakarHome, store: str, snap: str, to: Path) -> dict[str, bytes]:
    ok(plakar.run("at", store, "restore", "-to", str(to), snap), f"restore {snap}")
    return files_below(to)


def _change_gdrive(backends: E2EBackends, spot: Spot) -> None:
    emu = backends.drive
    ids = spot.extra["ids"]
    for rel, data in CHANGED.items():
        emu.update_content(ids[rel], data)
    for rel, data in ADDED.items():
        folder, _, name = rel.rpartition("/")
        emu.add_file(name, data, ids[folder])


def _change_onedrive(backends: E2EBackends, spot: Spot) -> None:
    emu = backends.graph
    base = "/" + spot.extra["folder"]
    for rel, data in CHANGED.items():
        emu.update(f"{base}/{rel}", data)
    for rel, data in ADDED.items():
        emu.add_file(f"{base}/{rel}", data)


def test_drives_into_s3_then_incremental(
    plakar: PlakarHome, backends: E2EBackends, tmp_path: Path
) -> None:
    s3 = backends.spot("s3")
    store = add_config(plakar, "store", s3.location, s3.kv())
    ok(plakar.run("at", store, "create"), "create the S3 repository")

    gdrive = backends.spot("gdrive", seed=SEED)
    onedrive = backends.spot("onedrive", seed=SEED)
    gkeys = [*gdrive.kv(), "incremental=true"]
    okeys = [*onedrive.kv(), "incremental=true"]
    sources = {
        "gdrive": add_config(plakar, "source", gdrive.location, gkeys),
        "onedrive": add_config(plakar, "source", onedrive.location, okeys),
    }

    backends.drive.reset_stats()
    backends.graph.reset_stats()
    for name, source in sources.items():
        out = ok(plakar.run("at", store, "backup", "-no-progress", source), f"backup {name}")
        assert "backup completed without errors" in out, out
    # The counters see every download: the first backup fetched every file with content.
    with_content = {rel for rel, data in SEED.items() if data}
    assert len(set(_drive_downloads(backends.drive))) >= len(with_content)
    assert len(_graph_downloads(backends.graph)) >= len(with_content)
    print(
        f"first backup: Drive served {len(_drive_downloads(backends.drive))} downloads, "
        f"Graph {len(_graph_downloads(backends.graph))}, for {len(SEED)} files"
    )
    ok(plakar.run("at", store, "check"), "check")
    first = snapshots(plakar, store)
    assert len(first) == 2
    for i, snap in enumerate(first):
        assert digests(_restored(plakar, store, snap, tmp_path / f"r1-{i}")) == digests(SEED)

    _change_gdrive(backends, gdrive)
    _change_onedrive(backends, onedrive)
    backends.drive.reset_stats()
    backends.graph.reset_stats()
    for name, source in sources.items():
        ok(plakar.run("at", store, "backup", "-no-progress", source), f"second backup {name}")
    ok(plakar.run("at", store, "check"), "check after the incremental backups")

    # Only what changed was downloaded: kloset's cache skipped every unchanged file.
    drive_ids = {
        backends.drive.find(rel, gdrive.extra["folder_id"]) for rel in {**CHANGED, **ADDED}
    }
    assert sorted(set(_drive_downloads(backends.drive))) == sorted(drive_ids)
    graph_dl = _graph_downloads(backends.graph)
    assert len(graph_dl) == len(CHANGED) + len(ADDED), graph_dl
    assert (
        sum(r["bytes_out"] for r in graph_dl)
        < 2 * sum(len(d) for d in {**CHANGED, **ADDED}.values()) + 64 * 1024
    )

    print(
        f"second backup: Drive served {len(_drive_downloads(backends.drive))} downloads, "
        f"Graph {len(graph_dl)} ({sum(r['bytes_out'] for r in graph_dl)} bytes), "
        f"for {len(CHANGED)} changed and {len(ADDED)} added files"
    )
    want = digests({**SEED, **CHANGED, **ADDED})
    newest = [s for s in snapshots(plakar, store) if s not in first]
    assert len(newest) == 2
    for i, snap in enumerate(newest):
        assert digests(_restored(plakar, store, snap, tmp_path / f"r2-{i}")) == want
