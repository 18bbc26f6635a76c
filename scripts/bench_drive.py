"""Requests a Drive backup costs: our gdrive importer against the Drive emulator, next to what
rclone's listing strategies would need for the same tree. The rclone figures are MODELLED
(computed from the tree's shape with the rules below), not measured: rclone is not run.

- rclone (default): one files.list per folder, plus one per extra 1000-item page;
- rclone --fast-list: folders grouped 50 to a query, level by level, plus extra pages;
- rclone has no changes-API backup: an incremental run lists everything again.

Ours: a full import (incremental mode, so the changes start token is included; every file
opened, 16 at a time), then an incremental run after 10 changes, with kloset's cache simulated
(only files whose FileInfo changed are opened). Counts are the emulator's and do not vary from
run to run (one run is enough); ratio = reference / ours, as in docs/BENCHMARKS.md (> 1: fewer
requests than rclone); "metadata requests" are all requests but downloads and token refreshes.
The rclone references count files.list calls only (its root lookup is not added).

    .venv/bin/python scripts/bench_drive.py [--quick]
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "sdk"), str(ROOT / "integrations")]

from kloset_sdk.harness import ImporterClient, PluginProcess  # noqa: E402
from tests.conftest import plugin_argv  # noqa: E402
from tests.emulators.drive import CLIENT_ID, CLIENT_SECRET, DriveEmulator  # noqa: E402
from tests.emulators.drive import server as _server  # noqa: E402

_server._Handler.disable_nagle_algorithm = True  # see tests/integrations/gdrive/conftest.py
PAGE = 1000
GROUP = 50  # rclone's listRGrouping
#: The reference column's name in docs/BENCHMARKS.md (scripts/bench_all.py reads it).
REFERENCE = "rclone (modelled, not run)"
#: Said once under the section's table by scripts/bench_all.py.
NOTE = (
    "Ours: requests counted by the Drive emulator (exact, so one run). rclone: not run; its"
    " counts are modelled from the tree's shape and rclone's drive backend (1 files.list per"
    " folder, or 50 folders per query with --fast-list; no changes-API backup, so an"
    " incremental run lists everything again; 1 request per download is assumed)."
)


def seed(
    emu: DriveEmulator, files: int, folders: int, mime_type: str | None = None
) -> tuple[dict[str, list[str]], list[str]]:
    """`folders` folders two levels deep (tops of about sqrt(n) subfolders each), `files` files
    named `file-N.txt` spread evenly (of `mime_type`, else the emulator's default); returns
    children ids by folder id, and the file ids."""
    tops = max(1, round(math.sqrt(folders)))
    children: dict[str, list[str]] = {"root": []}
    all_folders = []
    for t in range(tops):
        fid = emu.add_folder(f"top{t:03d}")
        children["root"].append(fid)
        children[fid] = []
        all_folders.append(fid)
    i = 0
    while len(all_folders) < folders:
        parent = all_folders[i % tops]
        fid = emu.add_folder(f"sub{i:04d}", parent)
        children[parent].append(fid)
        children[fid] = []
        all_folders.append(fid)
        i += 1
    ids = []
    for n in range(files):
        parent = all_folders[n % len(all_folders)]
        data = f"content of file {n}\n".encode()
        if mime_type:
            fid = emu.add_file(f"file-{n:05d}.txt", data, parent, mime_type=mime_type)
        else:
            fid = emu.add_file(f"file-{n:05d}.txt", data, parent)
        children[parent].append(fid)
        ids.append(fid)
    return children, ids


def rclone_requests(children: dict[str, list[str]], group: int) -> int:
    """files.list calls to list the tree, `group` folders per query, breadth first."""
    level, total = ["root"], 0
    while level:
        for i in range(0, len(level), group):
            batch = level[i : i + group]
            items = sum(len(children[f]) for f in batch)
            total += max(1, math.ceil(items / PAGE))
        level = [c for f in level for c in children[f] if c in children]
    return total


def config(emu: DriveEmulator, state: str) -> dict[str, str]:
    return {
        "location": "gdrive://",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": emu.issue_refresh_token(),
        "api_endpoint": emu.url,
        "token_uri": emu.token_uri,
        "incremental": "true",
        "state_file": state,
    }


def full_run(cfg: dict[str, str]) -> dict[str, Any]:
    """A first Import as the host runs it: every file opened, 16 at a time."""
    with PluginProcess(plugin_argv("gdrive", "importer")) as proc:
        client = ImporterClient(proc)
        client.init(cfg, proto="gdrive", maxconcurrency=16)
        run = client.scan(jobs=16)
        client.close()
    assert not run.errors, run.errors[:3]
    return {p: i.record.info for p, i in run.by_path().items() if i.record.info is not None}


def cached_run(cfg: dict[str, str], previous: dict[str, Any]) -> None:
    """A later Import with kloset's cache: only files whose FileInfo changed are opened."""
    with PluginProcess(plugin_argv("gdrive", "importer")) as proc:
        client = ImporterClient(proc)
        client.init(cfg, proto="gdrive")
        sess = client.session()
        for rec in sess:
            info = rec.info
            if info is not None and info.is_regular and previous.get(rec.pathname) != info:
                for _ in client.open(rec):
                    pass
            sess.ack(rec)
        sess.end()
        client.close()


def metadata(stats: dict[str, int]) -> int:
    """Requests other than downloads and token refreshes: what listing the Drive cost."""
    return stats["requests"] - stats["media"] - stats["export_link"] - stats["token"]


def run(quick: bool = False) -> list[dict[str, Any]]:
    files, folders = (1000, 50) if quick else (10_000, 500)
    rows: list[dict[str, Any]] = []
    with DriveEmulator() as emu, tempfile.TemporaryDirectory() as tmp:
        children, ids = seed(emu, files, folders)
        per_folder = rclone_requests(children, 1)
        fast_list = rclone_requests(children, GROUP)
        cfg = config(emu, str(Path(tmp) / "state.sqlite"))
        emu.reset_stats()
        t0 = time.monotonic()
        first = full_run(cfg)
        full_time = time.monotonic() - t0
        full = dict(emu.stats)
        for n in range(10):
            emu.update_content(ids[n * (files // 10)], f"changed {n}\n".encode())
        emu.reset_stats()
        cached_run(cfg, first)
        incr = dict(emu.stats)

    def row(figure: str, ours: float, ref: float, unit: str = "requests") -> None:
        rows.append(
            {
                "figure": figure,
                "ours": ours,
                "reference": ref,
                "ratio": round(ref / ours, 3) if ours else float("inf"),  # > 1: ours is better
                "unit": unit,
            }
        )

    shape = f"{files:,} files in {folders} folders"
    row(f"full import, {shape}: files.list calls vs modelled rclone", full["list"], per_folder)
    row(
        f"full import, {shape}: files.list calls vs modelled rclone --fast-list",
        full["list"],
        fast_list,
    )
    row(
        f"full import, {shape}: all metadata requests (+ root, changes token) vs modelled"
        " --fast-list",
        metadata(full),
        fast_list,
    )
    row(
        f"full import, {shape}: all requests vs modelled rclone (assumed 1 request per download)",
        full["requests"],
        per_folder + files,
    )
    row(
        "incremental after 10 changes: metadata requests vs modelled --fast-list (relists)",
        metadata(incr),
        fast_list,
    )
    row(
        "incremental after 10 changes: all requests vs modelled --fast-list (assumed 1 per"
        " download)",
        incr["requests"],
        fast_list + 10,
    )
    print(f"bench_drive: full import took {full_time:.1f} s against the emulator", file=sys.stderr)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    out = [f"| figure | ours | {REFERENCE} | ratio | unit |", "|---|---|---|---|---|"]
    for r in rows:
        nums = f"{r['ours']:,} | {r['reference']:,} | {r['ratio']:.2f}x"
        out.append(f"| {r['figure']} | {nums} | {r['unit']} |")
    return "\n".join(out)


if __name__ == "__main__":
    print(table(run(quick="--quick" in sys.argv[1:])))
