"""Measure how fast packaged connectors answer their first RPC (P17): spawn -> Init answered.

    .venv/bin/python scripts/package_startup.py [--dist DIR] [--runs 5] [NAME...]

Each executable runs under `env -i PATH=/usr/bin:/bin` (a bare system python3) with a fresh
cache: run 1 unpacks the package (reported as "first run"), then `--runs` more spawns are timed
and their median is reported. Init gets a valid config against the same local servers and
emulators the tests use, so the time includes importing the client library (boto3, paramiko,
googleapiclient, msal) that Init needs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]


import grpc  # noqa: E402
from package_wheels import host_target  # noqa: E402

from kloset_sdk.harness import ExporterClient, ImporterClient, PluginProcess, StoreClient  # noqa: E402
from tests.packaging.backends import Backends  # noqa: E402
from tests.packaging.conftest import ALL, executable, protocol  # noqa: E402

CLIENTS: dict[str, Any] = {
    "importer": ImporterClient,
    "exporter": ExporterClient,
    "storage": StoreClient,
}


TICK = os.sysconf("SC_CLK_TCK")


def spawn_to_init(
    exe: str, kind: str, proto: str, config: dict[str, str], env: dict[str, str]
) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the plugin) from spawn to the Init answer.

    CPU time is reported too because wall time on a shared 2-core machine mostly measures the
    other jobs; CPU time is what the plugin itself spent (imports, config parsing, Init)."""
    with PluginProcess([exe], env=env) as proc:
        CLIENTS[kind](proc).init(config, proto=proto, timeout=300)
        wall = time.monotonic() - proc.spawned_at
        fields = Path(f"/proc/{proc.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return wall, (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def measure(
    exe: str, kind: str, proto: str, backends: Backends, name: str, env: dict[str, str], n: int
) -> tuple[float, list[tuple[float, float]]]:
    first = spawn_to_init(exe, kind, proto, backends.config(name, kind), env)[0]
    return first, [
        spawn_to_init(exe, kind, proto, backends.config(name, kind), env) for _ in range(n)
    ]


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", default=[])
    ap.add_argument("--dist", type=Path, default=ROOT / "dist" / "plakar")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args(argv)
    goos, goarch = host_target().platform

    def package_dir(name: str) -> Path:
        """<name>/ from a one-platform build, <name>-<goos>-<goarch>/ from a full one."""
        for d in (a.dist / name, a.dist / f"{name}-{goos}-{goarch}"):
            if (d / "manifest.yaml").exists():
                return d
        return a.dist / name

    names = [n for n in (a.names or ALL) if (package_dir(n) / "manifest.yaml").exists()]
    rows = []
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kloset-startup-")))
        servers: dict[str, Any] = {}

        def fixture(name: str) -> Any:
            if name not in servers:
                from tests.emulators.seaweedfs import SeaweedFS
                from tests.emulators.sshd import SSHD

                servers[name] = stack.enter_context(SeaweedFS() if name == "seaweedfs" else SSHD())
            return servers[name]

        backends = Backends(tmp, fixture)
        stack.callback(backends.stop)
        for name in names:
            pkg = package_dir(name)
            cache = tmp / f"cache-{name}"
            env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp), "XDG_CACHE_HOME": str(cache)}
            for kind in ("importer", "exporter", "storage"):
                exe, proto = executable(pkg, kind), protocol(pkg, kind)
                try:
                    first, runs = measure(exe, kind, proto, backends, name, env, a.runs)
                except grpc.RpcError as exc:
                    print(f"{Path(exe).name}: Init failed: {exc.code()} {exc.details()}")
                    continue
                walls = [w for w, _ in runs]
                cpu = statistics.median(c for _, c in runs)
                row = (Path(exe).name, first, statistics.median(walls), min(walls), max(walls), cpu)
                rows.append(row)
                print(
                    f"{row[0]:<18} first {first:6.3f}s  median {row[2]:6.3f}s"
                    f"  min {row[3]:6.3f}s  max {row[4]:6.3f}s  cpu {cpu:6.3f}s",
                    flush=True,
                )
            shutil.rmtree(cache, ignore_errors=True)
    load = os.getloadavg()[0]
    print(f"\n| executable | first run (unpack) | median of {a.runs} | min | max | CPU (median) |")
    print("|---|---:|---:|---:|---:|---:|")
    for exe, first, med, lo, hi, cpu in rows:
        print(
            f"| `{exe}` | {first:.2f} s | **{med:.2f} s** | {lo:.2f} s | {hi:.2f} s | {cpu:.2f} s |"
        )
    print(f"\nload average at the end: {load:.1f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
