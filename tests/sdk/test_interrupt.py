"""Ctrl-C reaches a plugin's whole process group: it stops quietly, exits 130, commits nothing.

Each plugin runs in its own session (`setsid`), so its process id is its group id and
`killpg(SIGINT)` reaches the server and the SDK's forked relay child, as a terminal's Ctrl-C
does. The call in flight is cut mid-content, then the host goes on sending the rest and a
half-close, which must not turn the interrupted Put or file into a committed one.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from kloset_sdk import FileInfo, Record
from kloset_sdk._pb import exporter_pb2 as epb
from kloset_sdk.harness import ExporterClient, PluginProcess, StoreClient
from kloset_sdk.layout import Resource
from tests.conftest import example_argv, plugin_argv

MiB = 1 << 20
SETSID = shutil.which("setsid")
pytestmark = pytest.mark.skipif(SETSID is None, reason="needs setsid (util-linux)")
RELAYS = ["fork", "thread"]


def _spawn(argv: list[str], err: IO[Any], relay: str) -> PluginProcess:
    env = dict(os.environ)
    env.pop("KLOSET_LOG", None)
    if relay == "thread":
        env["KLOSET_SDK_RELAY"] = "thread"
    assert SETSID is not None
    return PluginProcess([SETSID, *argv], env=env, stderr=err)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _interrupted(proc: PluginProcess, err: IO[Any], run: Callable[[], object]) -> str:
    """Run `run` (which sends SIGINT mid-call) on a thread; check exit 130, return stderr."""
    pgid = proc.proc.pid
    outcome: list[object] = []
    t = threading.Thread(target=lambda: outcome.append(_capture(run)), daemon=True)
    t.start()
    rc = proc.proc.wait(30)
    t.join(30)
    deadline = time.monotonic() + 10
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    err.seek(0)
    text = err.read()
    assert rc == 130, (rc, text[-3000:])
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text[-3000:]
    assert text == "", text[-3000:]
    assert not _group_alive(pgid), "the relay child outlived the interrupt"
    assert outcome and isinstance(outcome[0], Exception), f"the call completed: {outcome}"
    proc.close()
    return text


def _capture(run: Callable[[], object]) -> object:
    try:
        return run()
    except Exception as exc:  # the interrupted call is expected to fail
        return exc


def _interrupt_then_finish(pgid: int, first: list[Any], rest: list[Any]) -> Iterator[Any]:
    """Requests: `first`, SIGINT to the group, then (after a pause) `rest` and a half-close."""
    yield from first
    time.sleep(0.5)
    os.killpg(pgid, signal.SIGINT)
    time.sleep(1.5)
    yield from rest


@pytest.mark.parametrize("relay", RELAYS)
def test_sigint_mid_put_exits_130_and_commits_nothing(tmp_path: Path, relay: str) -> None:
    repo = tmp_path / "repo"
    with open(tmp_path / "stderr", "w+") as err:
        proc = _spawn(plugin_argv("fs", "storage"), err, relay)
        store = StoreClient(proc)
        store.init({"location": f"posixfs://{repo}"}, proto="posixfs")
        store.create(b"_KLOSET_" + os.urandom(100))
        mac = os.urandom(32)
        chunks = _interrupt_then_finish(proc.proc.pid, [os.urandom(MiB)], [b"tail"])
        _interrupted(proc, err, lambda: store.put(Resource.PACKFILE, mac, chunks))
    left = sorted(str(p.relative_to(repo)) for p in repo.rglob("*") if p.is_file())
    assert left == ["CONFIG"], left  # no packfile, no temporary file


@pytest.mark.parametrize("relay", RELAYS)
def test_sigint_mid_export_leaves_no_file(tmp_path: Path, relay: str) -> None:
    dst = tmp_path / "dst"
    with open(tmp_path / "stderr", "w+") as err:
        proc = _spawn(plugin_argv("fs", "exporter"), err, relay)
        client = ExporterClient(proc)
        client.init({"location": f"posixfs://{dst}"}, proto="posixfs")
        root = Record.directory("/", FileInfo("/", mode=0o755)).to_proto()
        rec = Record.file("/big.bin", FileInfo("big.bin", 2 * MiB, 0o644), lambda: b"").to_proto()
        rec.hasReader = True
        first = [epb.ExportRequest(record=root), epb.ExportRequest(record=rec)]
        first.append(epb.ExportRequest(chunk=os.urandom(MiB)))
        rest = [epb.ExportRequest(chunk=os.urandom(MiB)), epb.ExportRequest(chunk=b"")]
        reqs = _interrupt_then_finish(proc.proc.pid, first, rest)
        _interrupted(proc, err, lambda: client.export_raw(reqs))
    assert not dst.exists() or list(dst.iterdir()) == [], list(dst.iterdir())


def test_sigint_idle_example_plugin_exits_130_quietly(tmp_path: Path) -> None:
    """An example plugin (served through `kloset_sdk.serve`) waiting for the next call."""
    with open(tmp_path / "stderr", "w+") as err:
        proc = _spawn(example_argv("memstore"), err, "fork")
        store = StoreClient(proc)
        store.init({"location": "mem://x"}, proto="mem")
        os.killpg(proc.proc.pid, signal.SIGINT)
        _interrupted(proc, err, lambda: store.stub.Ping(_ping(), timeout=60))


def _ping() -> Any:
    from kloset_sdk._pb import storage_pb2 as spb

    time.sleep(2)  # after the interrupt: the plugin is gone by now
    return spb.PingRequest()


def test_sigint_while_starting_is_quiet(tmp_path: Path) -> None:
    """Ctrl-C while the plugin still imports its integration: no traceback either."""
    with open(tmp_path / "stderr", "w+") as err:
        assert SETSID is not None
        code = (
            "import sys, os, signal\n"
            "sys.argv = ['plugin', 'fs', 'storage']\n"
            "from kloset_sdk import plugin\n"
            "import kloset_sdk.registry as r\n"
            "real = r.serve_integration\n"
            "def slow(name, kind):\n"
            "    os.kill(os.getpid(), signal.SIGINT)\n"
            "    import time; time.sleep(5)\n"
            "    real(name, kind)\n"
            "r.serve_integration = slow\n"
            "plugin.main()\n"
        )
        proc = PluginProcess([SETSID, sys.executable, "-c", code], stderr=err)
        rc = proc.proc.wait(30)
        proc.close()
        err.seek(0)
        text = err.read()
    assert rc == 130 and text == "", (rc, text[-3000:])
