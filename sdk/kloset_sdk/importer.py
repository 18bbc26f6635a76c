"""Importer: the author yields records; the SDK handles Import/Open/acks (docs/PROTOCOL.md:
Importer).

    class TreeImporter(Importer[TreeOptions]):
        type_name = "tree"

        def records(self) -> Iterator[Record]:
            yield Record.directory("/", FileInfo("/", mode=0o755))
            yield Record.file("/a.txt", FileInfo("a.txt", size=3, mode=0o644),
                              opener=lambda: io.BytesIO(b"abc"))

Each record's opener is registered under its key before the record is sent (§9 item 13), called
only when the host Opens it, and dropped on ack or Close (§4.3). `finished` is sent after the last
record, then the SDK keeps reading acks until the host half-closes (P8).
"""

from __future__ import annotations

import logging
import threading
from abc import abstractmethod
from collections.abc import Iterator
from typing import Any

import grpc

from ._pb import importer_pb2 as pb
from .chunks import encode_chunk_message, streamed
from .connector import Connector, OptT, Resolver, abort, guarded_stream
from .errors import NotFound
from .records import Opener, Record, key_of
from .servicer import Servicer

log = logging.getLogger(__name__)


class Importer(Connector[OptT]):
    kind = "importer"

    @abstractmethod
    def records(self) -> Iterator[Record]:
        """Yield every record; per-path problems as `Record.failure` (never raise for those)."""

    def ack(self, record: Record, error: str) -> None:
        """Called once per host ack (any order). Override to track progress or commit state."""

    #: Set to True to receive acks through `ack()`; the SDK always uses them to free readers.
    wants_acks = False


class ImporterServicer(Servicer[Importer[Any]], kind="importer", messages=pb):
    def __init__(self, resolve: Resolver, host_gone: threading.Event) -> None:
        super().__init__(resolve, host_gone)
        self._readers: dict[str, Opener] = {}
        self._lock = threading.Lock()

    def on_close(self) -> None:
        with self._lock:
            self._readers.clear()

    #: Open sends its chunks without protobuf objects.
    codecs = {"Open": (None, encode_chunk_message)}

    def Import(
        self, request_iterator: Iterator[pb.ImportRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.ImportResponse]:
        try:
            conn = self.connector("Import")
        except Exception as exc:
            abort(context, exc, "import")
        acks_done = threading.Event()
        ack_count = [0]

        def consume_acks() -> None:
            try:
                for req in request_iterator:
                    ack_count[0] += 1
                    hdr = req.result.header
                    # P14: error records never own a reader; their ack must not free a namesake.
                    if not hdr.error:
                        with self._lock:
                            self._readers.pop(key_of(hdr), None)
                    if conn.wants_acks:
                        try:
                            conn.ack(Record.from_proto(hdr), req.result.error)
                        except Exception:
                            log.exception("ack callback failed for %s", hdr.pathname)
            except grpc.RpcError:
                pass  # the host went away; Import is over either way
            except Exception:
                log.debug("ack stream ended abnormally", exc_info=True)
            finally:
                acks_done.set()

        threading.Thread(target=consume_acks, name="kloset-acks", daemon=True).start()
        sent = 0
        try:
            for rec in conn.records():
                if rec.opener is not None and not rec.error:
                    with self._lock:
                        self._readers[rec.key] = rec.opener
                yield pb.ImportResponse(record=rec.to_proto())
                sent += 1
        except Exception as exc:
            abort(context, exc, "import")
        yield pb.ImportResponse(finished=True)
        log.debug("import: %d records sent, waiting for the host to half-close", sent)
        while not acks_done.wait(0.5):
            if not context.is_active():
                return
        log.debug("import: %d acks received", ack_count[0])

    @guarded_stream("open")
    def Open(  # yields raw chunks: streams() encodes them
        self, request: pb.OpenRequest, context: grpc.ServicerContext
    ) -> Iterator[bytes]:
        key = key_of(request.record)
        with self._lock:
            opener = self._readers.pop(key, None)
        if opener is None:
            raise NotFound(f"open {request.record.pathname}: file does not exist")
        yield from streamed(opener())  # never empty (P6)
