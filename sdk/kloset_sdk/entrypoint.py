"""`serve(kind, connectors)`: the whole `main` of a plugin executable (go-kloset-sdk entrypoint.go).

if __name__ == "__main__":
    serve("storage", {"mem": MemStorage})
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

import grpc

from . import log as _log
from .connector import Connector, make_resolver
from .servicer import Servicer

KINDS = ("importer", "exporter", "storage")


def _exit_interrupted(signum: int, frame: object) -> None:
    os._exit(130)


def quiet_interrupts() -> None:
    """Ctrl-C before serving: exit 130 at once, without a traceback (nothing runs yet).

    Ctrl-C reaches every process of the terminal's group, plugins included; serving replaces
    this with the handler that stops in-flight calls first (transport.serve_stdio).
    """
    signal.signal(signal.SIGINT, _exit_interrupted)


Connectors = type[Connector[Any]] | Mapping[str, type[Connector[Any]]]


def registrar(kind: str, connectors: Connectors) -> Callable[[grpc.Server, threading.Event], None]:
    """The function that adds the servicer for `kind` to a grpc server."""
    resolve = make_resolver(connectors)
    servicer: type[Servicer[Any]]
    if kind == "importer":
        from .importer import ImporterServicer as servicer
    elif kind == "exporter":
        from .exporter import ExporterServicer as servicer
    elif kind == "storage":
        from .storage import StorageServicer as servicer
    else:
        raise ValueError(f"unknown connector kind {kind!r} (want one of {', '.join(KINDS)})")
    return lambda server, host_gone: servicer(resolve, host_gone).register(server)


def serve_on(server: grpc.Server, kind: str, connectors: Connectors) -> threading.Event:
    """Serve `kind` on a server the caller owns, e.g. on a TCP port in a test (go-kloset-sdk's
    RunXOn(listener)); set the returned event when the host is gone."""
    host_gone = threading.Event()
    registrar(kind, connectors)(server, host_gone)
    return host_gone


def serve(kind: str, connectors: Connectors, argv: list[str] | None = None) -> NoReturn:
    """Serve one connector kind on stdin/stdout until stdin closes, then exit 0.

    Extra argv (a manifest's `args`) are accepted and ignored, as Plakar may append them.
    """
    quiet_interrupts()
    from .transport import serve_stdio

    _log.setup(kind)
    extra = sys.argv[1:] if argv is None else argv
    if extra:
        logging.getLogger(__name__).debug("ignoring arguments %r", extra)
    serve_stdio(registrar(kind, connectors))
