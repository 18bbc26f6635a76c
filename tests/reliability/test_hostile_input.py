"""Hostile or broken input from the host: refused with a clear message, and the plugin stays up.

Raw messages are built with the generated stubs and sent through the harness stubs, as a buggy or
malicious host would. Each connector runs in one process per module: every test checks that its
bad call was refused with a clear message, then makes a good call on the same process; a crash
would show up in that follow-up (and in every later test of the connector).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import grpc
import pytest

from kloset_sdk import Resource
from kloset_sdk._pb import connectors_pb2 as cpb
from kloset_sdk._pb import exporter_pb2 as epb
from kloset_sdk._pb import importer_pb2 as ipb
from kloset_sdk._pb import storage_pb2 as spb
from kloset_sdk.harness import ExporterClient, ImporterClient, PluginProcess, StoreClient
from tests.reliability.backends import Backend, make_backend
from tests.reliability.common import (
    MiB,
    Scenario,
    assert_clear,
    plugin_environment,
    rtype,
    status,
)

OK = grpc.StatusCode.OK
TOO_BIG = 4 * MiB + 1
DIR_MODE = 0x80000000 | 0o755


@dataclass
class Live:
    """One plugin process shared by a module's tests for one connector."""

    backend: Backend
    env: dict[str, str]
    log: Any
    proc: PluginProcess
    client: Any
    restarts: int = 0

    def alive(self) -> bool:
        return self.proc.proc.poll() is None

    def stop(self) -> None:
        self.proc.__exit__(None, None, None)
        self.log.close()


def _start(kind: str, connector: str, request: pytest.FixtureRequest, tmp: Path) -> Iterator[Live]:
    backend = make_backend(connector, kind, request, tmp)
    env = plugin_environment(tmp)
    log = open(tmp / "stderr.log", "wb")  # closed by Live.stop
    proc = PluginProcess(backend.argv, env=env, stderr=log)
    client: Any
    if kind == "storage":
        client = StoreClient(proc)
        client.init(backend.config, proto=backend.proto)
        client.create(b"hostile-config")
    elif kind == "exporter":
        client = ExporterClient(proc)
        client.init(backend.config, proto=backend.proto)
    else:
        backend.seed(SOURCE)
        client = ImporterClient(proc)
        client.init(backend.config, proto=backend.proto)
    live = Live(backend, env, log, proc, client)
    yield live
    live.stop()


@pytest.fixture(scope="module", params=["memstore", "fs", "s3", "sftp", "gdrive", "onedrive"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    yield from _start("storage", request.param, request, tmp_path_factory.mktemp("store"))


@pytest.fixture(scope="module", params=["tree", "fs", "s3", "sftp", "gdrive", "onedrive"])
def exporter(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    yield from _start("exporter", request.param, request, tmp_path_factory.mktemp("export"))


@pytest.fixture(scope="module", params=["tree", "fs", "s3", "sftp", "gdrive", "onedrive"])
def importer(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    yield from _start("importer", request.param, request, tmp_path_factory.mktemp("import"))


def refused(fn: Callable[[], Any], *codes: grpc.StatusCode) -> str:
    """Run a call that must fail; return its (clear) message."""
    code, details, _ = status(fn)
    assert code != OK, "the bad call succeeded"
    assert code not in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE), (code, details)
    if codes:
        assert code in codes, (code, details)
    assert_clear(details)
    return details


# -- storage ----------------------------------------------------------------------------------


def store_follow_up(live: Live, scenario: Scenario) -> None:
    """The same process still stores and returns an object."""
    assert live.alive(), "the plugin died"
    c: StoreClient = live.client
    mac = os.urandom(32)
    data = os.urandom(100_000)
    c.put(Resource.PACKFILE, mac, data)
    assert c.get(Resource.PACKFILE, mac) == data
    assert c.get(Resource.PACKFILE, mac, 10, 20) == data[10:30]
    listed = c.list(Resource.PACKFILE)
    assert mac in listed and all(len(m) == 32 for m in listed)
    scenario.runs += 1


def _drain(method: Callable[[Any], Any], request: Any) -> list[Any]:
    return list(method(request))


def raw_put(live: Live, msgs: list[spb.PutRequest]) -> Callable[[], Any]:
    return lambda: live.client.stub.Put(iter(msgs), timeout=60)


def test_put_without_mac(store: Live, scenario: Scenario) -> None:
    """Put without a MAC"""
    refused(raw_put(store, [spb.PutRequest(type=rtype(1)), spb.PutRequest(chunk=b"data")]))
    store_follow_up(store, scenario)


def test_put_with_31_byte_mac(store: Live, scenario: Scenario) -> None:
    """Put with a 31-byte (and a 33-byte) MAC"""
    for n in (31, 33):
        msgs = [spb.PutRequest(mac=os.urandom(n), type=rtype(1)), spb.PutRequest(chunk=b"data")]
        refused(raw_put(store, msgs))
    assert all(len(m) == 32 for m in store.client.list(Resource.PACKFILE))
    store_follow_up(store, scenario)


def test_put_empty_stream(store: Live, scenario: Scenario) -> None:
    """Put stream with no message at all"""
    refused(raw_put(store, []))
    store_follow_up(store, scenario)


def test_put_bad_resource_type(store: Live, scenario: Scenario) -> None:
    """Put, Get and List with resource type 0 (undefined) and 99 (unknown)"""
    for t in (0, 99):
        msgs = [spb.PutRequest(mac=os.urandom(32), type=rtype(t)), spb.PutRequest(chunk=b"data")]
        refused(raw_put(store, msgs))
        get = spb.GetRequest(mac=os.urandom(32), type=rtype(t))
        refused(partial(_drain, store.client.stub.Get, get))
        refused(partial(store.client.stub.List, spb.ListRequest(type=rtype(t)), timeout=60))
    store_follow_up(store, scenario)


def test_put_mac_repeated_in_data(store: Live, scenario: Scenario) -> None:
    """Put whose data messages carry a MAC and type again"""
    mac = os.urandom(32)
    msgs = [
        spb.PutRequest(mac=mac, type=rtype(1)),
        spb.PutRequest(chunk=b"data"),
        spb.PutRequest(mac=os.urandom(32), type=rtype(2), chunk=b"more"),
    ]
    refused(raw_put(store, msgs))
    assert mac not in store.client.list(Resource.PACKFILE), "a refused Put was stored"
    store_follow_up(store, scenario)


def test_put_chunk_over_4mib(store: Live, scenario: Scenario) -> None:
    """Put with a chunk over the 4 MiB message limit"""
    mac = os.urandom(32)
    msgs = [spb.PutRequest(mac=mac, type=rtype(1)), spb.PutRequest(chunk=b"x" * TOO_BIG)]
    refused(raw_put(store, msgs), grpc.StatusCode.RESOURCE_EXHAUSTED)
    assert mac not in store.client.list(Resource.PACKFILE), "a refused Put was stored"
    store_follow_up(store, scenario)


def test_get_range_past_end(store: Live, scenario: Scenario) -> None:
    """Get with ranges past the end of the object"""
    c: StoreClient = store.client
    mac = os.urandom(32)
    c.put(Resource.STATE, mac, b"0123456789")
    for offset, length in ((5, 100), (10, 1), (100, 1), (2**63, 1), (0, 2**32 - 1)):
        refused(partial(c.get, Resource.STATE, mac, offset, length))
    assert c.get(Resource.STATE, mac) == b"0123456789"
    store_follow_up(store, scenario)


def test_get_unknown_mac(store: Live, scenario: Scenario) -> None:
    """Get of an unknown MAC, and of a 31-byte MAC"""
    c: StoreClient = store.client
    msg = refused(
        lambda: c.get(Resource.PACKFILE, os.urandom(32)),
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    scenario.note(f"unknown MAC: {msg[:80]}")
    refused(lambda: c.get(Resource.PACKFILE, os.urandom(31)))
    store_follow_up(store, scenario)


def test_delete_unknown_mac(store: Live, scenario: Scenario) -> None:
    """Delete of an unknown MAC and of a 31-byte MAC"""
    c: StoreClient = store.client
    code, details, _ = status(lambda: c.delete(Resource.PACKFILE, os.urandom(32)))
    if code != OK:  # backends differ (fs fails, s3 succeeds): either way, a clear answer
        assert_clear(details)
    scenario.note(f"unknown MAC: {code.name}")
    refused(lambda: c.delete(Resource.PACKFILE, os.urandom(31)))
    store_follow_up(store, scenario)


def test_create_twice(store: Live, scenario: Scenario) -> None:
    """Create on a location that already holds a repository"""
    refused(lambda: store.client.create(b"another-config"))
    assert store.client.open() == b"hostile-config"
    store_follow_up(store, scenario)


def test_init_message_over_4mib(store: Live, scenario: Scenario) -> None:
    """Init with a config over the 4 MiB message limit"""
    config = dict(store.backend.config)
    config["location"] = config["location"] + "x" * TOO_BIG
    refused(
        lambda: store.client.init(config, proto=store.backend.proto),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    )
    store_follow_up(store, scenario)


@pytest.mark.parametrize("kind", ["storage", "exporter", "importer"])
def test_calls_before_init(kind: str, tmp_path: Path, scenario: Scenario) -> None:
    """{kind} calls before Init"""
    from tests.conftest import example_argv

    argv = example_argv("memstore") if kind == "storage" else example_argv("tree", kind)
    with PluginProcess(argv, env=plugin_environment(tmp_path)) as proc:
        if kind == "storage":
            c = StoreClient(proc)
            refused(lambda: c.put(Resource.PACKFILE, os.urandom(32), b"x"))
            refused(lambda: c.get(Resource.PACKFILE, os.urandom(32)))
            refused(lambda: c.list(Resource.PACKFILE))
            refused(lambda: c.open())
            c.init({"location": "mem://x"}, proto="mem")
            c.create(b"c")
        elif kind == "exporter":
            e = ExporterClient(proc)
            refused(lambda: e.export_raw([epb.ExportRequest(record=cpb.Record(pathname="/"))]))
            e.init({"location": f"tree://{tmp_path}"}, proto="tree")
        else:
            i = ImporterClient(proc)
            refused(lambda: i.scan())
            refused(lambda: list(i.open(cpb.Record(pathname="/x"))))
            i.init({"location": f"tree://{tmp_path}"}, proto="tree")
            i.scan()
        assert proc.proc.poll() is None
    scenario.runs += 1


# -- exporter ---------------------------------------------------------------------------------


def _dir(path: str) -> epb.ExportRequest:
    name = path.rsplit("/", 1)[-1] or "/"
    return epb.ExportRequest(
        record=cpb.Record(pathname=path, fileInfo=cpb.FileInfo(name=name, mode=DIR_MODE))
    )


def _file(path: str, size: int = 0, info: bool = True) -> epb.ExportRequest:
    rec = cpb.Record(pathname=path, hasReader=True)
    if info:
        rec.fileInfo.CopyFrom(cpb.FileInfo(name=path.rsplit("/", 1)[-1], mode=0o644, size=size))
    return epb.ExportRequest(record=rec)


def _chunk(data: bytes) -> epb.ExportRequest:
    return epb.ExportRequest(chunk=data)


def export(live: Live, msgs: list[epb.ExportRequest]) -> list[tuple[str, str]]:
    """Run one Export; (pathname, error) of every result."""
    run = live.client.export_raw(msgs)
    return [(r.pathname, e) for r, e in run.results]


def export_follow_up(live: Live, scenario: Scenario) -> None:
    """The same process still restores a file, with the right bytes under the right name."""
    assert live.alive(), "the plugin died"
    name = f"ok-{uuid.uuid4().hex[:8]}.bin"
    data = os.urandom(300_000)
    results = export(live, [_dir("/"), _file(f"/{name}", len(data)), _chunk(data), _chunk(b"")])
    assert all(not e for _, e in results), results
    assert live.backend.files is not None
    files = live.backend.files()
    assert files.get(f"/{name}") == data, sorted(files)
    scenario.runs += 1


def test_export_paths_escaping_the_target(exporter: Live, scenario: Scenario) -> None:
    """Export records whose paths escape the target"""
    marker = f"escape-{uuid.uuid4().hex[:8]}"
    paths = [
        f"/../{marker}-1",
        f"/a/../../{marker}-2",
        f"/../../../../../../tmp/{marker}-3",
        f"../{marker}-4",
        f"/./../{marker}-5",
        f"/..//{marker}-6",
    ]
    msgs = [_dir("/")]
    for p in paths:
        msgs += [_file(p, 3), _chunk(b"abc"), _chunk(b"")]
    results = dict(export(exporter, msgs))
    for p in paths:
        assert results.get(p), f"{p}: no result error ({results.get(p)!r})"
        assert_clear(results[p])
    found = exporter.backend.anywhere(marker)
    assert not found, f"written although refused: {found}"
    export_follow_up(exporter, scenario)


def test_export_chunk_without_record(exporter: Live, scenario: Scenario) -> None:
    """Export content chunks without a record"""
    results = export(exporter, [_chunk(b"orphan"), _chunk(b""), _dir("/"), _chunk(b"orphan 2")])
    errors = [e for _, e in results if e]
    assert errors, f"no result error: {results}"
    for e in errors:
        assert_clear(e)
    export_follow_up(exporter, scenario)


def test_export_without_terminator(exporter: Live, scenario: Scenario) -> None:
    """Export stream ending without the end-of-content terminator"""
    name = f"/cut-{uuid.uuid4().hex[:8]}.bin"
    results = dict(export(exporter, [_dir("/"), _file(name, 10), _chunk(b"01234")]))
    assert results.get(name), f"{name}: no result error ({results})"
    assert_clear(results[name])
    assert exporter.backend.files is not None
    assert name not in exporter.backend.files(), "a truncated file has its final name"
    export_follow_up(exporter, scenario)


def test_export_next_record_before_terminator(exporter: Live, scenario: Scenario) -> None:
    """Export: the next record arrives before the previous file's terminator"""
    a, b = f"/a-{uuid.uuid4().hex[:8]}", f"/b-{uuid.uuid4().hex[:8]}"
    msgs = [_dir("/"), _file(a, 10), _chunk(b"01234"), _file(b, 3), _chunk(b"xyz"), _chunk(b"")]
    results = dict(export(exporter, msgs))
    assert results.get(a), f"{a}: no result error ({results})"
    assert_clear(results[a])
    assert exporter.backend.files is not None
    assert a not in exporter.backend.files(), "a truncated file has its final name"
    export_follow_up(exporter, scenario)


def test_export_record_without_fileinfo(exporter: Live, scenario: Scenario) -> None:
    """Export records without fileInfo, with an empty path, and with a NUL byte in the path"""
    marker = uuid.uuid4().hex[:8]
    cases = [  # (the bad record, words one of which the refusal must contain)
        (_file(f"/noinfo-{marker}", info=False), ("fileinfo", "file info")),
        (_file("", 3), ("empty path",)),
        (_file(f"/nul-{marker}\x00.txt", 3), ("nul",)),
    ]
    for bad, words in cases:
        path = bad.record.pathname
        msgs = [_dir("/"), bad, _chunk(b"abc"), _chunk(b"")]
        code, details, run = status(partial(exporter.client.export_raw, msgs))
        if code != OK:  # the whole stream refused: its status names the problem
            message = details
        else:
            assert run is not None
            errors = [e for r, e in run.results if r.pathname == path]
            assert errors and errors[0], f"{path!r}: accepted ({run.results})"
            message = errors[0]
        assert_clear(message)
        assert any(w in message.lower() for w in words), f"{path!r}: refused as {message!r}"
    found = exporter.backend.anywhere(marker)
    assert not found, f"a refused record was written: {found}"
    export_follow_up(exporter, scenario)


def test_export_chunk_over_4mib(exporter: Live, scenario: Scenario) -> None:
    """Export with a chunk over the 4 MiB message limit"""
    name = f"/big-{uuid.uuid4().hex[:8]}"
    msgs = [_dir("/"), _file(name, TOO_BIG), _chunk(b"x" * TOO_BIG), _chunk(b"")]
    refused(lambda: exporter.client.export_raw(msgs), grpc.StatusCode.RESOURCE_EXHAUSTED)
    assert exporter.backend.files is not None
    assert name not in exporter.backend.files()
    export_follow_up(exporter, scenario)


# -- importer ---------------------------------------------------------------------------------

SOURCE = {
    "/hello.txt": b"hello, world\n",
    "/sub/data.bin": bytes(range(256)) * 1000,
    "/sub/deeper/empty": b"",
}


def import_follow_up(live: Live, scenario: Scenario) -> None:
    """The same process still runs a whole Import with the right content."""
    assert live.alive(), "the plugin died"
    run = live.client.scan(keep_data=True)
    assert run.finished
    got = {r.record.pathname: r for r in run.records if not r.record.is_xattr}
    for path, data in SOURCE.items():
        match = [r for p, r in got.items() if p.endswith(path)]
        assert match, f"{path} not imported: {sorted(got)}"
        assert not match[0].open_error, match[0].open_error
        if data:
            assert match[0].data == data, path
    scenario.runs += 1


def _open(live: Live, pathname: str, **kw: Any) -> Callable[[], list[bytes]]:
    req = ipb.OpenRequest(record=cpb.Record(pathname=pathname, **kw))
    return lambda: [r.chunk for r in live.client.stub.Open(req, timeout=60)]


def test_open_unknown_keys(importer: Live, scenario: Scenario) -> None:
    """Open of unknown keys, of paths outside the source, and of xattrs never sent"""
    for pathname, kw in (
        ("/nope", {}),
        ("/etc/passwd", {}),
        ("/../../../../etc/passwd", {}),
        ("", {}),
        ("/hello.txt", {"isXattr": True, "xattrName": "user.x"}),
    ):
        refused(_open(importer, pathname, **kw))
    import_follow_up(importer, scenario)


def test_open_twice(importer: Live, scenario: Scenario) -> None:
    """A second Open of the same record"""
    session = importer.client.session()
    records = list(session)
    target = next(r for r in records if r.pathname.endswith("/hello.txt"))
    assert b"".join(importer.client.open(target)) == SOURCE["/hello.txt"]
    refused(lambda: b"".join(importer.client.open(target)))
    for r in records:
        session.ack(r)
    session.end()
    import_follow_up(importer, scenario)


def test_acks_for_records_never_sent(importer: Live, scenario: Scenario) -> None:
    """Acks for records never sent, acks without a header, requests without a result"""

    def requests() -> Iterator[ipb.ImportRequest]:
        for i in range(20):
            hdr = cpb.Record(pathname=f"/never/sent/{i}", isXattr=i % 2 == 0, xattrName="x")
            yield ipb.ImportRequest(result=cpb.Result(header=hdr, error="bogus"))
        yield ipb.ImportRequest(result=cpb.Result())
        yield ipb.ImportRequest()

    responses = list(importer.client.stub.Import(requests(), timeout=120))
    assert responses and responses[-1].finished
    import_follow_up(importer, scenario)


def test_ack_before_record_frees_nothing_else(importer: Live, scenario: Scenario) -> None:
    """Acks for a record that is sent only later, during a real Import"""
    session = importer.client.session()
    fake = cpb.Record(pathname="/whatever")
    session._acks.put(ipb.ImportRequest(result=cpb.Result(header=fake)))
    records = list(session)
    for r in records:
        if r.has_reader and not r.error and not r.is_xattr:
            data = b"".join(importer.client.open(r))
            rel = next((p for p in SOURCE if r.pathname.endswith(p)), None)
            if rel is not None:
                assert data == SOURCE[rel]
        session.ack(r)
    session.end()
    import_follow_up(importer, scenario)


def test_open_message_over_4mib(importer: Live, scenario: Scenario) -> None:
    """Open with a message over the 4 MiB limit"""
    refused(_open(importer, "/" + "x" * TOO_BIG), grpc.StatusCode.RESOURCE_EXHAUSTED)
    import_follow_up(importer, scenario)
