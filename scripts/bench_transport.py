"""Transport benchmarks: our Python plugins vs the Go reference plugin, same host, same run.

Both sides run under gohost (grpc-go, Plakar's stack) on the same disk; every figure is the
median of `runs` runs (5 by default, BENCH_RUNS overrides), ours and the reference interleaved
run by run so machine noise hits both alike; peak memory is the median of 3 runs. The load
average before and after each figure goes to stderr: on a shared 2-core machine it explains
most of the spread. See docs/BENCHMARKS.notes.md for what the figures mean and where the time
goes.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]
GOHOST = ROOT / ".build" / "bin" / "gohost"
GOREF = ROOT / ".build" / "bin" / "gorefplugin"
PY = sys.executable
MiB = 1 << 20


def ours(kind: str) -> list[str]:
    return [PY, "-m", "kloset_sdk.plugin", "fs", kind]


def ref(kind: str) -> list[str]:
    return [str(GOREF), {"importer": "importer", "storage": "storage"}[kind]]


def gohost(
    mode: str,
    argv: list[str],
    proto: str,
    config: dict[str, str],
    *extra: str,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    cmd = [str(GOHOST), mode, "-exe", argv[0]]
    for a in argv[1:]:
        cmd += ["-arg", a]
    cmd += ["-proto", proto]
    for k, v in config.items():
        cmd += ["-c", f"{k}={v}"]
    cmd += list(extra)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError(f"gohost {mode} failed: {p.stderr[-500:]}")
    res: dict[str, Any] = json.loads(lines[-1])
    if not res.get("ok"):
        raise RuntimeError(f"gohost {mode} not ok: {json.dumps(res)[:500]}")
    return res


def loc(side: str, path: Path) -> tuple[str, dict[str, str]]:
    return (
        ("posixfs", {"location": f"posixfs://{path}"})
        if side == "ours"
        else ("fs", {"location": str(path)})
    )


def median_pair(n: int, fn: Callable[[str], float]) -> tuple[float, float]:
    a: list[float] = []
    b: list[float] = []
    for _ in range(n):
        a.append(fn("ours"))
        b.append(fn("ref"))
    return statistics.median(a), statistics.median(b)


def load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def run(quick: bool = False, runs: int | None = None) -> list[dict[str, Any]]:
    runs = runs or int(os.environ.get("BENCH_RUNS", "3" if quick else "5"))
    work = Path(tempfile.mkdtemp(prefix="bench-transport-", dir=os.environ.get("BENCH_DIR")))
    rows: list[dict[str, Any]] = []

    def row(figure: str, o: float, r: float, unit: str, higher_is_better: bool = True) -> None:
        ratio = (o / r if higher_is_better else r / o) if o and r else 0.0
        rows.append({"figure": figure, "ours": o, "reference": r, "ratio": ratio, "unit": unit})
        print(
            f"  {figure}: ours {o:.1f} {unit}, reference {r:.1f} {unit}, ratio {ratio:.2f}"
            f" ({load()})",
            file=sys.stderr,
        )

    print(f"  {runs} runs per figure, {load()}", file=sys.stderr)
    try:
        argv = {"ours": ours, "ref": ref}
        # -- storage put/get, 16 MiB packfiles --------------------------------------------
        n = "4" if quick else "8"
        put: dict[str, list[float]] = {"ours": [], "ref": []}
        get: dict[str, list[float]] = {"ours": [], "ref": []}
        for i in range(runs):
            for side in ("ours", "ref"):
                d = work / f"store-{side}-{i}"
                proto, cfg = loc(side, d)
                res = gohost("store", argv[side]("storage"), proto, cfg, "-n", n)
                put[side].append(res["put_MBps"])
                get[side].append(res["get_MBps"])
                shutil.rmtree(d, ignore_errors=True)
        row(
            "storage Put, 16 MiB packfiles (ours fsyncs every Put, the Go reference does not)",
            statistics.median(put["ours"]),
            statistics.median(put["ref"]),
            "MB/s",
        )
        row(
            "storage Get, 16 MiB packfiles",
            statistics.median(get["ours"]),
            statistics.median(get["ref"]),
            "MB/s",
        )

        # -- import of 20 files of 20 MB ---------------------------------------------------
        big = work / "big"
        big.mkdir()
        for i in range(20):
            (big / f"f{i:02d}.bin").write_bytes(os.urandom(20_000_000))

        def imp_big(side: str) -> float:
            proto, cfg = loc(side, big)
            return float(gohost("import", argv[side]("importer"), proto, cfg, "-j", "8")["MBps"])

        row("import, 20 files of 20 MB", *median_pair(runs, imp_big), "MB/s")

        # -- import of 20,000 small files in 100 directories -------------------------------
        small = work / "small"
        count = 2000 if quick else 20000
        for di in range(100):
            sub = small / f"d{di:03d}"
            sub.mkdir(parents=True)
            for fi in range(count // 100):
                (sub / f"f{fi:04d}.txt").write_bytes(b"x" * (64 + fi % 512))

        def imp_small(side: str) -> float:
            proto, cfg = loc(side, small)
            return float(
                gohost("import", argv[side]("importer"), proto, cfg, "-j", "8")["records_per_s"]
            )

        row(
            f"import, {count:,} small files in 100 dirs", *median_pair(runs, imp_small), "records/s"
        )

        # -- start-up: spawn to first Init answered ----------------------------------------
        from kloset_sdk.harness import ImporterClient, PluginProcess

        def startup(side: str) -> float:
            proto, cfg = loc(side, big)
            t0 = time.monotonic()
            with PluginProcess(argv[side]("importer")) as p:
                ImporterClient(p).init(cfg, proto=proto)
                took = (time.monotonic() - t0) * 1000
            return took

        startup("ours")  # warm the page cache and .pyc files: the figure is for a later run
        startup("ref")
        o, r = median_pair(max(runs, 9), startup)
        row("start-up, spawn to Init answered", o, r, "ms", higher_is_better=False)

        # -- peak RSS -------------------------------------------------------------------------
        def rss(side: str, mode: str, *extra: str, src: Path | None = None) -> float:
            out = work / f"rss-{side}"
            env = dict(os.environ, RSS_OUT=str(out))
            wrapped = [PY, str(ROOT / "scripts" / "rss_wrap.py"), *argv[side](mode)]
            d = work / f"rss-store-{side}"
            proto, cfg = loc(side, src or d)
            gohost(
                "import" if mode == "importer" else "store", wrapped, proto, cfg, *extra, env=env
            )
            shutil.rmtree(d, ignore_errors=True)
            return int(out.read_text()) / 1024

        huge = work / "huge"
        huge.mkdir()
        size = (256 if quick else 2048) * MiB
        with open(huge / "one.bin", "wb") as out:
            block = os.urandom(MiB)
            for _ in range(size // MiB):
                out.write(block)
        rss_runs = 1 if quick else 3
        row(
            f"peak RSS, import of one {size >> 20} MiB file",
            *median_pair(rss_runs, lambda side: rss(side, "importer", "-j", "8", src=huge)),
            "MB",
            higher_is_better=False,
        )
        psize = (128 if quick else 1024) * MiB
        row(
            f"peak RSS, storing one {psize >> 20} MiB packfile",
            *median_pair(
                rss_runs, lambda side: rss(side, "storage", "-n", "1", "-size", str(psize))
            ),
            "MB",
            higher_is_better=False,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


if __name__ == "__main__":
    for r in run(quick="--quick" in sys.argv):
        cells = (r["figure"], f"{r['ours']:.1f}", f"{r['reference']:.1f}", f"{r['ratio']:.2f}")
        print("| " + " | ".join((*cells, r["unit"])) + " |")
