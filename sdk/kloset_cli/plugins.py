"""Start a connector as Plakar does: its own process, two pipes, gRPC (docs/PROTOCOL.md: Transport
and process).

The CLI never calls a connector class in-process. Going through the plugin process tests the
same code path Plakar uses, keeps heavy client libraries out of the CLI process, and lets any
executable stand in (`--exe ./dist/plakar/s3/s3Storage` runs a packaged connector).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc

from kloset_sdk.connector import Identity
from kloset_sdk.errors import KlosetError
from kloset_sdk.harness import ExporterClient, ImporterClient, PluginProcess, StoreClient

from .config import CliError, redacted

C = TypeVar("C", ImporterClient, ExporterClient, StoreClient)
CLIENTS: dict[str, type[Any]] = {
    "importer": ImporterClient,
    "exporter": ExporterClient,
    "storage": StoreClient,
}


def plugin_argv(proto: str, kind: str, exe: str | None = None) -> list[str]:
    """The command that serves `proto`'s `kind`; checks the integration exists first.

    Resolving here (a cheap import of the integration's `__init__`) turns "not installed" into
    one clear line instead of a dead plugin process and a gRPC UNAVAILABLE.

    The plugin runs in its own session (`setsid`, which execs without forking here): a Ctrl-C
    in the terminal then reaches only klosetctl, which ends its plugins itself (stdin EOF,
    then SIGKILL), instead of every plugin printing a KeyboardInterrupt traceback mid-startup.
    """
    if exe:
        found = shutil.which(exe) if os.sep not in exe else exe
        if not found or not os.path.isfile(found) or not os.access(found, os.X_OK):
            raise CliError(f"--exe {exe}: not an executable file")
        argv = [found]
    else:
        from kloset_sdk.registry import connectors

        try:
            connectors(proto, kind)
        except KlosetError as exc:
            raise CliError(f"{proto}: {exc}") from None
        argv = [sys.executable, "-m", "kloset_sdk.plugin", proto, kind]
    setsid = shutil.which("setsid")
    return [setsid, *argv] if setsid else argv


def rpc_message(exc: BaseException) -> str:
    """The one line a user should see for a failed call (the status message, as Plakar shows)."""
    if isinstance(exc, grpc.RpcError):
        details = exc.details() if hasattr(exc, "details") else ""
        code = exc.code() if hasattr(exc, "code") else None
        if code == grpc.StatusCode.UNAVAILABLE:
            # Plugins never answer UNAVAILABLE (P13): the details are grpc's transport
            # internals (socket paths, "Socket closed"), not a message for the user.
            return "the plugin process died or closed its pipes"
        return str(details or code)
    return str(exc) or type(exc).__name__


def failure(proc: PluginProcess, exc: BaseException) -> str:
    """`rpc_message`, or how the plugin process ended when the call failed because it did."""
    if isinstance(exc, grpc.RpcError) and exc.code() == grpc.StatusCode.UNAVAILABLE:
        return died(proc) or rpc_message(exc)
    return rpc_message(exc)


def died(proc: PluginProcess, wait: float = 0.5) -> str:
    """If the plugin process has ended, how (after a failed call: it may be exiting now)."""
    try:
        rc = proc.proc.wait(wait)
    except Exception:  # still running (TimeoutExpired): the call failed alone
        return ""
    if rc < 0:
        return f"the plugin process was killed by signal {-rc}"
    return f"the plugin process exited with status {rc}"


@dataclass
class Connected:
    proc: PluginProcess
    client: Any
    identity: Identity


@contextlib.contextmanager
def connect(
    kind: str,
    proto: str,
    config: Mapping[str, str],
    exe: str | None = None,
    maxconcurrency: int = 8,
    env: Mapping[str, str] | None = None,
) -> Iterator[Connected]:
    """Spawn, Init, yield, then Close and EOF stdin like Plakar's exit (plugin exits 0)."""
    argv: Sequence[str] = plugin_argv(proto, kind, exe)
    proc = PluginProcess(argv, env=env)
    try:
        client = CLIENTS[kind](proc)
        try:
            if kind == "storage":
                ident = client.init(config, proto=proto)
            else:
                ident = client.init(config, proto=proto, maxconcurrency=maxconcurrency)
        except grpc.RpcError as exc:
            shown = redacted(config).get("location", "")
            raise CliError(f"{kind} {shown}: {failure(proc, exc)}") from None
        yield Connected(proc, client, ident)
        with contextlib.suppress(grpc.RpcError):
            client.close()
    finally:
        if proc.proc.poll() is None:
            try:
                proc.finish(10)
            except Exception:  # a plugin that ignores EOF is killed
                proc.kill()
        else:
            proc.close()
