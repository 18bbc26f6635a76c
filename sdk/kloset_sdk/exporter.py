"""Exporter: called once per record with its content as a file object (docs/PROTOCOL.md: Exporter).

    class DirExporter(Exporter[DirOptions]):
        type_name = "dir"

        def export(self, record: Record, content: ChunkStream | None) -> None:
            if record.is_dir: os.makedirs(self.root + record.pathname, exist_ok=True)
            elif content is not None: write_atomically(self.root + record.pathname, content)

`content` yields the record's chunks up to the empty-chunk terminator; if the host stops without
the terminator, reading raises `ProtocolError`, so a writer that commits only after reading to
the end never commits a truncated file. Raise to fail one record (sent as a result error); the
stream goes on. Return a `Future` to finish the record in the background (content must be
consumed before returning). `finish()` runs at the end of every Export stream, after all
futures: the place to fix directory modes and mtimes after their children.
"""

from __future__ import annotations

import logging
import queue
import threading
from abc import abstractmethod
from collections.abc import Iterator
from concurrent.futures import Future, wait
from typing import Any

import grpc

from ._pb import connectors_pb2 as cpb
from ._pb import exporter_pb2 as pb
from .chunks import ChunkStream, _short_varint, announce_first
from .connector import Connector, OptT, abort
from .errors import ProtocolError, status_of
from .records import Record, basename
from .servicer import Servicer

log = logging.getLogger(__name__)
_END = object()


class Exporter(Connector[OptT]):
    kind = "exporter"

    @abstractmethod
    def export(self, record: Record, content: ChunkStream | None) -> Future[None] | None:
        """Write one record. Raise to report a per-record error."""

    def finish(self) -> list[tuple[Record, str]]:
        """End of one Export stream; return (record, error) pairs for late failures."""
        return []


def _result(rec: cpb.Record, error: str = "") -> pb.ExportResponse:
    header = cpb.Record()
    header.CopyFrom(rec)
    if not header.error and not header.isXattr and not header.HasField("fileInfo"):
        header.fileInfo.name = basename(header.pathname)  # the host requires fileInfo (§3.3)
    return pb.ExportResponse(result=cpb.Result(header=header, error=error))


#: One incoming message: a record (or an empty packet) as protobuf, a content chunk as a view.
Incoming = pb.ExportRequest | memoryview


def parse_export_request(raw: bytes) -> Incoming:
    """A chunk message `{bytes chunk = 2}` as a view into `raw` (no protobuf object, no copy).

    Anything else, or a chunk message with more than that one field, goes through protobuf.
    """
    if raw[:1] == b"\x12":
        size, pos = _short_varint(raw, 1, len(raw))
        if size >= 0 and pos + size == len(raw):
            return memoryview(raw)[pos:]
    msg = pb.ExportRequest.FromString(raw)
    return memoryview(msg.chunk) if msg.WhichOneof("packet") == "chunk" else msg


class ExporterServicer(Servicer[Exporter[Any]], kind="exporter", messages=pb):
    #: Export receives its chunks without protobuf objects.
    codecs = {"Export": (parse_export_request, None)}

    def Export(
        self, request_iterator: Iterator[Incoming], context: grpc.ServicerContext
    ) -> Iterator[pb.ExportResponse]:
        try:
            conn = self.connector("Export")
        except Exception as exc:
            abort(context, exc, "export")
        out: queue.Queue[Any] = queue.Queue(maxsize=1024)
        worker = threading.Thread(
            target=self._consume, args=(conn, request_iterator, out), name="kloset-export"
        )
        worker.daemon = True
        worker.start()
        while True:
            item = out.get()
            if item is _END:
                break
            if isinstance(item, tuple) and isinstance(item[1], Future):
                rec, fut = item
                try:
                    fut.result()
                    yield _result(rec)
                except Exception as exc:
                    yield _result(rec, status_of(exc)[1])
            else:
                yield item

    def _consume(
        self,
        conn: Exporter[Any],
        requests: Iterator[Incoming],
        out: queue.Queue[Any],
    ) -> None:
        it = iter(requests)
        pending: list[Incoming] = []
        futures: list[Future[None]] = []  # finish() runs after these, as documented

        def next_request() -> Incoming | None:
            if pending:
                return pending.pop()
            return next(it, None)

        try:
            while True:
                req = next_request()
                if req is None:
                    break
                if isinstance(req, memoryview) or not req.HasField("record"):
                    if isinstance(req, memoryview) and req:
                        out.put(_result(cpb.Record(), "protocol: content chunk without a record"))
                    continue
                rec = req.record
                stream: ChunkStream | None = None
                if rec.hasReader:
                    stream = self._content(rec, next_request, pending)
                try:
                    _check_record(rec)
                    fut = conn.export(Record.from_proto(rec), stream)
                    if stream is not None:
                        stream.drain()
                    if isinstance(fut, Future):
                        if len(futures) >= 1024:
                            futures[:] = [f for f in futures if not f.done()]
                        futures.append(fut)
                        out.put((rec, fut))
                    else:
                        out.put(_result(rec))
                except Exception as exc:
                    out.put(_result(rec, status_of(exc)[1]))
                    if stream is not None:
                        try:
                            stream.drain()
                        except Exception:
                            pass
            wait(futures)
            for rec_obj, err in conn.finish():
                out.put(_result(rec_obj.to_proto(), err))
        except grpc.RpcError:
            log.debug("export stream cancelled by the host")
        except Exception as exc:
            log.error("export stream failed: %s", status_of(exc)[1])
            log.debug("export stream failure", exc_info=True)
        finally:
            out.put(_END)

    @staticmethod
    def _content(
        rec: cpb.Record,
        next_request: Any,
        pending: list[Incoming],
    ) -> ChunkStream:
        done = [False]

        def next_chunk() -> memoryview | None:
            if done[0]:
                return None
            req = next_request()
            if req is None:
                done[0] = True
                raise ProtocolError(
                    f"{rec.pathname}: unexpected EOF (the host ended the stream without the"
                    " end-of-content marker)"
                )
            if isinstance(req, memoryview):
                if not req:
                    done[0] = True
                    return None
                return req
            pending.append(req)
            done[0] = True
            raise ProtocolError(f"{rec.pathname}: next record arrived before end of content")

        return ChunkStream(
            announce_first(
                next_chunk,
                lambda: log.debug("export %s: the exporter is reading content", rec.pathname),
            )
        )


def _check_record(rec: cpb.Record) -> None:
    """Refuse, for every exporter alike, a record no host sends: the connector never sees it.

    An empty path has no place under the target, a NUL byte cannot be in a POSIX or cloud
    name (and truncates it in C APIs), and a record that is neither an xattr nor an error needs
    its fileInfo to say what kind of entry it is (docs/PROTOCOL.md: Records).
    """
    if not rec.pathname:
        raise ProtocolError("protocol: a record with an empty path; not restored")
    if "\x00" in rec.pathname:
        shown = rec.pathname.replace("\x00", "\\x00")
        raise ProtocolError(f"{shown}: a NUL byte in the path; not restored")
    if not rec.isXattr and not rec.error and not rec.HasField("fileInfo"):
        raise ProtocolError(f"{rec.pathname}: a record without fileInfo; not restored")
