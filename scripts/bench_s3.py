"""Throughput of the s3 plugins next to plain boto3, against the same local SeaweedFS, same run.

    .venv/bin/python scripts/bench_s3.py [--quick]

Figures (median of 3 runs each, ours and the reference interleaved run by run so machine noise
hits both alike; --quick: 1 run, smaller data):
- storage Put / Get of 64 MiB objects through the storage plugin (the harness StoreClient,
  as Plakar drives it: 1 MiB gRPC chunks), next to boto3's own managed upload_fileobj /
  download_fileobj of the same bytes (default TransferConfig);
- import of a bucket of 1,000 objects (256 KiB each) through the importer plugin, every file
  opened and read as Plakar's backup does (16 at once), with and without the metadata xattrs,
  next to boto3's transfer manager downloading the same objects 16 at a time, and (for the
  metadata=true row) next to the same downloads each preceded by a boto3 head_object, which is
  the request metadata=true adds per object;
- HEADs/s of the same 1,000 objects, 16 threads: the plugin's S3Client.head (in-process, so
  the quick path of kloset_s3/quick.py) next to boto3's head_object.

`run(quick)` returns the rows (figure, ours, reference, ratio, unit) for scripts/bench.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "sdk"), str(ROOT / "integrations")]

from kloset_sdk import Resource  # noqa: E402
from kloset_sdk.harness import ImporterClient, PluginProcess, StoreClient  # noqa: E402
from tests.emulators.seaweedfs import SeaweedFS  # noqa: E402

MiB = 1 << 20
JOBS = 16


def plugin(kind: str) -> list[str]:
    return [sys.executable, "-m", "kloset_sdk.plugin", "s3", kind]


def config(server: SeaweedFS, bucket: str, **extra: str) -> dict[str, str]:
    return {
        "location": f"s3://{server.host_port}/{bucket}",
        "access_key": server.access_key,
        "secret_access_key": server.secret_key,
        "use_tls": "false",
        **extra,
    }


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def interleaved(nbytes: int, runs: int, *sides: Callable[[int], object]) -> tuple[float, ...]:
    """MB/s (10^6 bytes per second) of each side's median run; run i of every side is timed
    before run i + 1 of any, so a slow moment of the machine hits all sides alike."""
    times: list[list[float]] = [[] for _ in sides]
    for i in range(runs):
        for fn, t in zip(sides, times, strict=True):
            t.append(timed(lambda fn=fn, i=i: fn(i)))
    return tuple(nbytes / statistics.median(t) / 1e6 for t in times)


class _Discard(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        return len(b)


def bench_storage(server: SeaweedFS, size: int, runs: int) -> list[dict[str, Any]]:
    client = server.client()
    data = os.urandom(size)
    bucket = "bench-store"
    client.create_bucket(Bucket=bucket)
    macs = [os.urandom(32) for _ in range(runs)]
    with PluginProcess(plugin("storage")) as proc:
        store = StoreClient(proc)
        store.init(config(server, bucket))
        store.create(b"bench")
        ours_put, ref_put = interleaved(
            size,
            runs,
            lambda i: store.put(Resource.PACKFILE, macs[i], data),
            lambda i: client.upload_fileobj(io.BytesIO(data), bucket, f"ref/{i}"),
        )
        ours_get, ref_get = interleaved(
            size,
            runs,
            lambda i: store.get(Resource.PACKFILE, macs[i]),
            lambda i: client.download_fileobj(bucket, f"ref/{i}", _Discard()),
        )
        store.close()
    mib = size // MiB
    return [
        row(f"storage Put, {mib} MiB object (ref: boto3 upload_fileobj)", ours_put, ref_put),
        row(f"storage Get, {mib} MiB object (ref: boto3 download_fileobj)", ours_get, ref_get),
    ]


def bench_import(server: SeaweedFS, count: int, size: int, runs: int) -> list[dict[str, Any]]:
    from boto3.s3.transfer import TransferConfig, create_transfer_manager

    client = server.client(max_pool_connections=2 * JOBS)
    bucket = "bench-import"
    client.create_bucket(Bucket=bucket)
    keys = [f"d{i % 10}/obj{i:05d}" for i in range(count)]
    with ThreadPoolExecutor(JOBS) as pool:
        list(
            pool.map(lambda k: client.put_object(Bucket=bucket, Key=k, Body=os.urandom(size)), keys)
        )
    total = count * size

    def ours(metadata: str) -> float:
        """Seconds of one Import alone (the plugin is started and Init'ed before)."""
        with PluginProcess(plugin("importer")) as proc:
            importer = ImporterClient(proc)
            importer.init(config(server, bucket, metadata=metadata), maxconcurrency=JOBS)
            t0 = time.perf_counter()
            run = importer.scan(read=True, jobs=JOBS)
            took = time.perf_counter() - t0
            importer.close()
        got = sum(r.read for r in run.records if not r.record.is_xattr)
        if got != total or run.errors:
            raise RuntimeError(f"import read {got} of {total} bytes: {run.errors[:3]}")
        return took

    def reference(head: bool) -> None:
        """The transfer manager's downloads; with `head`, each after a head_object (what
        metadata=true asks for), the HEADs 16 at once and overlapped with the downloads."""
        listed = [
            o["Key"]
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for o in page.get("Contents", [])
        ]
        with (
            create_transfer_manager(client, TransferConfig(max_concurrency=JOBS)) as tm,
            ThreadPoolExecutor(JOBS) as pool,
        ):
            if head:
                heads = pool.map(lambda k: client.head_object(Bucket=bucket, Key=k), listed)
                futures = [
                    tm.download(bucket, k, _Discard()) for k, _ in zip(listed, heads, strict=True)
                ]
            else:
                futures = [tm.download(bucket, k, _Discard()) for k in listed]
            for f in futures:
                f.result()

    def heads(head: Callable[[str], object]) -> float:
        with ThreadPoolExecutor(JOBS) as pool:
            return timed(lambda: list(pool.map(head, keys)))

    from kloset_s3.client import S3Client
    from kloset_s3.options import S3Options, resolve
    from kloset_sdk.options import parse

    opts = parse(S3Options, config(server, bucket), "importer")
    s3 = S3Client(opts, resolve(opts))
    head_times: dict[str, list[float]] = {"ours": [], "ref": []}
    for _ in range(runs):
        head_times["ours"].append(heads(s3.head))
        head_times["ref"].append(heads(lambda k: client.head_object(Bucket=bucket, Key=k)))
    head_rate = {k: count / statistics.median(v) for k, v in head_times.items()}

    times: dict[str, list[float]] = {"true": [], "false": [], "ref": [], "ref_head": []}
    for _ in range(runs):  # interleaved: one of each per round
        times["true"].append(ours("true"))
        times["false"].append(ours("false"))
        times["ref"].append(timed(lambda: reference(False)))
        times["ref_head"].append(timed(lambda: reference(True)))
    rate = {k: total / statistics.median(v) / 1e6 for k, v in times.items()}
    label = f"import, {count} x {size // 1024} KiB"
    tm_ref = f"ref: boto3 transfer manager, {JOBS} at once"
    return [
        row(f"{label} ({tm_ref}), metadata=true", rate["true"], rate["ref"]),
        row(
            f"{label}, metadata=true (ref: the same with one boto3 head_object per object first)",
            rate["true"],
            rate["ref_head"],
        ),
        row(f"{label} ({tm_ref}), metadata=false", rate["false"], rate["ref"]),
        row(
            f"HEAD of {count} objects, {JOBS} threads (ours: the plugin's S3Client.head,"
            " in-process; ref: boto3 head_object)",
            head_rate["ours"],
            head_rate["ref"],
            "HEADs/s",
        ),
    ]


def row(figure: str, ours: float, reference: float, unit: str = "MB/s") -> dict[str, Any]:
    return {
        "figure": figure,
        "ours": round(ours, 1),
        "reference": round(reference, 1),
        "ratio": round(ours / reference, 2) if reference else 0.0,
        "unit": unit,
    }


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Start a SeaweedFS, measure, stop it; the rows of the table."""
    runs = 1 if quick else 3
    with SeaweedFS() as server:
        rows = bench_storage(server, (16 if quick else 64) * MiB, runs)
        rows += bench_import(server, 200 if quick else 1000, 256 * 1024, runs)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    out = ["| figure | ours | reference | ratio | unit |", "|---|---:|---:|---:|---|"]
    for r in rows:
        out.append(
            f"| {r['figure']} | {r['ours']} | {r['reference']} | {r['ratio']} | {r['unit']} |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true", help="1 run of smaller data (a smoke test)")
    args = p.parse_args(argv)
    print(table(run(quick=args.quick)))
    print(f"\n(SeaweedFS on 127.0.0.1, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
