"""`serve(kind, connectors)`: the whole `main` of a plugin executable (go-kloset-sdk entrypoint.go).

if __name__ == "__main__":
    serve("storage", {"mem": MemStorage})
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Mapping
from typing import Any, NoReturn

import grpc

from . import log as _log
from .connector import Connector, make_resolver

KINDS = ("importer", "exporter", "storage")


def _exit_interrupted(signum: int, frame: object) -> None:
    os._exit(130)


def quiet_interrupts() -> None:
    """Ctrl-C before serving: exit 130 at once, without a traceback (nothing runs yet).

    Ctrl-C reaches every process of the terminal's group, plugins included; serving replaces
    this with the handler that stops in-flight calls first (transport.serve_stdio).
    """
    signal.signal(signal.SIGINT, _exit_interrupted)


def registrar(
    kind: str, connectors: type[Connector[Any]] | Mapping[str, type[Connector[Any]]]
) -> Any:
    """The function that adds the servicer for `kind` to a grpc server (also used by tests)."""
    resolve = make_resolver(connectors)
    if kind == "importer":
        from .importer import add_to_server
    elif kind == "exporter":
        from .exporter import add_to_server
    elif kind == "storage":
        from .storage import add_to_server
    else:
        raise ValueError(f"unknown connector kind {kind!r} (want one of {', '.join(KINDS)})")

    def register(server: grpc.Server) -> None:
        add_to_server(server, resolve)

    return register


def serve(
    kind: str,
    connectors: type[Connector[Any]] | Mapping[str, type[Connector[Any]]],
    argv: list[str] | None = None,
) -> NoReturn:
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
