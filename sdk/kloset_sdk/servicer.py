"""What the importer, exporter and storage servicers share: Init, Ping, Close, registration."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any, ClassVar, Generic, TypeVar

import grpc

from .connector import Connector, InitContext, Resolver, build, guarded, require

C = TypeVar("C", bound=Connector[Any])
#: (request deserializer, response serializer) replacing protobuf's for one method; None keeps it.
Codecs = tuple[Callable[[bytes], Any] | None, Callable[[Any], bytes] | None]
_FACTORIES: dict[tuple[bool, bool], Callable[..., grpc.RpcMethodHandler]] = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


class Servicer(Generic[C]):
    """One connector per process: built by Init, used by every other call, closed by Close.

    `host_gone` belongs to the transport: it is set once the host went away, before the open
    calls see their request streams end (storage Put checks it before committing).
    """

    kind: ClassVar[str]
    service: ClassVar[str]  # the gRPC service of `pb`, e.g. "store.Store"
    pb: ClassVar[ModuleType]  # the kind's generated messages (`messages=` in the class line)
    #: Wire-level codecs for the methods that carry file data, by method name.
    codecs: ClassVar[dict[str, Codecs]] = {}

    def __init_subclass__(cls, *, kind: str, messages: ModuleType) -> None:
        super().__init_subclass__()
        (service,) = messages.DESCRIPTOR.services_by_name.values()
        cls.kind, cls.service, cls.pb = kind, service.full_name, messages
        missing = [m.name for m in service.methods if not callable(getattr(cls, m.name, None))]
        if missing:
            raise TypeError(
                f"{cls.__name__} does not implement {', '.join(missing)} of {cls.service}"
            )

    def __init__(self, resolve: Resolver, host_gone: threading.Event) -> None:
        self._resolve = resolve
        self._conn: C | None = None
        self.host_gone = host_gone

    def connector(self, method: str) -> C:
        return require(self._conn, f"{self.kind}: {method}")  # type: ignore[return-value]

    @guarded("init")
    def Init(self, request: Any, context: grpc.ServicerContext) -> Any:
        o = getattr(request, "options", None)  # storage's InitRequest carries no options
        extra: dict[str, Any] = {}
        if o is not None:
            extra = dict(
                hostname=o.hostname,
                os=o.os,
                arch=o.arch,
                cwd=o.cwd,
                maxconcurrency=int(o.maxconcurrency),
                excludes=tuple(o.excludes),
                noxattr=o.noxattr,
            )
        ctx = InitContext(kind=self.kind, proto=request.proto, config=dict(request.config), **extra)
        conn = build(self._resolve, ctx)
        self._conn = conn  # type: ignore[assignment]
        ident = conn.identity()
        return self.pb.InitResponse(
            origin=ident.origin, type=ident.type, root=ident.root, flags=int(ident.flags)
        )

    @guarded("ping")
    def Ping(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.connector("Ping").ping()
        return self.pb.PingResponse()

    @guarded("close")
    def Close(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.on_close()
        if self._conn is not None:
            self._conn.close()
        return self.pb.CloseResponse()

    def on_close(self) -> None:
        """Drop per-session state before the connector closes."""

    def register(self, server: grpc.Server) -> None:
        """Add this servicer to `server` as the generated add_*_to_server functions would: every
        method of the service, its handler kind and messages read from the proto descriptor."""
        (service,) = self.pb.DESCRIPTOR.services_by_name.values()
        handlers = {}
        for method in service.methods:
            decode, encode = self.codecs.get(method.name, (None, None))
            factory = _FACTORIES[(method.client_streaming, method.server_streaming)]
            handlers[method.name] = factory(
                getattr(self, method.name),
                request_deserializer=decode or getattr(self.pb, method.input_type.name).FromString,
                response_serializer=encode
                or getattr(self.pb, method.output_type.name).SerializeToString,
            )
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(self.service, handlers),)
        )
        add_registered = getattr(server, "add_registered_method_handlers", None)
        if add_registered is not None:  # grpcio >= 1.63: skips the per-call method lookup
            add_registered(self.service, handlers)
