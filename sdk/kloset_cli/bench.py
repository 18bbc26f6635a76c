"""`klosetctl store bench`: Put/Get throughput and latency through the plugin process.

Objects are random (incompressible) packfiles under random MACs and are deleted afterwards.
The numbers include the gRPC relay and 1 MiB chunking, i.e. what Plakar itself would see.
"""

from __future__ import annotations

import os
import re
import statistics
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import grpc

from kloset_sdk.harness import PluginProcess, StoreClient
from kloset_sdk.layout import Resource

from .config import CliError
from .plugins import connect, failure, rpc_message

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1 << 10,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1 << 20,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1 << 30,
}


def parse_size(text: str) -> int:
    """`16MiB`, `4m`, `1000000` -> bytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", text)
    if m is None or m.group(2).lower() not in _UNITS:
        raise CliError(f'size "{text}" is not a number with an optional unit (KiB, MiB, MB...)')
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


@dataclass
class Phase:
    name: str
    count: int
    bytes: int
    seconds: float
    latencies: list[float]

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / max(self.seconds, 1e-9)

    def pct(self, q: float) -> float:
        lat = sorted(self.latencies)
        return lat[min(len(lat) - 1, int(q * len(lat)))] if lat else 0.0

    @property
    def median(self) -> float:
        return statistics.median(self.latencies) if self.latencies else 0.0


def _timed(
    jobs: int, items: list[bytes], fn: Callable[[bytes], int]
) -> tuple[float, list[float], int]:
    lat: list[float] = []
    total = 0

    def one(mac: bytes) -> tuple[float, int]:
        t0 = time.perf_counter()
        n = fn(mac)
        return time.perf_counter() - t0, n

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for dt, n in pool.map(one, items):
            lat.append(dt)
            total += n
    return time.perf_counter() - t0, lat, total


def _open_or_create(store: StoreClient, proc: PluginProcess) -> str:
    """Open the repository there, or create one where there is none (Open says NOT_FOUND).

    Any other Open failure (unreachable, refused credentials) is the error: a Create would
    only fail the same way and hide the first message.
    """
    try:
        store.open()
        return "existing repository"
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.NOT_FOUND:
            raise CliError(f"Open failed: {failure(proc, exc)}", status=1) from None
        opened = rpc_message(exc)
    try:
        store.create(b"_KLOSET_" + os.urandom(64))
    except grpc.RpcError as exc:
        raise CliError(
            f"no repository to benchmark: {opened}, and Create failed: {failure(proc, exc)}",
            status=1,
        ) from None
    return "new repository"


def run_bench(
    proto: str,
    config: Mapping[str, str],
    size: int,
    count: int,
    jobs: int,
    exe: str | None = None,
) -> tuple[str, list[Phase]]:
    """Put `count` objects of `size` bytes with `jobs` in parallel, Get them, delete them."""
    if size < 0 or count < 1 or jobs < 1:
        raise CliError("--size must be >= 0, --count and --jobs >= 1")
    payload = os.urandom(size)
    macs = [os.urandom(32) for _ in range(count)]
    phases: list[Phase] = []
    with connect("storage", proto, config, exe=exe) as conn:
        store: StoreClient = conn.client
        try:
            where = _open_or_create(store, conn.proc)
            secs, lat, n = _timed(jobs, macs, lambda m: store.put(Resource.PACKFILE, m, payload))
            phases.append(Phase("put", count, n, secs, lat))
            secs, lat, n = _timed(
                jobs, macs, lambda m: sum(len(c) for c in store.get_iter(Resource.PACKFILE, m))
            )
            phases.append(Phase("get", count, n, secs, lat))
            secs, lat, n = _timed(
                jobs,
                macs,
                lambda m: len(store.get(Resource.PACKFILE, m, size // 2, min(size // 2, 4096))),
            )
            phases.append(Phase("get 4 KiB range", count, n, secs, lat))
        except grpc.RpcError as exc:
            raise CliError(f"benchmark failed: {failure(conn.proc, exc)}", status=1) from None
        finally:
            for m in macs:
                try:
                    store.delete(Resource.PACKFILE, m)
                except grpc.RpcError:
                    pass
    return where, phases
