"""A plugin SIGKILLed at random points (P15): nothing torn is ever visible under a final name.

Plakar kills its plugins with SIGKILL at the end of a command or on Ctrl-C (docs/PROTOCOL.md:
Transport and process),
so a Put or an exported file may be cut anywhere: in the middle of the data, after the host's
half-close while the object is being committed, or between two calls. Kill points are drawn from
a seeded RNG, so a failure replays exactly.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from kloset_sdk import Resource
from kloset_sdk._pb import connectors_pb2 as cpb
from kloset_sdk._pb import exporter_pb2 as epb
from kloset_sdk.harness import ExporterClient, PluginProcess, StoreClient
from tests.reliability.backends import Backend, make_backend
from tests.reliability.common import MiB, Scenario, content, sigkill

PUTS = 50
SEED = 20260610
#: Above Drive's 8 MiB resumable chunk and Graph's 4 MiB simple-upload limit: such a Put goes
#: through a resumable upload (Drive) or an upload session (Graph), and every one is killed.
SESSION_UPLOAD = 8 * MiB


def _sizes(rng: random.Random, connector: str) -> int:
    r = rng.random()
    if r < 0.08:
        return 0
    if r < 0.65:
        return rng.randrange(1, 256 * 1024)
    if connector in ("gdrive", "onedrive"):
        if r < 0.85:
            return rng.randrange(256 * 1024, 3 * MiB // 2)
        return rng.randrange(SESSION_UPLOAD + 1, SESSION_UPLOAD + 2 * MiB)
    if r < 0.92:
        return rng.randrange(256 * 1024, 3 * MiB // 2)
    if connector == "s3":
        return rng.randrange(5 * MiB + 1, 13 * MiB // 2)  # multipart (5 MiB parts)
    return rng.randrange(2 * MiB, 3 * MiB)  # several chunks


class Store:
    """One storage plugin process at a time; `restart()` after every kill."""

    def __init__(self, backend: Backend, env: dict[str, str], stderr: Any) -> None:
        self.backend = backend
        self.env = env
        self.stderr = stderr
        self.proc: PluginProcess | None = None
        self.client: StoreClient | None = None
        self.starts = 0

    def start(self, create: bool) -> StoreClient:
        self.proc = PluginProcess(self.backend.argv, env=self.env, stderr=self.stderr)
        self.client = StoreClient(self.proc)
        self.client.init(self.backend.config, proto=self.backend.proto)
        if create:
            self.client.create(b"reliability-config")
        else:
            assert self.client.open() == b"reliability-config"
        self.starts += 1
        return self.client

    def kill(self) -> None:
        assert self.proc is not None
        sigkill(self.proc)
        self.proc.close()
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc = None


def _put(
    store: Store,
    res: Resource,
    mac: bytes,
    data: bytes,
    rng: random.Random,
    mode: str,
    cut_from: int = 0,
) -> bool:
    """One Put, killing the plugin as `mode` says (mid-stream: at a random offset from
    `cut_from` on); True if the plugin acknowledged it."""
    assert store.client is not None and store.proc is not None
    proc = store.proc
    if mode == "mid-stream" and not data:
        mode = "after-eof"  # nothing to cut in an empty object
    cut = rng.randrange(min(cut_from, len(data) - 1), len(data)) if mode == "mid-stream" else -1
    delay = rng.uniform(0.0, 0.05)

    def body() -> Iterator[bytes]:
        off = 0
        while off < len(data):
            n = rng.randrange(64 * 1024, MiB + 1)
            if 0 <= cut < off + n:
                if cut > off:
                    yield data[off:cut]
                    time.sleep(0.01)  # let the plugin take it before it dies
                sigkill(proc)
                return
            yield data[off : off + n]
            off += n
        if mode == "after-eof":
            threading.Timer(delay, sigkill, args=(proc,)).start()

    try:
        store.client.put(res, mac, body())
    except grpc.RpcError:
        return False
    return True


@pytest.mark.parametrize("connector", ["fs", "sftp", "s3", "gdrive", "onedrive"])
def test_storage_killed_during_puts(
    connector: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    plugin_env: dict[str, str],
    scenario: Scenario,
) -> None:
    """Storage SIGKILLed at random points during 50 Puts: every object present is intact"""
    backend = make_backend(connector, "storage", request, tmp_path)
    assert backend.present is not None
    rng = random.Random(f"{SEED}-{connector}")
    sent: dict[tuple[Resource, bytes], bytes] = {}
    acked: set[tuple[Resource, bytes]] = set()
    kills = {"mid-stream": 0, "after-eof": 0, "idle": 0}
    big_kills = {"mid-stream": 0, "after-eof": 0}
    log = open(tmp_path / "stderr.log", "wb")  # closed below
    store = Store(backend, plugin_env, log)
    store.start(create=True)

    def check(where: str) -> None:
        present = backend.present() if backend.present else {}
        for key, body in present.items():
            assert key in sent, f"{where}: {key[1].hex()} was never sent"
            assert body == sent[key], (
                f"{where}: {key[0].name} {key[1].hex()} holds {len(body)} bytes that differ"
                f" from the {len(sent[key])} sent"
            )
        for key in acked:
            if present.get(key) != sent[key]:
                scenario.bytes_lost += len(sent[key])
                raise AssertionError(f"{where}: acknowledged {key[1].hex()} is missing or torn")

    try:
        for i in range(PUTS):
            res = rng.choice((Resource.PACKFILE, Resource.PACKFILE, Resource.STATE, Resource.LOCK))
            mac = rng.randbytes(32)
            data = content(rng.randrange(1 << 30), _sizes(rng, connector))
            sent[(res, mac)] = data
            r = rng.random()
            mode = "none"
            if r < 0.09:
                mode = "mid-stream"
            elif r < 0.15:
                mode = "after-eof"
            cut_from = 0
            if len(data) > SESSION_UPLOAD:  # killed after at least one chunk went up, or at EOF
                mode = "mid-stream" if r < 0.6 else "after-eof"
                cut_from = SESSION_UPLOAD
                big_kills[mode] += 1
            ok = _put(store, res, mac, data, rng, mode, cut_from)
            scenario.runs += 1
            assert ok or mode != "none", f"put {i} failed without any fault"
            if mode != "none":
                kills[mode] += 1
                assert store.proc is not None
                store.proc.proc.wait(10)
                store.kill()
                check(f"after the kill of put {i} ({mode})")
                store.start(create=False)
                if not ok:  # the host runs the same backup again: the retry must work
                    store.client.put(res, mac, data)  # type: ignore[union-attr]
            acked.add((res, mac))
            if rng.random() < 0.03:
                kills["idle"] += 1
                store.kill()
                check(f"after the idle kill following put {i}")
                store.start(create=False)
        # a fresh process lists and reads back everything
        client = store.client
        assert client is not None
        listed = {
            (res, mac)
            for res in (Resource.PACKFILE, Resource.STATE, Resource.LOCK)
            for mac in client.list(res)
        }
        assert listed <= set(sent), "a listed object was never sent"
        for key in sorted(listed):
            got = client.get(*key)
            scenario.bytes_checked += len(got)
            assert got == sent[key], f"{key[1].hex()}: Get returns bytes that differ"
        missing = acked - listed
        scenario.bytes_lost += sum(len(sent[k]) for k in missing)
        assert not missing, f"{len(missing)} acknowledged objects are not listed"
        check("at the end")
        if connector in ("gdrive", "onedrive"):
            assert all(big_kills.values()), f"resumable/session uploads killed: {big_kills}"
    finally:
        store.stop()
        log.close()
    left = backend.leftovers()
    scenario.note(
        f"{sum(kills.values())} kills ({kills['mid-stream']} mid-stream,"
        f" {kills['after-eof']} after EOF, {kills['idle']} idle; of them"
        f" {sum(big_kills.values())} over {SESSION_UPLOAD // MiB} MiB), {store.starts} starts,"
        f" {len(left)} temporaries left by killed processes (never listed)"
    )


# -- exporter killed mid-file --------------------------------------------------------------------

EXPORT_RUNS = 3


def _dir(path: str) -> cpb.Record:
    name = path.rsplit("/", 1)[-1] or "/"
    return cpb.Record(pathname=path, fileInfo=cpb.FileInfo(name=name, mode=0x80000000 | 0o755))


def _file(path: str, size: int) -> cpb.Record:
    info = cpb.FileInfo(name=path.rsplit("/", 1)[-1], size=size, mode=0o644)
    return cpb.Record(pathname=path, hasReader=True, fileInfo=info)


def _export_then_kill(
    proc: PluginProcess,
    run: int,
    files: dict[str, bytes],
    victim: str,
    cut: int,
    killed: threading.Event,
) -> Iterator[epb.ExportRequest]:
    """The host's Export stream, up to `cut` bytes of `victim`; then SIGKILL the plugin."""
    yield epb.ExportRequest(record=_dir("/"))
    yield epb.ExportRequest(record=_dir(f"/run{run}"))
    for path, data in files.items():
        yield epb.ExportRequest(record=_file(path, len(data)))
        if path == victim:
            yield epb.ExportRequest(chunk=data[:cut])
            time.sleep(0.2)  # the plugin writes what it got, then dies
            killed.set()
            sigkill(proc)
            return
        for off in range(0, len(data), MiB):
            yield epb.ExportRequest(chunk=data[off : off + MiB])
        yield epb.ExportRequest(chunk=b"")


@pytest.mark.parametrize("connector", ["fs", "sftp", "s3", "gdrive", "onedrive"])
def test_exporter_killed_mid_file(
    connector: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    plugin_env: dict[str, str],
    scenario: Scenario,
) -> None:
    """Exporter SIGKILLed in the middle of a file: no partial file under its final name"""
    backend = make_backend(connector, "exporter", request, tmp_path)
    assert backend.files is not None
    rng = random.Random(f"{SEED}-export-{connector}")
    expected: dict[str, bytes] = {}
    log = open(tmp_path / "stderr.log", "wb")  # closed below
    try:
        for run in range(EXPORT_RUNS):
            files = {
                f"/run{run}/f{j}.bin": content(rng.randrange(1 << 30), rng.randrange(1, 3 * MiB))
                for j in range(3)
            }
            victim = f"/run{run}/f{rng.randrange(3)}.bin"
            cut = rng.randrange(1, len(files[victim]))
            proc = PluginProcess(backend.argv, env=plugin_env, stderr=log)
            client = ExporterClient(proc)
            client.init(backend.config, proto=backend.proto)
            killed = threading.Event()
            stream = _export_then_kill(proc, run, files, victim, cut, killed)
            with pytest.raises(grpc.RpcError) as err:
                client.export_raw(stream)
            assert killed.wait(10), f"run {run}: the Export failed before the kill: {err.value}"
            proc.close()
            scenario.runs += 1
            for path, data in files.items():
                if path == victim:
                    break
                expected[path] = data
            on_server = backend.files()
            for path, data in on_server.items():
                want = files.get(path, expected.get(path))
                if want is not None:
                    scenario.bytes_checked += len(data)
                    assert data == want, f"{path}: {len(data)} bytes under the final name, torn"
            assert victim not in on_server, f"{victim}: partial file under its final name"
        scenario.note(f"{EXPORT_RUNS} kills mid-file; leftovers: {len(backend.leftovers())}")
    finally:
        log.close()
