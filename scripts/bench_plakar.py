"""Our packages under the real Plakar v1.1.4, next to a Go reference, same machine, same run.

    .venv/bin/python scripts/bench_plakar.py [--size MIB] [--small N] [--runs N] [--quick]

Times `plakar backup`, `plakar check` and `plakar restore` (wall time of the plakar command,
and MB/s = 10^6 bytes of the tree per second) for:

(a) the repository on S3 (one local SeaweedFS, `weed mini`): our `s3` package vs `refs3`, a Go
    S3 storage on go-kloset-sdk + minio-go written for this benchmark (go/refs3), standing in
    for the official plugin, which cannot be fetched here. Source: a local tree (built-in fs);
    restore: into a local directory (built-in fs);
(b) the source and destination on the local filesystem: our `posixfs` importer/exporter vs
    Plakar's built-in fs, the repository on local fs (built-in) for both.

Two trees: mixed sizes (16 KiB to 32 MiB files, `--size` MiB in all, default 512) and small
files (`--small`, default 5,000 files of 1-8 KiB). Run i of every side is timed before run i + 1
of any (interleaved), each run on a fresh repository; figures are medians of `--runs` (>= 3)
and the spread is (max - min) / median of the runs, ours / reference. Peak RSS is sampled
every 10 ms from /proc over the plakar process's children (the plugin processes, summed like
scripts/rss_wrap.py does) and over the whole tree (plakar + plugins). Repositories are
encrypted (Plakar's default).

`run(quick)` returns the rows for scripts/bench (bench_all.py).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "sdk"), str(ROOT / "integrations"), str(ROOT / "scripts")]

from rss_wrap import _rss_kib  # noqa: E402

from kloset_sdk.harness.plakar import PlakarFailed, PlakarHome, find_plakar  # noqa: E402
from tests.emulators.seaweedfs import SeaweedFS  # noqa: E402

MiB = 1 << 20
PASSPHRASE = "bench correct horse battery staple"
REFERENCE = "reference (refs3 / built-in fs)"
REFS3 = (
    "refs3 is a Go S3 storage on go-kloset-sdk + minio-go written for this benchmark "
    "(go/refs3), standing in for the official plugin, which cannot be fetched here."
)
NOTE = (
    "Under the real Plakar v1.1.4 (`scripts/bench_plakar.py`). S3 rows: our `s3` package vs "
    + REFS3
    + " Both on the same local SeaweedFS, source and restore target on local disk. fs rows: "
    "our `posixfs` importer/exporter vs Plakar's built-in fs, repository on local disk. "
    "Wall times are whole plakar commands (start, repository open, plugin start included), so "
    "small trees mostly measure that fixed cost. "
    "Spread: (max - min) / median of the runs, ours / reference."
)

REFS3_MANIFEST = """\
# Written by scripts/bench_plakar.py. Benchmark reference only: a Go S3 storage on
# go-kloset-sdk + minio-go written for this benchmark, standing in for Plakar's official s3
# plugin, which cannot be fetched here.
name: refs3
display_name: refs3 (benchmark reference)
description: Go S3 storage on go-kloset-sdk and minio-go, for benchmarks only.
api_version: v1.1.0
connectors:
  - type: storage
    protocols: [refs3]
    executable: refs3
"""


class BenchFailed(RuntimeError):
    """A step failed: main() prints it; scripts/bench reports the section as failed and goes on
    (a SystemExit would end the whole run)."""


def die(msg: str) -> NoReturn:
    raise BenchFailed(msg)


# -- trees ----------------------------------------------------------------------------------


def write_mixed(root: Path, total: int) -> int:
    """Rounds of 1 x 32 MiB, 4 x 4 MiB, 16 x 256 KiB, 64 x 16 KiB (random bytes: no
    compression or dedup helps either side) until `total` bytes; returns the bytes written."""
    rng = random.Random(1)
    sizes = [32 * MiB] + [4 * MiB] * 4 + [256 << 10] * 16 + [16 << 10] * 64
    written, rnd = 0, 0
    while written < total:
        d = root / f"r{rnd:03d}"
        d.mkdir(parents=True)
        for i, n in enumerate(sizes):
            n = min(n, total - written)
            if n <= 0:
                break
            (d / f"f{i:03d}.bin").write_bytes(rng.randbytes(n))
            written += n
        rnd += 1
    return written


def write_small(root: Path, count: int) -> int:
    rng = random.Random(2)
    written = 0
    for i in range(count):
        d = root / f"d{i % 100:02d}"
        d.mkdir(parents=True, exist_ok=True)
        n = rng.randrange(1024, 8193)
        (d / f"s{i:05d}.txt").write_bytes(rng.randbytes(n))
        written += n
    return written


# -- running plakar -------------------------------------------------------------------------


@dataclass
class Sample:
    seconds: float
    plugin_kib: int  # peak summed RSS of plakar's descendants (the plugin processes)
    tree_kib: int  # peak summed RSS of plakar and its descendants


def descendants(pid: int) -> list[int]:
    """Children of every thread of `pid`, recursively. rss_wrap.py's _tree reads the main
    thread's children only, and a Go program like plakar forks its plugins from any thread."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tasks:
            try:
                with open(f"/proc/{p}/task/{t}/children") as f:
                    kids = [int(c) for c in f.read().split()]
            except (OSError, ValueError):
                continue
            out += kids
            todo += kids
    return out


def timed_run(home: PlakarHome, *args: str) -> Sample:
    """Run plakar ARGS, timing it and sampling the RSS of its process tree every 10 ms."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        home.command(*args),
        env=home.env,
        cwd=home.home,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = [0, 0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            kids = sum(_rss_kib(p) for p in descendants(proc.pid))
            peak[0] = max(peak[0], kids)
            peak[1] = max(peak[1], kids + _rss_kib(proc.pid))
            time.sleep(0.01)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, err = proc.communicate()
    took = time.perf_counter() - t0
    done.set()
    th.join()
    text = out + err
    if proc.returncode != 0 or "Traceback" in text:
        die(f"plakar {' '.join(args)} exited {proc.returncode}:\n{text[-3000:]}")
    return Sample(took, peak[0], peak[1])


def must(home: PlakarHome, *args: str) -> str:
    proc = home.run(*args)
    if proc.returncode != 0:
        text = (proc.stdout + proc.stderr)[-3000:]
        die(f"plakar {' '.join(args)} exited {proc.returncode}:\n{text}")
    return proc.stdout


def add(home: PlakarHome, kind: str, location: str, keys: dict[str, str]) -> str:
    name = f"{kind[:2]}{uuid.uuid4().hex[:10]}"
    must(home, kind, "add", name, location, *(f"{k}={v}" for k, v in keys.items()))
    return "@" + name


def snapshot_id(home: PlakarHome, repo: str) -> str:
    lines = [ln.split() for ln in must(home, "at", repo, "ls").splitlines() if ln.strip()]
    ids = [f[1] for f in lines if len(f) > 1 and len(f[1]) == 8]
    if len(ids) != 1:
        die(f"expected one snapshot in {repo}, plakar ls printed {lines}")
    return ids[0]


# -- building the packages ------------------------------------------------------------------


def build_packages(plakar: Path, work: Path) -> dict[str, Path]:
    """Our s3 and posixfs .ptar (scripts/package --host-only) and refs3's (plakar pkg create)."""
    if subprocess.run([str(ROOT / "scripts" / "package"), "s3", "fs", "--host-only"]).returncode:
        die("scripts/package s3 fs --host-only failed (see above)")
    ptars: dict[str, Path] = {}
    for name in ("s3", "posixfs"):
        found = sorted((ROOT / "dist" / "plakar").glob(f"{name}_*.ptar"))
        if len(found) != 1:
            die(f"expected one {name}_*.ptar in dist/plakar, found {found}")
        ptars[name] = found[0]
    if subprocess.run([str(ROOT / "scripts" / "build_go"), "refs3"]).returncode:
        die("scripts/build_go refs3 failed (see above)")
    pkg = work / "refs3pkg"
    pkg.mkdir()
    shutil.copy2(ROOT / ".build" / "bin" / "refs3", pkg / "refs3")
    (pkg / "manifest.yaml").write_text(REFS3_MANIFEST)
    home = PlakarHome(plakar, base=work / "pkghome")
    try:
        proc = home.run("pkg", "create", str(pkg / "manifest.yaml"), "v0.0.1", cwd=work)
    finally:
        home.close()
    made = sorted(work.glob("refs3_v0.0.1_*.ptar"))
    if proc.returncode != 0 or not made:
        die(f"plakar pkg create (refs3) failed:\n{proc.stderr}{proc.stdout}")
    ptars["refs3"] = made[0]
    return ptars


# -- the benchmark --------------------------------------------------------------------------


@dataclass
class Series:
    """Per-run samples of one figure, ours and the reference."""

    ours: list[Sample] = field(default_factory=list)
    ref: list[Sample] = field(default_factory=list)


def spread(xs: list[float]) -> str:
    med = statistics.median(xs)
    return f"{(max(xs) - min(xs)) / med * 100:.0f}%" if med else "n/a"


def rows_for(label: str, nbytes: int, s: Series) -> list[dict[str, Any]]:
    ot = [x.seconds for x in s.ours]
    rt = [x.seconds for x in s.ref]
    om, rm = statistics.median(ot), statistics.median(rt)
    sp = f"{spread(ot)} / {spread(rt)}"
    return [
        {
            "figure": f"{label}, wall",
            "ours": om,
            "reference": rm,
            "ratio": rm / om,
            "spread": sp,
            "unit": "s",
        },
        {
            "figure": f"{label}, throughput",
            "ours": nbytes / om / 1e6,
            "reference": nbytes / rm / 1e6,
            "ratio": rm / om,
            "spread": sp,
            "unit": "MB/s",
        },
    ]


def rss_row(label: str, s: Series, which: str) -> dict[str, Any]:
    o = [getattr(x, which) / 1024 for x in s.ours]
    r = [getattr(x, which) / 1024 for x in s.ref]
    om, rm = statistics.median(o), statistics.median(r)
    return {
        "figure": label,
        "ours": om,
        "reference": rm,
        "ratio": rm / om if om else 0.0,
        "spread": f"{spread(o)} / {spread(r)}",
        "unit": "MiB",
    }


def order(i: int, sides: tuple[Any, ...]) -> tuple[Any, ...]:
    """Ours first on even runs, the reference first on odd ones: neither always runs second
    (warmer page cache, a server that has settled)."""
    return sides if i % 2 == 0 else sides[::-1]


def restored(dst: Path, nbytes: int) -> None:
    """A restore that wrote less (or more) than the tree is a failure, not a figure."""
    got = sum(p.stat().st_size for p in dst.rglob("*") if p.is_file() and not p.is_symlink())
    if got != nbytes:
        die(f"restore into {dst} wrote {got} bytes of regular files, the tree has {nbytes}")


def bench(size_mib: int, small: int, runs: int) -> list[dict[str, Any]]:
    plakar = find_plakar(ROOT)
    work = Path(tempfile.mkdtemp(prefix="bplk-", dir="/tmp"))
    server: SeaweedFS | None = None
    home: PlakarHome | None = None
    try:
        ptars = build_packages(plakar, work)
        home = PlakarHome(
            plakar,
            base=work / "home",
            env={**os.environ, "PATH": "/usr/bin:/bin"},
            passphrase=PASSPHRASE,
        )
        for p in ptars.values():
            home.pkg_add(p)
        trees = {
            "mixed": (work / "mixed", write_mixed(work / "mixed", size_mib * MiB)),
            "small": (work / "small", write_small(work / "small", small)),
        }
        names = {
            "mixed": f"mixed {size_mib} MiB",
            "small": f"{small:,} small files",
        }
        server = SeaweedFS(work / "weed").start()
        client = server.client()
        keys = {
            "access_key": server.access_key,
            "secret_access_key": server.secret_key,
            "use_tls": "false",
        }
        s3: dict[tuple[str, str], Series] = {}
        fs: dict[tuple[str, str], Series] = {}
        for i in range(runs):
            for tree, (src, nbytes) in trees.items():
                for side, proto in order(i, (("ours", "s3"), ("ref", "refs3"))):
                    bucket = f"b{uuid.uuid4().hex[:12]}"
                    client.create_bucket(Bucket=bucket)
                    repo = add(home, "store", f"{proto}://{server.host_port}/{bucket}/repo", keys)
                    must(home, "at", repo, "create")
                    got = {
                        "backup": timed_run(home, "at", repo, "backup", "-no-progress", str(src)),
                        "check": timed_run(home, "at", repo, "check"),
                    }
                    snap = snapshot_id(home, repo)
                    dst = work / f"dst-{uuid.uuid4().hex[:8]}"
                    got["restore"] = timed_run(home, "at", repo, "restore", "-to", str(dst), snap)
                    restored(dst, nbytes)
                    shutil.rmtree(dst)
                    for op, smp in got.items():
                        getattr(s3.setdefault((tree, op), Series()), side).append(smp)
                    print(
                        f"bench_plakar: run {i + 1}/{runs} s3 {tree} {side}: "
                        + ", ".join(f"{k} {v.seconds:.1f}s" for k, v in got.items()),
                        file=sys.stderr,
                    )
                for side in order(i, ("ours", "ref")):
                    repo = str(work / f"repo-{uuid.uuid4().hex[:8]}")
                    must(home, "at", repo, "create")
                    source = (
                        add(home, "source", f"posixfs://{src}", {}) if side == "ours" else str(src)
                    )
                    got = {"backup": timed_run(home, "at", repo, "backup", "-no-progress", source)}
                    snap = snapshot_id(home, repo)
                    dst = work / f"dst-{uuid.uuid4().hex[:8]}"
                    target = (
                        add(home, "destination", f"posixfs://{dst}", {})
                        if side == "ours"
                        else str(dst)
                    )
                    got["restore"] = timed_run(home, "at", repo, "restore", "-to", target, snap)
                    restored(dst, nbytes)
                    shutil.rmtree(dst)
                    shutil.rmtree(repo)
                    for op, smp in got.items():
                        getattr(fs.setdefault((tree, op), Series()), side).append(smp)
                    print(
                        f"bench_plakar: run {i + 1}/{runs} fs {tree} {side}: "
                        + ", ".join(f"{k} {v.seconds:.1f}s" for k, v in got.items()),
                        file=sys.stderr,
                    )
        rows: list[dict[str, Any]] = []
        for tree, (_, nbytes) in trees.items():
            for op in ("backup", "check", "restore"):
                rows += rows_for(f"s3 repository: {op}, {names[tree]}", nbytes, s3[(tree, op)])
        for tree in trees:
            rows.append(
                rss_row(
                    f"s3 repository: backup {names[tree]}, peak RSS of the storage plugin",
                    s3[(tree, "backup")],
                    "plugin_kib",
                )
            )
        for tree, (_, nbytes) in trees.items():
            rows += rows_for(f"fs source: backup, {names[tree]}", nbytes, fs[(tree, "backup")])
            rows += rows_for(
                f"fs destination: restore, {names[tree]}", nbytes, fs[(tree, "restore")]
            )
        for tree in trees:
            rows.append(
                rss_row(
                    f"fs source: backup {names[tree]}, peak RSS of plakar and its "
                    "plugins (ours: + posixfs importer; reference: plakar alone)",
                    fs[(tree, "backup")],
                    "tree_kib",
                )
            )
        return rows
    finally:
        if home is not None:
            home.close()
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Rows for scripts/bench; --quick: 64 MiB mixed, 500 small files, 3 runs."""
    return bench(64 if quick else 512, 500 if quick else 5000, 3)


def num(x: float) -> str:
    """As bench_all.py prints: one decimal; three significant digits below 1, not 0.0."""
    return f"{x:,.1f}" if abs(x) >= 1 or x == 0 else f"{x:.3g}"


def table(rows: list[dict[str, Any]]) -> str:
    out = ["| figure | ours | reference | ratio | spread | unit |", "|---|---|---|---|---|---|"]
    for r in rows:
        out.append(
            f"| {r['figure']} | {num(r['ours'])} | {num(r['reference'])} | "
            f"{r['ratio']:.2f}x | {r['spread']} | {r['unit']} |"
        )
    return "\n".join(out)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="scripts/bench_plakar.py", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--size", type=int, default=512, help="MiB of the mixed tree (default 512)")
    ap.add_argument(
        "--small", type=int, default=5000, help="files in the small tree (default 5000)"
    )
    ap.add_argument("--runs", type=int, default=3, help="runs per side (default 3, at least 3)")
    ap.add_argument("--quick", action="store_true", help="64 MiB and 500 small files")
    a = ap.parse_args(argv)
    if a.runs < 3:
        ap.error("--runs must be at least 3 (figures are medians)")
    size, small = (64, 500) if a.quick else (a.size, a.small)
    t0 = time.monotonic()
    try:
        rows = bench(size, small, a.runs)
    except (BenchFailed, PlakarFailed, FileNotFoundError) as exc:
        print(f"bench_plakar: error: {exc}", file=sys.stderr)
        return 1
    from bench_all import machine

    print(table(rows))
    print()
    print(f"Ratio > 1: ours is better. {NOTE}")
    print(
        f"Machine: {machine()}; {a.runs} runs, {(time.monotonic() - t0) / 60:.1f} minutes; "
        f"`scripts/bench_plakar.py --size {size} --small {small} --runs {a.runs}`."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
