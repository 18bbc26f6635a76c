"""SFTP throughput through our plugins, next to plain paramiko on the same sshd, same bytes.

A local OpenSSH sshd (tests/emulators/sshd.py) serves both. Each figure is the median of 3
runs, ours and the reference interleaved. Ours is measured through the plugin process as
Plakar drives it (gRPC over the stdio pipes, 1 MiB chunks), started once per figure so the
runs measure transfers, not Python start-up:

- import: one Import of a directory holding one big file, the file read through Open;
  reference: `SFTPClient.getfo` of that file (paramiko's prefetching download);
- import of many small files: a walk plus one Open per file (8 at a time, as the host does);
  reference: `listdir_attr` then `getfo` of each file in turn (what a plain script does), so
  the reference runs one transfer at a time and ours eight: the row says so;
- storage put / get of one big packfile; reference: `putfo` / `getfo` of the same bytes
  (our Put also fsyncs the file on the server, `fsync@openssh.com`, which plain paramiko
  cannot ask for: that durability is part of the figure, about a third of it on this disk);
- export of the big file; reference: `putfo`.

    .venv/bin/python scripts/bench_sftp.py [--quick]

BENCH_RUNS sets the number of runs per figure (3 by default, at least 3); the 1-minute load
average after each figure goes to stderr (on a shared 2-core machine it explains the spread).
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "sdk"), str(ROOT / "integrations")]

from kloset_sdk import FileInfo, Record, Resource  # noqa: E402
from kloset_sdk.harness import (  # noqa: E402
    ExporterClient,
    ImporterClient,
    PluginProcess,
    StoreClient,
)
from tests.emulators.sshd import SSHD  # noqa: E402

MiB = 1 << 20
RUNS = max(3, int(os.environ.get("BENCH_RUNS", "3")))


class _Null(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        return len(b)


def plugin(kind: str) -> list[str]:
    return [sys.executable, "-m", "kloset_sdk.plugin", "sftp", kind]


def config(sshd: SSHD, path: Path) -> dict[str, str]:
    empty = ROOT / "tests" / "integrations" / "sftp" / "empty_ssh_config"
    return {
        "location": f"sftp://{sshd.user}@{sshd.host}:{sshd.port}{path}",
        "identity": str(sshd.key_path),
        "known_hosts": str(sshd.known_hosts_path),
        "ssh_config": str(empty),
    }


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def pair(ours: Callable[[int], object], ref: Callable[[int], object]) -> tuple[float, float]:
    """Median seconds of ours and of the reference, interleaved run by run."""
    a, b = [], []
    for i in range(RUNS):
        a.append(timed(lambda i=i: ours(i)))  # type: ignore[misc]
        b.append(timed(lambda i=i: ref(i)))  # type: ignore[misc]
    return statistics.median(a), statistics.median(b)


def run(quick: bool = False) -> list[dict[str, Any]]:
    big_size = (16 if quick else 64) * MiB
    small_count, small_size = (200 if quick else 1000), 4096
    rows: list[dict[str, Any]] = []

    def row(figure: str, amount: float, secs: tuple[float, float], unit: str) -> None:
        print(f"{figure[:40]}: load average {os.getloadavg()[0]:.1f} after", file=sys.stderr)
        ours, ref = amount / secs[0], amount / secs[1]
        rows.append(
            {"figure": figure, "ours": ours, "reference": ref, "ratio": ours / ref, "unit": unit}
        )

    with SSHD() as sshd:
        data = os.urandom(big_size)
        big = sshd.root_dir / "big"
        big.mkdir()
        (big / "file.bin").write_bytes(data)
        small = sshd.root_dir / "small"
        small.mkdir()
        for i in range(small_count):
            (small / f"f{i:05d}").write_bytes(os.urandom(small_size))
        sftp = sshd.client()
        try:
            mb = big_size / 1e6
            with PluginProcess(plugin("importer")) as proc:
                imp = ImporterClient(proc)
                imp.init(config(sshd, big), maxconcurrency=8)
                one = str(big / "file.bin")
                secs = pair(lambda i: imp.scan(), lambda i: sftp.getfo(one, _Null()))
                row(f"import, one {big_size // MiB} MiB file", mb, secs, "MB/s")
                imp.init(config(sshd, small), maxconcurrency=8)

                def plain_small(i: int) -> None:
                    for a in sftp.listdir_attr(str(small)):
                        sftp.getfo(f"{small}/{a.filename}", _Null())

                secs = pair(lambda i: imp.scan(), plain_small)
                row(
                    f"import, {small_count} files of 4 KiB (ours: 8 Opens at once;"
                    " ref: one getfo at a time, so the ratio is mostly concurrency)",
                    small_count,
                    secs,
                    "files/s",
                )
            with PluginProcess(plugin("storage")) as proc:
                store = StoreClient(proc)
                store.init(config(sshd, sshd.root_dir / "repo"))
                store.create(b"config")
                macs = [os.urandom(32) for _ in range(RUNS)]
                secs = pair(
                    lambda i: store.put(Resource.PACKFILE, macs[i], data),
                    lambda i: sftp.putfo(io.BytesIO(data), f"{sshd.root_dir}/ref-put-{i}"),
                )
                row(f"storage put, {big_size // MiB} MiB (ours fsync'd)", mb, secs, "MB/s")
                secs = pair(
                    lambda i: store.get(Resource.PACKFILE, macs[i]),
                    lambda i: sftp.getfo(f"{sshd.root_dir}/ref-put-{i}", _Null()),
                )
                row(f"storage get, {big_size // MiB} MiB", mb, secs, "MB/s")
            with PluginProcess(plugin("exporter")) as proc:
                exp = ExporterClient(proc)
                exp.init(config(sshd, sshd.root_dir / "restore"))
                info = FileInfo("file.bin", size=big_size, mode=0o644)
                items = [(Record.file("/file.bin", info, bytes), data)]
                secs = pair(
                    lambda i: exp.export(items),
                    lambda i: sftp.putfo(io.BytesIO(data), f"{sshd.root_dir}/ref-exp-{i}"),
                )
                row(f"export, one {big_size // MiB} MiB file", mb, secs, "MB/s")
        finally:
            sftp.close()
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    out = ["| figure | ours | paramiko | ratio | unit |", "|---|---|---|---|---|"]
    for r in rows:
        out.append(
            f"| {r['figure']} | {r['ours']:,.1f} | {r['reference']:,.1f} | {r['ratio']:.2f}x"
            f" | {r['unit']} |"
        )
    return "\n".join(out)


if __name__ == "__main__":
    print(table(run(quick="--quick" in sys.argv[1:])))
