"""Frozen (scripts/package --frozen) against launcher packages: start-up, size, throughput.

    .venv/bin/python scripts/bench_frozen.py [--runs 5] [--mb 64] [NAME...]   (default: fs s3)

Builds both variants into a temp directory (the launcher one host-only, the frozen one from
the .build/frozen cache), then, interleaving the two so that machine load hits both alike:

- start-up: spawn to Init answered (wall and the plugin's CPU), median of --runs after one
  warm-up (the launcher's first run unpacks; reported in docs/PACKAGING.md separately). The
  launcher runs under PATH=/usr/bin:/bin (Debian's python3), the frozen one under a PATH with
  no interpreter at all;
- size: the package directory and the .ptar `plakar pkg create` wrote;
- throughput: the posixfs store, Put then Get of one --mb MiB packfile over gRPC, median of 3
  (only when fs is among the names).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

from package_startup import spawn_to_init  # noqa: E402

from kloset_sdk.harness import PluginProcess, StoreClient  # noqa: E402
from kloset_sdk.layout import Resource  # noqa: E402
from tests.packaging.backends import Backends  # noqa: E402
from tests.packaging.conftest import executable, protocol  # noqa: E402

VARIANTS = ("launcher", "frozen")
MANIFEST_NAME = {"fs": "posixfs", "s3": "s3", "sftp": "sftp", "gdrive": "gdrive"}
MANIFEST_NAME["onedrive"] = "onedrive"


def build(out: Path, names: list[str]) -> dict[str, float]:
    """Both variants into out/launcher and out/frozen; returns build seconds per variant."""
    took = {}
    for variant, flags in (("launcher", ["--host-only"]), ("frozen", ["--frozen"])):
        t0 = time.monotonic()
        proc = subprocess.run(
            [str(ROOT / "scripts" / "package"), *flags, "--out", str(out / variant), *names],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise SystemExit(f"bench: scripts/package {' '.join(flags)} failed:\n{proc.stderr}")
        took[variant] = time.monotonic() - t0
    return took


def package_dir(out: Path, variant: str, name: str) -> Path:
    if variant == "frozen":
        return out / variant / f"{name}-frozen"
    found = sorted((out / variant).glob(f"{name}-linux-*/manifest.yaml"))  # <name>-<os>-<arch>/
    return found[0].parent if found else out / variant / name


def ptar(out: Path, variant: str, name: str) -> Path:
    suffix = "" if variant == "launcher" else "-frozen"
    (found,) = (out / variant).glob(f"{MANIFEST_NAME[name]}{suffix}_*.ptar")
    return found


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def throughput(exe: str, env: dict[str, str], where: Path, data: bytes) -> tuple[float, float]:
    """(Put MB/s, Get MB/s) of one packfile through the posixfs store."""
    with PluginProcess([exe], env=env) as proc:
        store = StoreClient(proc)
        store.init({"location": f"posixfs://{where}"}, proto="posixfs", timeout=120)
        store.create(b"bench")
        mac = os.urandom(32)
        t0 = time.monotonic()
        store.put(Resource.PACKFILE, mac, data)
        t1 = time.monotonic()
        got = store.get(Resource.PACKFILE, mac)
        t2 = time.monotonic()
        assert got == data, "the store returned other bytes"
        store.close()
    mb = len(data) / 1e6
    return mb / (t1 - t0), mb / (t2 - t1)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", default=["fs", "s3"])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mb", type=int, default=64)
    a = ap.parse_args(argv)
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kloset-frozen-")))
        took = build(tmp / "out", a.names)
        empty = tmp / "no-python"
        empty.mkdir()
        envs = {
            "launcher": {"PATH": "/usr/bin:/bin", "HOME": str(tmp), "XDG_CACHE_HOME": str(tmp)},
            "frozen": {"PATH": str(empty), "HOME": str(tmp)},
        }
        servers: dict[str, Any] = {}

        def fixture(name: str) -> Any:
            if name not in servers:
                from tests.emulators.seaweedfs import SeaweedFS
                from tests.emulators.sshd import SSHD

                servers[name] = stack.enter_context(SeaweedFS() if name == "seaweedfs" else SSHD())
            return servers[name]

        backends = Backends(tmp, fixture)
        stack.callback(backends.stop)
        start: list[tuple[str, dict[str, tuple[float, float]]]] = []
        for name in a.names:
            for kind in ("importer", "exporter", "storage"):
                samples: dict[str, list[tuple[float, float]]] = {v: [] for v in VARIANTS}
                exes = {}
                for v in VARIANTS:
                    pkg = package_dir(tmp / "out", v, name)
                    exes[v] = (executable(pkg, kind), protocol(pkg, kind))
                    exe, proto = exes[v]
                    spawn_to_init(exe, kind, proto, backends.config(name, kind), envs[v])
                for _ in range(a.runs):
                    for v in VARIANTS:
                        exe, proto = exes[v]
                        cfg = backends.config(name, kind)
                        samples[v].append(spawn_to_init(exe, kind, proto, cfg, envs[v]))
                med = {
                    v: (
                        statistics.median(w for w, _ in s),
                        statistics.median(c for _, c in s),
                    )
                    for v, s in samples.items()
                }
                start.append((Path(exes["frozen"][0]).name, med))
                print(f"{start[-1][0]}: {med}", file=sys.stderr, flush=True)
        tput: dict[str, list[tuple[float, float]]] = {v: [] for v in VARIANTS}
        data = os.urandom(a.mb << 20) if "fs" in a.names else b""  # for the fs store
        for i in range(3 if data else 0):
            for v in VARIANTS:
                exe = executable(package_dir(tmp / "out", v, "fs"), "storage")
                tput[v].append(throughput(exe, envs[v], tmp / f"store-{v}-{i}", data))
        load = os.getloadavg()[0]
        sizes = {
            name: [dir_size(package_dir(tmp / "out", v, name)) for v in VARIANTS]
            + [ptar(tmp / "out", v, name).stat().st_size for v in VARIANTS]
            for name in a.names
        }

    print(f"\nStart-up, spawn to Init answered, median of {a.runs} (interleaved)\n")
    print(
        "| executable | launcher wall | frozen wall | ratio | launcher CPU | frozen CPU | ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for exe, med in start:
        (lw, lc), (fw, fc) = med["launcher"], med["frozen"]
        print(
            f"| `{exe}` | {lw * 1e3:.0f} ms | {fw * 1e3:.0f} ms | {fw / lw:.2f} |"
            f" {lc * 1e3:.0f} ms | {fc * 1e3:.0f} ms | {fc / lc:.2f} |"
        )
    print("\nSize (host-only launcher package against frozen)\n")
    print("| package | launcher dir | frozen dir | ratio | launcher .ptar | frozen .ptar | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in a.names:
        ld, fd, lp, fp = sizes[name]
        print(
            f"| {name} | {ld / 1e6:.1f} MB | {fd / 1e6:.1f} MB | {fd / ld:.1f} |"
            f" {lp / 1e6:.1f} MB | {fp / 1e6:.1f} MB | {fp / lp:.1f} |"
        )
    if tput["launcher"]:
        print(f"\nThroughput, posixfs store, one {a.mb} MiB packfile, median of 3 (interleaved)\n")
        print("| | launcher | frozen | ratio |")
        print("|---|---:|---:|---:|")
        for i, what in enumerate(("Put", "Get")):
            lv, fv = (statistics.median(s[i] for s in tput[v]) for v in VARIANTS)
            print(f"| {what} | {lv:.0f} MB/s | {fv:.0f} MB/s | {fv / lv:.2f} |")
    print(
        f"\nbuild: launcher {took['launcher']:.1f}s, frozen {took['frozen']:.1f}s (cached freeze"
        f" if unchanged); load average {load:.1f} on {os.cpu_count()} CPUs"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
