"""Storage: a repository backend (docs/PROTOCOL.md: Storage).

    class MemStorage(Storage[MemOptions]):
        type_name = "mem"

        def create(self, config: bytes) -> None: ...
        def open(self) -> bytes: ...
        def list(self, res: Resource) -> Iterable[bytes]: ...
        def put(self, res, mac, data: ChunkStream, flags: int) -> int: ...   # commit at EOF only
        def get(self, res, mac, offset: int | None, length: int | None) -> Content: ...
        def delete(self, res, mac) -> None: ...

Put receives the data as a file object that ends at the host's half-close and raises if the
host goes away first, so an implementation that writes to a temporary name and commits after
reading to the end never exposes a partial object (§6.5, P15). Get raises `NotFound` for an
unknown MAC (§9 item 38); the SDK chunks whatever it returns and enforces the requested range.
"""

from __future__ import annotations

import logging
import queue
import threading
from abc import abstractmethod
from collections.abc import Iterable, Iterator
from typing import Any

import grpc

from ._pb import storage_pb2 as pb
from .chunks import (
    CHUNK_SIZE,
    MAX_MESSAGE,
    ChunkStream,
    PutMessage,
    announce_first,
    encode_chunk_message,
    parse_put_request,
    streamed,
)
from .connector import Connector, OptT, guarded, guarded_stream
from .errors import Fatal, ProtocolError
from .layout import MAC_SIZE, Resource, check_mac, resource
from .records import Content
from .servicer import Servicer

log = logging.getLogger(__name__)

MODE_READ = 4
MODE_WRITE = 2
MAX_LISTED_MACS = (MAX_MESSAGE - 64) // (MAC_SIZE + 2)
#: Put chunks received ahead of the store (at most PREFETCH MiB buffered per Put).
PREFETCH = 4


class Storage(Connector[OptT]):
    kind = "storage"

    @abstractmethod
    def create(self, config: bytes) -> None:
        """Initialise an empty location and persist `config` unchanged; refuse a non-empty one."""

    @abstractmethod
    def open(self) -> bytes:
        """Return the bytes given to create()."""

    def mode(self) -> int:
        return MODE_READ | MODE_WRITE

    def size(self) -> int:
        return -1

    @abstractmethod
    def list(self, res: Resource) -> Iterable[bytes]:
        """MACs (32 raw bytes) of every object of that resource."""

    @abstractmethod
    def put(self, res: Resource, mac: bytes, data: ChunkStream, flags: int) -> int:
        """Store all of `data` under mac, atomically, only once data reached EOF."""

    @abstractmethod
    def get(self, res: Resource, mac: bytes, offset: int | None, length: int | None) -> Content:
        """Whole object (offset None) or exactly `length` bytes from `offset`."""

    @abstractmethod
    def delete(self, res: Resource, mac: bytes) -> None: ...


class StorageServicer(Servicer[Storage[Any]], kind="storage", messages=pb):
    #: Put and Get move their chunks without protobuf objects.
    codecs = {
        "Put": (parse_put_request, None),
        "Get": (None, encode_chunk_message),
    }

    @guarded("create")
    def Create(self, request: pb.CreateRequest, context: grpc.ServicerContext) -> pb.CreateResponse:
        self.connector("Create").create(bytes(request.config))
        return pb.CreateResponse()

    @guarded("open")
    def Open(self, request: pb.OpenRequest, context: grpc.ServicerContext) -> pb.OpenResponse:
        return pb.OpenResponse(config=self.connector("Open").open())

    @guarded("mode")
    def Mode(self, request: pb.ModeRequest, context: grpc.ServicerContext) -> pb.ModeResponse:
        return pb.ModeResponse(mode=self.connector("Mode").mode())

    @guarded("size")
    def Size(self, request: pb.SizeRequest, context: grpc.ServicerContext) -> pb.SizeResponse:
        return pb.SizeResponse(size=self.connector("Size").size())

    @guarded("list")
    def List(self, request: pb.ListRequest, context: grpc.ServicerContext) -> pb.ListResponse:
        res = resource(request.type)
        macs = []
        for mac in self.connector("List").list(res):
            if len(mac) != MAC_SIZE:
                raise Fatal(f"list {res.name.lower()}: backend returned a {len(mac)}-byte MAC")
            macs.append(mac)
            if len(macs) > MAX_LISTED_MACS:
                raise Fatal(
                    f"list {res.name.lower()}: more than {MAX_LISTED_MACS} objects do not fit in"
                    " one 4 MiB answer (protocol limit, P12)"
                )
        return pb.ListResponse(macs=macs)

    @guarded("put")
    def Put(  # requests are parsed by chunks.parse_put_request (see streams)
        self, request_iterator: Iterator[PutMessage], context: grpc.ServicerContext
    ) -> pb.PutResponse:
        it = iter(request_iterator)
        first = next(it, None)
        if first is None:
            raise ProtocolError("put: empty stream (no mac/type message)")
        mac = check_mac(bytes(first.mac))
        res = resource(first.type)
        incoming = _Incoming(it, context, self.host_gone)
        data = ChunkStream(
            announce_first(
                incoming.next_chunk,
                lambda: log.debug("put %s %s: the store is reading data", res.name, mac.hex()),
            )
        )
        try:
            written = self.connector("Put").put(res, mac, data, int(first.flags))
        finally:
            incoming.close()
        return pb.PutResponse(bytes_written=written if written >= 0 else data.bytes_read)

    @guarded_stream("get")
    def Get(  # yields raw chunks: streams() encodes them
        self, request: pb.GetRequest, context: grpc.ServicerContext
    ) -> Iterator[bytes]:
        mac = check_mac(bytes(request.mac))
        res = resource(request.type)
        offset = length = None
        if request.HasField("range"):
            offset, length = int(request.range.offset), int(request.range.length)
        chunks = streamed(self.connector("Get").get(res, mac, offset, length))
        sent = 0
        try:
            for chunk in chunks:
                if length is not None and sent + len(chunk) > length:
                    chunk = chunk[: length - sent]
                if chunk:
                    sent += len(chunk)
                    yield chunk
                if length is not None and sent >= length:
                    break
        finally:
            chunks.close()
        if length is not None and sent < length:
            raise ProtocolError(
                f"get {mac.hex()}: range {offset}+{length} goes past the end of the object"
                f" ({sent} bytes available)"
            )

    @guarded("delete")
    def Delete(self, request: pb.DeleteRequest, context: grpc.ServicerContext) -> pb.DeleteResponse:
        self.connector("Delete").delete(resource(request.type), check_mac(bytes(request.mac)))
        return pb.DeleteResponse()


class _Incoming:
    """The data messages of one Put, as `ChunkStream` pulls them.

    Small objects are received on the handler's own thread. From the first full 1 MiB chunk on,
    a helper thread receives up to PREFETCH chunks ahead, so receiving the next chunk (a hand-off
    through grpcio's completion-queue thread) overlaps the store writing the previous one, and the
    clean-end check after the last chunk overlaps the store writing that chunk. The store still
    sees the end only after that check passed: nothing is committed earlier than before.
    """

    def __init__(
        self, it: Iterator[PutMessage], context: grpc.ServicerContext, host_gone: threading.Event
    ) -> None:
        self._it = it
        self._context = context
        self._host_gone = host_gone
        self._queue: queue.Queue[memoryview | BaseException | None] | None = None
        self._closed = False

    def _receive(self) -> memoryview | None:
        req = next(self._it, None)  # raises grpc.RpcError if the host cancels or goes away
        if req is None:
            return None if _clean_end(self._context, self._it, self._host_gone) else _cancelled()
        if len(req.mac) or req.type:
            raise ProtocolError("put: mac/type repeated after the first message")
        return req.chunk

    def next_chunk(self) -> memoryview | None:
        if self._queue is None:
            chunk = self._receive()
            if chunk is not None and len(chunk) >= CHUNK_SIZE:
                self._queue = queue.Queue(PREFETCH)
                threading.Thread(target=self._prefetch, name="kloset-put", daemon=True).start()
            return chunk
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def _prefetch(self) -> None:
        assert self._queue is not None
        while True:
            item: memoryview | BaseException | None
            try:
                item = self._receive()
            except BaseException as exc:  # handed to the reading thread
                item = exc
            while not self._closed:
                try:
                    self._queue.put(item, timeout=0.5)
                    break
                except queue.Full:
                    continue
            if item is None or isinstance(item, BaseException) or self._closed:
                return

    def close(self) -> None:
        """The store is done (or failed): stop receiving ahead."""
        self._closed = True


def _clean_end(
    context: grpc.ServicerContext, requests: Iterator[PutMessage], host_gone: threading.Event
) -> bool:
    """True if the request stream ended by a half-close, not by a cancel or a dead host.

    grpcio reports a cancelled stream (the host's RST_STREAM, or the connection closing when
    stdin ends) as a plain end of requests first, and marks the call cancelled only when its
    close event is dispatched, which a starved completion-queue thread can delay by many
    milliseconds: any fixed wait (2 ms, later 30 ms) is a bet. Two checks instead:

    - the host going away is known before the relay's end of the socket closes
      (`host_gone`, set first by the transport), so that cause is never mistaken for a half-close;
    - for a cancel, grpc posts the close event when it ends the stream, so asking for one more
      message (it completes at once, empty, after a real half-close) puts a completion behind
      that event on the same queue: when it comes back, a cancel is already marked (the
      iterator raises, or the call is inactive). Measured cost: one round trip, ~0.05 ms.

    A Put must never commit a stream the host abandoned (§6.5).
    """
    if host_gone.is_set() or not context.is_active():
        return False
    try:
        extra = next(requests, None)
    except grpc.RpcError:
        return False
    if extra is not None:
        raise ProtocolError("put: a message arrived after the end of the request stream")
    return context.is_active() and not host_gone.is_set()


def _cancelled() -> memoryview:
    raise ProtocolError("put: the host abandoned the stream before its end; nothing stored")
