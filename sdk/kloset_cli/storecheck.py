"""`klosetctl store check`: the storage checks of `kloset_sdk.testing.checks`, run in order.

The checks are the ones the pytest storage suite runs (one implementation); here they run from
an installed package against any location a user points at. Each check uses fresh random MACs
and deletes what it wrote; the repository config written by Create stays (the protocol has no
call to remove it), which is why the location must be empty and throw-away.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import grpc

from kloset_sdk.testing.checks import Checker, CheckFailed

from .config import CliError
from .plugins import connect, failure, rpc_message

__all__ = ["CHECKS", "CheckFailed", "Checker", "Outcome", "create_failed", "run_checks"]


@dataclass
class Outcome:
    name: str
    ok: bool
    detail: str
    seconds: float


CHECKS: list[tuple[str, Callable[[Checker], str]]] = [
    ("Open returns the Create bytes", Checker.check_open),
    ("second Create fails", Checker.check_second_create),
    ("Mode", Checker.check_mode),
    ("Put/Get round trip", Checker.check_roundtrip),
    ("Get chunks <= 1 MiB", Checker.check_chunks),
    ("ranged Get", Checker.check_ranges),
    ("Get unknown MAC fails", Checker.check_unknown),
    ("bad Put refused", Checker.check_bad_put),
    ("HOT flag", Checker.check_hot),
    ("aborted Put leaves nothing", Checker.check_cancelled_put),
    ("List and Delete", Checker.check_list_delete),
    ("concurrent Put/Get", Checker.check_concurrent),
    ("Size", Checker.check_size),
    ("clean-up", Checker.cleanup),
]


def create_failed(exc: grpc.RpcError, message: str) -> CliError:
    """The error for a failed Create: the store's own reason, and the hint only if it applies.

    Only ALREADY_EXISTS (AlreadyExists in the SDK) means the location holds something; an
    unreachable endpoint, refused credentials or a bad option must not be blamed on it.
    """
    if exc.code() == grpc.StatusCode.ALREADY_EXISTS:
        return CliError(
            f"Create failed: {message} (store check creates a repository, so it"
            " needs an empty location: point it at a new directory, bucket prefix or folder)"
        )
    return CliError(f"Create failed: {message}", status=1)


def run_checks(
    proto: str,
    config: Mapping[str, str],
    exe: str | None = None,
    expected_mode: int = 6,
    on_result: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Create a repository at an empty location, then run every check; never raises on FAIL."""
    out: list[Outcome] = []
    with connect("storage", proto, config, exe=exe) as conn:
        blob = b"_KLOSET_" + os.urandom(509)
        t0 = time.monotonic()
        try:
            conn.client.create(blob)
        except grpc.RpcError as exc:
            raise create_failed(exc, failure(conn.proc, exc)) from None
        out.append(Outcome("Create at an empty location", True, "ok", time.monotonic() - t0))
        if on_result:
            on_result(out[-1])
        checker = Checker(conn.client, blob, expected_mode)
        for name, fn in CHECKS:
            t0 = time.monotonic()
            try:
                res = Outcome(name, True, fn(checker), 0)
            except CheckFailed as exc:
                res = Outcome(name, False, str(exc), 0)
            except grpc.RpcError as exc:
                res = Outcome(name, False, rpc_message(exc), 0)
            res.seconds = time.monotonic() - t0
            out.append(res)
            if on_result:
                on_result(res)
    return out
