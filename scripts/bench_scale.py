"""How an import's cost grows with the source: time, requests and the plugin's peak RSS.

    .venv/bin/python scripts/bench_scale.py [--quick] [--sizes 10000,100000] [--only gdrive,s3]

For each size, the source is seeded with that many files (Drive and Graph emulators: spread
over folders of about 200 files each, two levels deep; SeaweedFS: 100 prefixes), then:
- full: a first Import in a fresh plugin process, every record read and acked as the host
  does, no content opened (content costs one request per file whatever the size of the
  source; the S3/Drive/OneDrive sections measure it). gdrive and onedrive run with
  `incremental=true`, so the full run also writes their state file;
- incremental (gdrive, onedrive): a second Import after 10 files changed, opening only what
  kloset's cache would (the records whose size or mtime changed).
- onedrive also runs a full Import in its default mode (`incremental=false`, no state file).
- s3: the full listing with `metadata=false`, then with `metadata=true` (one HEAD per object).

Peak RSS is the plugin process's own high-water mark (VmHWM, read before it exits); requests
are counted by the emulators (S3: not counted, SeaweedFS keeps no count; the listing is one
ListObjectsV2 per 1,000 keys of each prefix, plus one HEAD per object with metadata).
One run per size: a cost curve, not a comparison (the section has no reference column).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "sdk"), str(ROOT / "integrations"), str(ROOT / "scripts")]

from kloset_sdk import Record  # noqa: E402
from kloset_sdk.harness import ImporterClient, PluginProcess  # noqa: E402
from tests.conftest import plugin_argv  # noqa: E402

SIZES = (10_000, 100_000)
QUICK_SIZES = (1_000, 5_000)
PER_FOLDER = 200
CHANGES = 10
Opens = Callable[[Record], bool]


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


def one_import(name: str, cfg: dict[str, str], opens: Opens) -> tuple[float, dict[str, Any], float]:
    """(seconds, {path: (size, mtime)} of the files, peak RSS MiB) of one Import."""
    with PluginProcess(plugin_argv(name, "importer")) as proc:
        client = ImporterClient(proc)
        t0 = time.monotonic()
        client.init(cfg, maxconcurrency=16, timeout=600)
        sess = client.session()
        files: dict[str, Any] = {}
        for rec in sess:
            if rec.error:
                raise RuntimeError(f"{name}: {rec.pathname}: {rec.error}")
            info = rec.info
            if info is not None and info.is_regular and not rec.is_xattr:
                files[rec.pathname] = (info.size, info.mtime_ns)
                if opens(rec):
                    for _ in client.open(rec):
                        pass
            sess.ack(rec)
        sess.end()
        took = time.monotonic() - t0
        rss = peak_rss_mib(proc.proc.pid)
        client.close()
    if not sess.finished:
        raise RuntimeError(f"{name}: the Import did not finish")
    return took, files, rss


def changed_since(before: dict[str, Any]) -> Opens:
    def opens(rec: Record) -> bool:
        info = rec.info
        assert info is not None
        return before.get(rec.pathname) != (info.size, info.mtime_ns)

    return opens


def _row(
    source: str, size: int, run: str, took: float, requests: Any, rss: float
) -> dict[str, Any]:
    return {
        "source": source,
        "entries": size,
        "run": run,
        "seconds": round(took, 1),
        "requests": requests,
        "rss": round(rss, 1),
    }


def bench_gdrive(size: int) -> list[dict[str, Any]]:
    import bench_drive

    from tests.emulators.drive import DriveEmulator

    with DriveEmulator() as emu, tempfile.TemporaryDirectory() as tmp:
        _, ids = bench_drive.seed(emu, size, max(1, size // PER_FOLDER))
        cfg = bench_drive.config(emu, str(Path(tmp) / "state.sqlite"))
        emu.reset_stats()
        took, files, rss = one_import("gdrive", cfg, lambda rec: False)
        rows = [_row("gdrive", size, "full", took, bench_drive.metadata(emu.stats), rss)]
        for n in range(CHANGES):
            emu.update_content(ids[n * (size // CHANGES)], f"changed {n}\n".encode())
        emu.reset_stats()
        took, _, rss = one_import("gdrive", cfg, changed_since(files))
        rows.append(_row("gdrive", size, "incremental", took, emu.stats["requests"], rss))
    return rows


def bench_onedrive(size: int) -> list[dict[str, Any]]:
    import bench_onedrive

    from tests.emulators.graph import GraphEmulator
    from tests.integrations.onedrive.support import app_config

    with GraphEmulator() as emu, tempfile.TemporaryDirectory() as tmp:
        bench_onedrive._seed(emu, size, max(1, size // PER_FOLDER))
        state = str(Path(tmp) / "state.sqlite")
        cfg = {**app_config(emu), "incremental": "true", "state_file": state}
        emu.reset_stats()
        took, files, rss = one_import("onedrive", cfg, lambda rec: False)
        rows = [_row("onedrive", size, "full", took, bench_onedrive._counts(emu)[0], rss)]
        bench_onedrive._change(emu)
        emu.reset_stats()
        took, _, rss = one_import("onedrive", cfg, changed_since(files))
        meta, downloads = bench_onedrive._counts(emu)
        rows.append(_row("onedrive", size, "incremental", took, meta + downloads, rss))
        emu.reset_stats()  # the default mode: no state, the sent file ids in a scratch table
        took, _, rss = one_import("onedrive", app_config(emu), lambda rec: False)
        run = "full, incremental=false"
        rows.append(_row("onedrive", size, run, took, bench_onedrive._counts(emu)[0], rss))
    return rows


def bench_s3(size: int) -> list[dict[str, Any]]:
    import bench_s3

    from tests.emulators.seaweedfs import SeaweedFS

    with SeaweedFS() as server:
        client = server.client(max_pool_connections=32)
        bucket = "bench-scale"
        client.create_bucket(Bucket=bucket)
        keys = [f"p{i % 100:02d}/obj{i:07d}" for i in range(size)]
        with ThreadPoolExecutor(32) as pool:
            list(pool.map(lambda k: client.put_object(Bucket=bucket, Key=k, Body=k.encode()), keys))
        rows = []
        for metadata in ("false", "true"):
            cfg = bench_s3.config(server, bucket, metadata=metadata)
            took, files, rss = one_import("s3", cfg, lambda rec: False)
            if len(files) != size:
                raise RuntimeError(f"s3: {len(files)} files listed of {size}")
            rows.append(_row("s3", size, f"full, metadata={metadata}", took, "not counted", rss))
    return rows


BENCHES = {"gdrive": bench_gdrive, "onedrive": bench_onedrive, "s3": bench_s3}


def run(
    quick: bool = False, sizes: tuple[int, ...] | None = None, only: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name, bench in BENCHES.items():
        if only and name not in only:
            continue
        for size in sizes or (QUICK_SIZES if quick else SIZES):
            t0 = time.monotonic()
            rows += bench(size)
            print(
                f"bench_scale: {name} {size:,} took {time.monotonic() - t0:.0f} s", file=sys.stderr
            )
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    """The section's table; time also per 1,000 entries, so the curve shows (linear = flat)."""
    out = [
        "| source | entries | run | wall | s per 1,000 | requests | peak RSS |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        k = r["entries"] / 1000
        req = r["requests"] if isinstance(r["requests"], str) else f"{r['requests']:,}"
        out.append(
            f"| {r['source']} | {r['entries']:,} | {r['run']} | {r['seconds']:,.1f} s"
            f" | {r['seconds'] / k:.3f} | {req} | {r['rss']:,.1f} MiB |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true", help="1,000 and 5,000 entries (a smoke test)")
    p.add_argument("--sizes", help="comma-separated entry counts, e.g. 10000,100000,1000000")
    p.add_argument("--only", default="", help="comma-separated: gdrive, onedrive, s3")
    args = p.parse_args(argv)
    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else None
    only = tuple(s for s in args.only.split(",") if s)
    unknown = set(only) - set(BENCHES)
    if unknown:
        p.error(f"--only: unknown source {', '.join(sorted(unknown))}")
    print(render(run(args.quick, sizes, only)))
    print(f"\n({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
