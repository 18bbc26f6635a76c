"""How many Graph requests the onedrive importer sends, next to what rclone would need.

    .venv/bin/python scripts/bench_onedrive.py [--quick]

Runs the real plugin (a subprocess, real msal and requests) against the Graph emulator
(tests/emulators/graph) holding 10,000 files in 500 folders (1,000 in 50 with --quick), and
counts the emulator's requests for: a full import (walk), the first delta run (a full
enumeration), and a delta run after 10 changes. Identity-platform requests (discovery, token)
are left out: one of each per process.

The rclone column is computed from the tree's shape, not measured: rclone's onedrive backend
lists each folder with `/children` (plus one request per further page of 1,000), and with
`--fast-list` it batches about 50 folder listings per request; it has no delta listing, so an
incremental run lists everything again. Downloads are one GET per non-empty file for both.
"""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "sdk"), str(ROOT / "integrations")]

from tests.emulators.graph import GraphEmulator  # noqa: E402
from tests.integrations.onedrive.support import app_config, run_import  # noqa: E402

PAGE = 1000
FASTLIST_BATCH = 50
LISTING = ("children", "item", "delta")
GRAPH = (*LISTING, "download", "content", "drive")


def _seed(emu: GraphEmulator, files: int, folders: int) -> dict[str, int]:
    """`folders` folders (a two-level tree), files spread evenly; path -> children count."""
    rng = random.Random(1)
    tops = max(1, round(math.sqrt(folders)))
    paths = [f"/top {i:02d}" for i in range(tops)]
    while len(paths) < folders:
        paths.append(f"{paths[len(paths) % tops]}/sub {len(paths):03d}")
    children = {"/": tops}
    for p in paths:
        emu.add_folder(p)
        children[p] = 0
        parent = p.rsplit("/", 1)[0] or "/"
        if parent != "/":
            children[parent] += 1
    for i in range(files):
        folder = paths[i % len(paths)]
        emu.add_file(f"{folder}/file {i:05d}.txt", rng.randbytes(rng.randrange(1, 200)))
        children[folder] += 1
    return children


def _graph(emu: GraphEmulator, kinds: tuple[str, ...] = GRAPH) -> int:
    return sum(emu.stats[k] for k in kinds)


def _row(figure: str, ours: int, reference: int, unit: str = "requests") -> dict[str, Any]:
    ratio = round(ours / reference, 3) if reference else float("nan")
    return {"figure": figure, "ours": ours, "reference": reference, "ratio": ratio, "unit": unit}


def run(quick: bool = False) -> list[dict[str, Any]]:
    files, folders = (1_000, 50) if quick else (10_000, 500)
    rows = []
    with GraphEmulator() as emu:
        shape = _seed(emu, files, folders)
        rclone_lists = sum(max(1, math.ceil(n / PAGE)) for n in shape.values())
        rclone_fast = math.ceil(len(shape) / FASTLIST_BATCH)
        cfg = app_config(emu)

        emu.reset_stats()
        run_import(cfg, opens=lambda i: not i.record.is_xattr)
        walk_list, walk_dl = _graph(emu, LISTING), emu.stats["download"]
        rows.append(
            _row(
                f"full import, {files} files / {folders} folders: listing", walk_list, rclone_lists
            )
        )
        rows.append(_row("full import: listing vs rclone --fast-list", walk_list, rclone_fast))
        rows.append(
            _row(
                "full import: all Graph requests (with downloads)",
                _graph(emu),
                rclone_lists + files,
            )
        )
        assert walk_dl == files, walk_dl

        state = ROOT / ".build" / "bench-onedrive-delta.json"
        state.parent.mkdir(exist_ok=True)
        state.unlink(missing_ok=True)
        dcfg = {**cfg, "delta": "true", "state_file": str(state)}
        emu.reset_stats()
        first = run_import(dcfg, opens=lambda i: False)
        assert first.finished and not first.errors
        rows.append(
            _row("delta, first run (full enumeration): listing", _graph(emu, LISTING), rclone_lists)
        )

        before = {
            p: (r.record.info.size, r.record.info.mtime_ns)
            for p, r in first.by_path().items()
            if r.record.info
        }
        names = sorted(p for p in emu.tree() if p.endswith(".txt"))
        for n, path in enumerate(names[:: max(1, len(names) // 10)][:10]):
            if n % 3 == 0:
                emu.update(path, b"changed %d" % n, modified=1_700_000_000 + n)
            elif n % 3 == 1:
                emu.rename(path, f"renamed {n}.txt")
            else:
                emu.add_file(path.rsplit("/", 1)[0] + f"/added {n}.txt", b"added %d" % n)
        emu.reset_stats()

        def changed(item: Any) -> bool:
            info = item.record.info
            return not item.record.is_xattr and before.get(item.record.pathname) != (
                info.size,
                info.mtime_ns,
            )

        second = run_import(dcfg, opens=changed)
        assert second.finished and not second.errors
        rows.append(_row("delta after 10 changes: listing", _graph(emu, LISTING), rclone_lists))
        rows.append(
            _row("delta after 10 changes: downloads", emu.stats["download"], 10, "downloads")
        )
        state.unlink(missing_ok=True)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    out = ["| figure | ours | rclone (computed) | ratio | unit |", "|---|---:|---:|---:|---|"]
    for r in rows:
        out.append(
            f"| {r['figure']} | {r['ours']} | {r['reference']} | {r['ratio']} | {r['unit']} |"
        )
    return "\n".join(out)


if __name__ == "__main__":
    print(table(run(quick="--quick" in sys.argv[1:])))
