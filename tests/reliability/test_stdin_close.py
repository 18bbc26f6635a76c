"""The host goes away mid-call (stdin closed): the plugin ends within 5 s and cleans up.

Plakar's exit closes the plugin's stdin (docs/PROTOCOL.md: Transport and process). Whatever the
plugin was doing (an
Import with an Open in flight, an Export in the middle of a file, a Put or a Get half done), it
must end promptly, remove its temporary files, and leave no `kloset-*` entry in its TMPDIR.
"""

from __future__ import annotations

import os
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
from kloset_sdk._pb import storage_pb2 as spb
from kloset_sdk.harness import ExporterClient, ImporterClient, PluginProcess, StoreClient
from tests.reliability.backends import Backend, make_backend
from tests.reliability.common import MiB, Scenario, content, deadline_loop, rtype, wait_exit

EXIT_WITHIN = 5.0
KIND = {"put": "storage", "get": "storage", "export": "exporter", "import": "importer"}
CONNECTORS = ["sdk", "fs", "s3", "sftp", "gdrive", "onedrive"]
#: Where a temporary file (or an unfinished multipart upload) must exist mid-call.
TEMPS_EXPECTED = {
    ("fs", "put"),
    ("fs", "export"),
    ("sftp", "put"),
    ("sftp", "export"),
    ("s3", "put"),
}
#: What the SDK logs at debug level once the connector takes a call's first data (chunks.py
#: announce_first): proof that a Put or an Export is under way in the connector itself.
UNDER_WAY = {"put": "the store is reading data", "export": "the exporter is reading content"}


def _connector(name: str, op: str) -> str:
    if name != "sdk":
        return name
    return "memstore" if KIND[op] == "storage" else "tree"


def _in_flight(op: str, backend: Backend, client: Any, release: threading.Event) -> None:
    """Start `op` and return once it is under way (the call stays open in a thread)."""
    started = threading.Event()
    errors: list[BaseException] = []

    def run(fn: Any) -> None:
        try:
            fn()
        except grpc.RpcError:
            pass
        except BaseException as exc:
            errors.append(exc)
        finally:
            started.set()

    if op == "put":
        data = content(1, 7 * MiB)

        def body() -> Iterator[bytes]:
            for off in range(0, 6 * MiB, MiB):  # a whole 5 MiB part and more, never the end
                yield data[off : off + MiB]
            started.set()
            release.wait(30)

        threading.Thread(
            target=run, args=(lambda: client.put(Resource.PACKFILE, b"\x07" * 32, body()),)
        ).start()
    elif op == "get":
        mac = os.urandom(32)
        client.put(Resource.PACKFILE, mac, content(2, 6 * MiB))
        it = client.get_iter(Resource.PACKFILE, mac)
        assert next(it)  # one chunk read; the rest waits in flow control
        started.set()
        threading.Thread(target=run, args=(lambda: release.wait(30),)).start()
    elif op == "export":
        data = content(3, 6 * MiB)

        def requests() -> Iterator[epb.ExportRequest]:
            root = cpb.Record(
                pathname="/", fileInfo=cpb.FileInfo(name="/", mode=0x80000000 | 0o755)
            )
            yield epb.ExportRequest(record=root)
            info = cpb.FileInfo(name="half.bin", mode=0o644, size=len(data))
            yield epb.ExportRequest(
                record=cpb.Record(pathname="/half.bin", hasReader=True, fileInfo=info)
            )
            for off in range(0, 3 * MiB, MiB):
                yield epb.ExportRequest(chunk=data[off : off + MiB])
            started.set()
            release.wait(30)

        threading.Thread(target=run, args=(lambda: client.export_raw(requests()),)).start()
    else:
        session = client.session()
        it = iter(session)
        big = None
        for rec in it:
            if rec.pathname.endswith("/big.bin") and not rec.is_xattr:
                big = rec
                break
        assert big is not None, "the source's big file was not imported"
        chunks = client.open(big)
        assert next(chunks)  # an Open in flight, the Import unacknowledged
        started.set()
        threading.Thread(target=run, args=(lambda: release.wait(30),)).start()
    assert started.wait(60), "the call never got under way"
    time.sleep(0.3)  # let the plugin act on what it received
    assert not errors, errors


@pytest.mark.parametrize("op", ["import", "export", "put", "get"])
@pytest.mark.parametrize("connector", CONNECTORS)
def test_stdin_closed_mid_call(
    connector: str,
    op: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    plugin_env: dict[str, str],
    no_leftover_kloset_dirs: Path,
    scenario: Scenario,
) -> None:
    """stdin closed in the middle of {op}: exit within 5 s, temporary files removed"""
    name = _connector(connector, op)
    kind = KIND[op]
    backend = make_backend(name, kind, request, tmp_path)
    if op == "import":
        backend.seed({"/small.txt": b"small", "/big.bin": content(4, 5 * MiB)})
    log_path = tmp_path / "stderr.log"
    release = threading.Event()
    with open(log_path, "wb") as log:
        proc = PluginProcess(backend.argv, env={**plugin_env, "KLOSET_LOG": "debug"}, stderr=log)
        try:
            client: Any
            if kind == "storage":
                client = StoreClient(proc)
                client.init(backend.config, proto=backend.proto)
                client.create(b"cfg")
            elif kind == "exporter":
                client = ExporterClient(proc)
                client.init(backend.config, proto=backend.proto)
            else:
                client = ImporterClient(proc)
                client.init(backend.config, proto=backend.proto)
            _in_flight(op, backend, client, release)
            if op in UNDER_WAY:  # import and get: the client already holds a chunk of the answer
                for _ in deadline_loop(10, 0.05):
                    if UNDER_WAY[op] in log_path.read_text(errors="replace"):
                        break
                else:
                    raise AssertionError(f"{op}: the connector never took the data it was sent")
            before: list[str] = []
            if (connector, op) in TEMPS_EXPECTED:  # make sure the check below means something
                for _ in deadline_loop(10, 0.1):
                    before = backend.leftovers()
                    if before:
                        break
                assert before, "no temporary file while the call is under way"
            t0 = time.monotonic()
            proc.close_stdin()
            rc = wait_exit(proc, EXIT_WITHIN)
            took = time.monotonic() - t0
        finally:
            release.set()
            if proc.proc.poll() is None:
                proc.kill()
            else:
                proc.close()
    scenario.runs += 1
    assert rc is not None, f"still running {EXIT_WITHIN:.0f}s after stdin closed"
    scenario.note(f"exit status {rc} after {took:.2f}s")
    if before:
        scenario.note(f"{len(before)} temporaries before, removed")
    left = backend.leftovers()
    assert not left, f"temporary files left behind: {left}"
    if op == "export":
        assert backend.files is not None
        assert "/half.bin" not in backend.files(), "a partial file has its final name"
    if op == "put" and backend.present is not None:
        assert not backend.present(), "a partial object has its final name"


CANCELS = 8


@pytest.mark.parametrize("connector", ["sdk", "fs", "s3", "sftp", "gdrive", "onedrive"])
def test_put_cancelled_by_the_host(
    connector: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    plugin_env: dict[str, str],
    scenario: Scenario,
) -> None:
    """Puts cancelled by the host at random points: nothing stored, the plugin serves on"""
    import random

    name = _connector(connector, "put")
    backend = make_backend(name, "storage", request, tmp_path)
    rng = random.Random(f"cancel-{connector}")
    with open(tmp_path / "stderr.log", "wb") as log:
        with PluginProcess(backend.argv, env=plugin_env, stderr=log) as proc:
            client = StoreClient(proc)
            client.init(backend.config, proto=backend.proto)
            client.create(b"cfg")
            macs = []
            for _ in range(CANCELS):
                mac = rng.randbytes(32)
                macs.append(mac)
                data = content(rng.randrange(1 << 30), rng.randrange(MiB, 7 * MiB))
                cut = rng.randrange(1, len(data))

                stop = threading.Event()

                def body(
                    mac: bytes = mac, data: bytes = data, cut: int = cut, stop: Any = stop
                ) -> Iterator[Any]:
                    yield spb.PutRequest(mac=mac, type=rtype(Resource.PACKFILE))
                    for off in range(0, cut, MiB):
                        yield spb.PutRequest(chunk=data[off : min(off + MiB, cut)])
                    stop.wait(30)  # never a half-close: the host cancels instead
                    raise RuntimeError("cancelled by the test")

                future = client.stub.Put.future(body())
                time.sleep(rng.uniform(0.0, 0.4))
                future.cancel()
                stop.set()
                with pytest.raises((grpc.FutureCancelledError, grpc.RpcError)):
                    future.result(timeout=30)
                scenario.runs += 1
            time.sleep(0.5)  # anything the plugin would (wrongly) commit late is there now
            listed = set(client.list(Resource.PACKFILE))
            assert not listed & set(macs), "a cancelled Put was stored"
            good = rng.randbytes(32)
            client.put(Resource.PACKFILE, good, b"after the cancels")
            assert client.get(Resource.PACKFILE, good) == b"after the cancels"
            proc.close_stdin()
            rc = wait_exit(proc, EXIT_WITHIN)
            assert rc is not None, f"still running {EXIT_WITHIN:.0f}s after stdin closed"
    if backend.present is not None:
        present = {mac for (_, mac) in backend.present()}
        assert not present & set(macs), "a cancelled Put is under its final name"
