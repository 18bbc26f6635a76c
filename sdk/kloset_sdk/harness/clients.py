"""Typed host-side clients for the three services, speaking to a PluginProcess (or any channel).

They behave like Plakar's host (integration-grpc): 1 MiB chunks, acks for every record, the
empty-chunk terminator, half-close at the end, and the 4 MiB receive limit.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import grpc

from .._pb import connectors_pb2 as cpb
from .._pb import exporter_pb2 as epb
from .._pb import exporter_pb2_grpc as egrpc
from .._pb import importer_pb2 as ipb
from .._pb import importer_pb2_grpc as igrpc
from .._pb import storage_pb2 as spb
from .._pb import storage_pb2_grpc as sgrpc
from ..chunks import CHUNK_SIZE, iter_chunks
from ..connector import Identity
from ..layout import Resource
from ..location import Flag
from ..records import Record
from .process import PluginProcess

_END = object()


def _channel(target: PluginProcess | grpc.Channel) -> grpc.Channel:
    return target.channel if isinstance(target, PluginProcess) else target


def _identity(resp: Any) -> Identity:
    return Identity(resp.origin, resp.type, resp.root, Flag(resp.flags))


def _options(cls: Any, maxconcurrency: int, excludes: Iterable[str], cwd: str) -> Any:
    import os
    import platform
    import socket

    return cls(
        hostname=socket.gethostname() or "localhost",
        os="linux",
        arch={"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine()),
        cwd=cwd or os.getcwd(),
        maxconcurrency=maxconcurrency,
        excludes=list(excludes),
    )


class _Client:
    """What the three clients share: the Init request as the host builds it, Ping and Close."""

    close_timeout = 60.0

    def __init__(self, stub: Any, messages: Any) -> None:
        self.stub = stub
        self._pb = messages

    def _init(
        self, config: Mapping[str, str], proto: str, timeout: float | None, **extra: Any
    ) -> Identity:
        req = self._pb.InitRequest(
            proto=proto or str(config.get("location", "")).split(":", 1)[0],
            config=dict(config),
            **extra,
        )
        return _identity(self.stub.Init(req, timeout=timeout))

    def ping(self) -> None:
        self.stub.Ping(self._pb.PingRequest(), timeout=60)

    def close(self) -> None:
        self.stub.Close(self._pb.CloseRequest(), timeout=self.close_timeout)


@dataclass
class Imported:
    record: Record
    sha256: str = ""
    read: int = 0
    open_error: str = ""
    data: bytes | None = None


@dataclass
class ImportRun:
    identity: Identity
    records: list[Imported] = field(default_factory=list)
    finished: bool = False

    def by_path(self) -> dict[str, Imported]:
        return {r.record.pathname: r for r in self.records if not r.record.is_xattr}

    def xattrs(self) -> dict[tuple[str, str], Imported]:
        return {
            (r.record.pathname, r.record.xattr_name): r for r in self.records if r.record.is_xattr
        }

    @property
    def errors(self) -> list[Imported]:
        return [r for r in self.records if r.record.error or r.open_error]


class ImporterClient(_Client):
    stub: igrpc.ImporterStub

    def __init__(self, target: PluginProcess | grpc.Channel) -> None:
        super().__init__(igrpc.ImporterStub(_channel(target)), ipb)
        self.maxconcurrency = 8

    def init(
        self,
        config: Mapping[str, str],
        proto: str = "",
        maxconcurrency: int = 8,
        excludes: Iterable[str] = (),
        cwd: str = "",
        timeout: float | None = 60,
    ) -> Identity:
        self.maxconcurrency = maxconcurrency
        options = _options(ipb.Options, maxconcurrency, excludes, cwd)
        return self._init(config, proto, timeout, options=options)

    def open(self, record: Record | cpb.Record) -> Iterator[bytes]:
        """Stream a record's content; only the key fields are sent, as the host does (§4.4)."""
        rec = record.to_proto() if isinstance(record, Record) else record
        req = ipb.OpenRequest(
            record=cpb.Record(
                pathname=rec.pathname,
                isXattr=rec.isXattr,
                xattrName=rec.xattrName,
                xattrType=rec.xattrType,
                target=rec.target,
            )
        )
        call = self.stub.Open(req)
        try:
            for resp in call:
                if not resp.chunk:
                    raise AssertionError(f"{rec.pathname}: empty Open chunk (P6)")
                if len(resp.chunk) > CHUNK_SIZE:
                    raise AssertionError(f"{rec.pathname}: Open chunk over 1 MiB (§1.4)")
                yield resp.chunk
        finally:
            call.cancel()  # the host cancels after reading (§4.4)

    def session(self) -> ImportSession:
        return ImportSession(self)

    def scan(
        self,
        read: bool = True,
        keep_data: bool = False,
        jobs: int | None = None,
        on_record: Callable[[Imported], None] | None = None,
    ) -> ImportRun:
        """Run a whole Import as the host does: open every regular file/xattr, ack everything."""
        run = ImportRun(identity=Identity("", "", ""))
        sess = self.session()
        lock = threading.Lock()
        pool = ThreadPoolExecutor(max_workers=jobs or self.maxconcurrency)
        futures = []

        def handle(rec: Record) -> None:
            item = Imported(rec)
            if read and rec.has_reader and not rec.error:
                h = hashlib.sha256()
                parts: list[bytes] = []
                try:
                    for chunk in self.open(rec):
                        h.update(chunk)
                        item.read += len(chunk)
                        if keep_data:
                            parts.append(chunk)
                    item.sha256 = h.hexdigest()
                    if keep_data:
                        item.data = b"".join(parts)
                except grpc.RpcError as exc:
                    item.open_error = exc.details() or str(exc.code())
            with lock:
                run.records.append(item)
            if on_record is not None:
                on_record(item)
            sess.ack(rec, item.open_error)

        try:
            for rec in sess:
                futures.append(pool.submit(handle, rec))
            for f in futures:
                f.result()
        finally:
            pool.shutdown(wait=True)
            sess.end()
        run.finished = sess.finished
        return run


class ImportSession:
    """One Import stream: iterate records, ack each (any order), then `end()`."""

    def __init__(self, client: ImporterClient) -> None:
        self._acks: queue.Queue[Any] = queue.Queue()
        self._call = client.stub.Import(self._requests())
        self.finished = False
        self._ended = False

    def _requests(self) -> Iterator[ipb.ImportRequest]:
        while True:
            item = self._acks.get()
            if item is _END:
                return
            yield item

    def __iter__(self) -> Iterator[Record]:
        for resp in self._call:
            if resp.finished:
                self.finished = True
                return
            if not resp.HasField("record"):
                raise AssertionError("Import response with neither record nor finished")
            yield Record.from_proto(resp.record)

    def ack(self, record: Record, error: str = "") -> None:
        hdr = record.to_proto()
        self._acks.put(ipb.ImportRequest(result=cpb.Result(header=hdr, error=error)))

    def end(self) -> None:
        """Half-close and drain until the plugin ends the call with OK (P8)."""
        if self._ended:
            return
        self._ended = True
        self._acks.put(_END)
        for _ in self._call:
            pass


@dataclass
class ExportRun:
    identity: Identity | None
    results: list[tuple[Record, str]] = field(default_factory=list)

    @property
    def errors(self) -> list[tuple[str, str]]:
        return [(r.pathname, e) for r, e in self.results if e]


Content = bytes | Iterable[bytes] | None


class ExporterClient(_Client):
    stub: egrpc.ExporterStub

    def __init__(self, target: PluginProcess | grpc.Channel) -> None:
        super().__init__(egrpc.ExporterStub(_channel(target)), epb)

    def init(
        self,
        config: Mapping[str, str],
        proto: str = "",
        maxconcurrency: int = 8,
        cwd: str = "",
        timeout: float | None = 60,
    ) -> Identity:
        options = _options(epb.Options, maxconcurrency, (), cwd)
        return self._init(config, proto, timeout, options=options)

    def export(self, items: Iterable[tuple[Record, Content]]) -> ExportRun:
        """Send records and their content in order, as kloset's export walk does (§5.2)."""

        def requests() -> Iterator[epb.ExportRequest]:
            for rec, content in items:
                pr = rec.to_proto()
                pr.hasReader = content is not None and (rec.is_xattr or rec.is_regular)
                yield epb.ExportRequest(record=pr)
                if pr.hasReader:
                    for chunk in iter_chunks(content, CHUNK_SIZE):
                        yield epb.ExportRequest(chunk=chunk)
                    yield epb.ExportRequest(chunk=b"")

        return self.export_raw(requests())

    def export_raw(self, requests: Iterable[epb.ExportRequest]) -> ExportRun:
        run = ExportRun(identity=None)
        for resp in self.stub.Export(iter(requests)):
            if not resp.HasField("result") or not resp.result.HasField("header"):
                raise AssertionError("Export result without header")
            hdr = resp.result.header
            if not hdr.error and not hdr.isXattr and not hdr.HasField("fileInfo"):
                raise AssertionError(f"{hdr.pathname}: result header without fileInfo")
            run.results.append((Record.from_proto(hdr), resp.result.error))
        return run


class StoreClient(_Client):
    stub: sgrpc.StoreStub
    close_timeout = 120.0  # a store may flush on Close

    def __init__(self, target: PluginProcess | grpc.Channel) -> None:
        super().__init__(sgrpc.StoreStub(_channel(target)), spb)

    def init(self, config: Mapping[str, str], proto: str = "", timeout: float = 60) -> Identity:
        return self._init(config, proto, timeout)

    def create(self, config: bytes) -> None:
        self.stub.Create(spb.CreateRequest(config=config), timeout=120)

    def open(self) -> bytes:
        return bytes(self.stub.Open(spb.OpenRequest(), timeout=120).config)

    def mode(self) -> int:
        return int(self.stub.Mode(spb.ModeRequest(), timeout=60).mode)

    def size(self) -> int:
        return int(self.stub.Size(spb.SizeRequest(), timeout=600).size)

    def list(self, res: Resource) -> list[bytes]:
        return list(self.stub.List(spb.ListRequest(type=int(res)), timeout=600).macs)  # type: ignore[arg-type]

    def put(self, res: Resource, mac: bytes, data: bytes | Iterable[bytes], flags: int = 0) -> int:
        def requests() -> Iterator[spb.PutRequest]:
            yield spb.PutRequest(mac=mac, type=int(res), flags=flags)  # type: ignore[arg-type]
            for chunk in iter_chunks(data, CHUNK_SIZE):
                yield spb.PutRequest(chunk=chunk)

        return int(self.stub.Put(requests()).bytes_written)

    def get_iter(
        self, res: Resource, mac: bytes, offset: int | None = None, length: int | None = None
    ) -> Iterator[bytes]:
        req = spb.GetRequest(mac=mac, type=int(res))  # type: ignore[arg-type]
        if offset is not None:
            req.range.offset = offset
            req.range.length = length or 0
        for resp in self.stub.Get(req):
            yield resp.chunk

    def get(
        self, res: Resource, mac: bytes, offset: int | None = None, length: int | None = None
    ) -> bytes:
        return b"".join(self.get_iter(res, mac, offset, length))

    def delete(self, res: Resource, mac: bytes) -> None:
        self.stub.Delete(spb.DeleteRequest(mac=mac, type=int(res)), timeout=120)  # type: ignore[arg-type]
