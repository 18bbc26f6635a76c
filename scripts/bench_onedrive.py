"""How many Graph requests the onedrive importer sends, next to what rclone would need.

    .venv/bin/python scripts/bench_onedrive.py [--quick]

Runs the real plugin (a subprocess, real msal and requests) against the Graph emulator
(tests/emulators/graph) holding 10,000 files in 500 folders (1,000 in 50 with --quick) and
counts the emulator's requests (GitHub issue 9) for a full import of the drive root, then for
runs after 10 changes (4 updated, 3 renamed, 3 added files). "Metadata" is every Graph request
but the downloads; identity-platform requests (discovery, token) are left out on both sides.
Ratios are reference / ours: above 1, we send fewer.

The rclone columns are MODELLED from the tree's shape and rclone's onedrive backend
(backend/onedrive/onedrive.go), not measured (rclone is not run):
  * NewFs looks the root item up (`GET /root`): 1 request before anything is listed;
  * a listing is one `/children?$top=1000` per folder, plus one per further page;
  * rclone's onedrive backend has no `--fast-list` mode of its own (no ListR) unless
    `--onedrive-delta`, which lists `/root/delta?$top=1000`: items / 1,000 pages. That is the
    second reference, "rclone --onedrive-delta";
  * a download is assumed to be `GET /items/{id}/content` answered 302 to the download URL:
    2 requests (ours reads the `@microsoft.graph.downloadUrl` that came with the listing: 1).
    The download ratios (2.00x) rest on that assumption alone;
  * it has no stored delta state: a run after changes lists everything again, and a renamed
    file is a new path to copy.
Ours enumerates the tree with a tokenless `/root/delta` (pages of 1,000 items, the root item
included: no lookup first), so the listing itself is at rclone --onedrive-delta's floor and
the saving on a full import is the root lookup; `incremental=true` runs cost 1 request.
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
from tests.emulators.graph.faults import AUTH_KINDS  # noqa: E402
from tests.integrations.onedrive.support import app_config, run_import  # noqa: E402

PAGE = 1000
#: The reference column's name in docs/BENCHMARKS.md (scripts/bench_all.py reads it).
REFERENCE = "rclone (modelled, not run)"
#: Said once under the section's table by scripts/bench_all.py.
NOTE = (
    "Ours: requests counted by the Graph emulator (exact, so one run). rclone: not run; its"
    " counts are modelled from the tree's shape and rclone's onedrive backend (1 root lookup,"
    " 1 /children page per folder, or /root/delta pages of 1,000 with --onedrive-delta; no"
    " stored delta state, so a run after changes lists everything again). Download rows assume"
    " 2 requests per rclone download (/content, then the 302): the 2.00x ratios rest on that."
)
RCLONE_LOOKUP = 1  # NewFs: GET /root
RCLONE_PER_DOWNLOAD = 2  # /content, then the 302's Location
DOWNLOADS = ("download", "content")
CHANGES = 10


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


def _counts(emu: GraphEmulator) -> tuple[int, int]:
    """(metadata requests, download requests) since the last reset_stats."""
    graph = emu.stats["requests"] - sum(emu.stats[k] for k in AUTH_KINDS)
    downloads = sum(emu.stats[k] for k in DOWNLOADS)
    return graph - downloads, downloads


def _row(figure: str, ours: int, reference: int, unit: str = "requests") -> dict[str, Any]:
    ratio = round(reference / ours, 3) if ours else float("inf")
    return {"figure": figure, "ours": ours, "reference": reference, "ratio": ratio, "unit": unit}


def _change(emu: GraphEmulator) -> None:
    names = sorted(p for p in emu.tree() if p.endswith(".txt"))
    for n, path in enumerate(names[:: max(1, len(names) // CHANGES)][:CHANGES]):
        if n % 3 == 0:
            emu.update(path, b"changed %d" % n, modified=1_700_000_000 + n)
        elif n % 3 == 1:
            emu.rename(path, f"renamed {n}.txt")
        else:
            emu.add_file(path.rsplit("/", 1)[0] + f"/added {n}.txt", b"added %d" % n)


def run(quick: bool = False) -> list[dict[str, Any]]:
    files, folders = (1_000, 50) if quick else (10_000, 500)
    rows = []
    with GraphEmulator() as emu:
        shape = _seed(emu, files, folders)
        items = 1 + sum(shape.values())  # the root and everything below it
        rclone = RCLONE_LOOKUP + sum(max(1, math.ceil(n / PAGE)) for n in shape.values())
        fast_pages = math.ceil(items / PAGE)  # --onedrive-delta: the whole drive in pages
        fast = RCLONE_LOOKUP + fast_pages
        cfg = app_config(emu)
        tree = f"{files} files / {folders} folders"

        emu.reset_stats()
        full = run_import(cfg, opens=lambda i: not i.record.is_xattr)
        assert full.finished and not full.errors
        meta, downloads = _counts(emu)
        assert downloads == files and emu.stats["delta"] == meta, dict(emu.stats)
        rows += [
            _row(f"full import, {tree}: metadata requests vs modelled rclone", meta, rclone),
            _row("full import: metadata requests vs modelled rclone --onedrive-delta", meta, fast),
            _row(
                "full import: listing pages alone vs modelled rclone --onedrive-delta's",
                meta,
                fast_pages,
            ),
            _row(
                "full import: all requests vs modelled rclone --onedrive-delta"
                " (assumed 2 requests per download)",
                meta + downloads,
                fast + RCLONE_PER_DOWNLOAD * files,
            ),
        ]

        state = ROOT / ".build" / "bench-onedrive-delta.sqlite"
        state.parent.mkdir(exist_ok=True)
        state.unlink(missing_ok=True)
        dcfg = {**cfg, "incremental": "true", "state_file": str(state)}
        first = run_import(dcfg, opens=lambda i: False)
        assert first.finished and not first.errors
        before = {
            p: (r.record.info.size, r.record.info.mtime_ns)
            for p, r in first.by_path().items()
            if r.record.info
        }

        def changed(item: Any) -> bool:  # kloset's cache: read what changed size or mtime
            info = item.record.info
            return not item.record.is_xattr and before.get(item.record.pathname) != (
                info.size,
                info.mtime_ns,
            )

        _change(emu)
        emu.reset_stats()
        second = run_import(dcfg, opens=changed)
        assert second.finished and not second.errors
        meta, downloads = _counts(emu)
        after = f"after {CHANGES} changes"
        rows += [
            _row(
                f"incremental=true run {after}: metadata vs modelled rclone (relists)", meta, rclone
            ),
            _row(
                f"incremental=true run {after}: metadata vs modelled rclone --onedrive-delta",
                meta,
                fast,
            ),
            _row(
                f"incremental=true run {after}: downloads vs modelled rclone's"
                " (assumed 2 requests per download)",
                downloads,
                RCLONE_PER_DOWNLOAD * CHANGES,
            ),
        ]

        emu.reset_stats()
        again = run_import(cfg, opens=changed)  # the default mode relists, as rclone does
        assert again.finished and not again.errors
        meta, _ = _counts(emu)
        rows.append(
            _row(
                f"default-mode run {after}: metadata vs modelled rclone --onedrive-delta",
                meta,
                fast,
            )
        )
        state.unlink(missing_ok=True)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    out = [
        f"| figure | ours | {REFERENCE} | ratio (rclone/ours) | unit |",
        "|---|---:|---:|---:|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['figure']} | {r['ours']} | {r['reference']} | {r['ratio']} | {r['unit']} |"
        )
    return "\n".join(out)


if __name__ == "__main__":
    print(table(run(quick="--quick" in sys.argv[1:])))
