"""Peak RSS of our s3 storage under `plakar backup` and `plakar restore`, per malloc setting.

    .venv/bin/python scripts/bench_rss.py [--mib 1024] [--rounds 1] [--store KEY=VALUE]...
        [SETTING...]

SETTING is any of base, mmap128k, mmap2m, mmap4m, arena2, both (default: all): extra
GLIBC_TUNABLES given to plakar and so to the plugins it spawns. base is the plugins' own
setting (kloset_sdk.memory fixes the mmap threshold at 2 MiB); to see glibc's default, run
this at a commit before kloset_sdk.memory. --store adds a key to the s3 store's config
(e.g. part_size=5242880, concurrency=2), for every round. One SeaweedFS; a mixed tree of
--mib MiB (as in scripts/bench_plakar.py); every round backs up into a new repository and
restores it, and prints the wall time and the peak summed RSS of plakar's descendants (the
storage server and its relay process), sampled every 10 ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "sdk"), str(ROOT / "integrations"), str(ROOT / "scripts")]

import bench_plakar as bp  # noqa: E402

from kloset_sdk.harness.plakar import PlakarHome, find_plakar  # noqa: E402
from tests.emulators.seaweedfs import SeaweedFS  # noqa: E402

SETTINGS = {
    "base": "",
    "mmap128k": "glibc.malloc.mmap_threshold=131072",
    "mmap2m": "glibc.malloc.mmap_threshold=2097152",
    "mmap4m": "glibc.malloc.mmap_threshold=4194304",
    "arena2": "glibc.malloc.arena_max=2",
    "both": "glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=131072",
}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=int, default=1024, help="MiB of the mixed tree (default 1024)")
    ap.add_argument("--rounds", type=int, default=1, help="rounds over the settings (default 1)")
    ap.add_argument(
        "--store",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a key of the s3 store's config (repeatable)",
    )
    ap.add_argument("settings", nargs="*", help=f"of {', '.join(SETTINGS)} (default: all)")
    a = ap.parse_args(argv)
    unknown = [s for s in a.settings if s not in SETTINGS]
    if unknown:
        ap.error(f"unknown setting {unknown[0]!r}: choose from {', '.join(SETTINGS)}")
    a.settings = a.settings or list(SETTINGS)
    extra = dict(kv.split("=", 1) for kv in a.store if "=" in kv)
    if len(extra) != len(a.store):
        ap.error("--store takes KEY=VALUE")
    work = Path(tempfile.mkdtemp(prefix="bench-rss-", dir="/tmp"))
    server: SeaweedFS | None = None
    try:
        plakar = find_plakar(ROOT)
        ptars = bp.build_packages(plakar, work)
        home = PlakarHome(
            plakar,
            base=work / "home",
            env={**os.environ, "PATH": "/usr/bin:/bin"},
            passphrase=bp.PASSPHRASE,
        )
        home.pkg_add(ptars["s3"])
        env = dict(home.env)
        src = work / "mixed"
        nbytes = bp.write_mixed(src, a.mib * bp.MiB)
        server = SeaweedFS(work / "weed").start()
        client = server.client()
        keys = {
            "access_key": server.access_key,
            "secret_access_key": server.secret_key,
            "use_tls": "false",
            **extra,
        }
        print("| setting | backup | backup peak | restore | restore peak |")
        print("|---|---:|---:|---:|---:|")
        for _ in range(a.rounds):
            for name in a.settings:
                home.env = {**env, "GLIBC_TUNABLES": SETTINGS[name]} if SETTINGS[name] else env
                bucket = f"b{uuid.uuid4().hex[:12]}"
                client.create_bucket(Bucket=bucket)
                repo = bp.add(home, "store", f"s3://{server.host_port}/{bucket}/repo", keys)
                bp.must(home, "at", repo, "create")
                b = bp.timed_run(home, "at", repo, "backup", "-no-progress", str(src))
                dst = work / f"dst-{uuid.uuid4().hex[:8]}"
                snap = bp.snapshot_id(home, repo)
                r = bp.timed_run(home, "at", repo, "restore", "-to", str(dst), snap)
                bp.restored(dst, nbytes)
                shutil.rmtree(dst)
                print(
                    f"| {name} | {b.seconds:.1f} s | {b.plugin_kib / 1024:.0f} MiB |"
                    f" {r.seconds:.1f} s | {r.plugin_kib / 1024:.0f} MiB |",
                    flush=True,
                )
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
