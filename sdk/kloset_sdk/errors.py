"""Errors a connector raises, and the one place they become gRPC status codes.

Each class says when a connector raises it and the status code the host sees; `status_of` maps
any other exception.

docs/PROTOCOL.md (Messages and limits): never CANCELLED (host reads it as context.Canceled) nor
UNAVAILABLE (host adds an "I/O error" prefix) for ordinary errors; the host only keeps the
message text.
"""

from __future__ import annotations

import json

import grpc


class KlosetError(Exception):
    """Base class; `str(exc)` is what the Plakar user reads, so it must stand alone."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN


class ConfigError(KlosetError):
    """A config key is missing or wrong: Init fails with a message that names the key."""

    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        shown = key if key.isprintable() and key.strip() == key else json.dumps(key)
        # A huge value echoed back (a 200 KB location) would bury the message: keep both ends.
        shown, problem = elide(shown, 80), elide(problem, 500)
        super().__init__(f"{shown}: {problem}" if key else problem)


def elide(text: str, limit: int) -> str:
    """`text` cut in the middle to at most about `limit` characters."""
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head - 20
    return f"{text[:head]}...({len(text) - head - tail} chars)...{text[-tail:]}"


class NotFound(KlosetError):
    """The object or path does not exist: storage Get of an unknown MAC, Open of a deleted file."""

    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(KlosetError):
    """Create on a location that already holds something."""

    code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDenied(KlosetError):
    """The service refused the credentials, or the path is not allowed."""

    code = grpc.StatusCode.PERMISSION_DENIED


class Throttled(KlosetError):
    """The service asked us to slow down; kloset_sdk.http waits `retry_after` and retries."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class QuotaExceeded(KlosetError):
    """The service will not take more data; never retried."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class ProtocolError(KlosetError):
    """The host sent something the protocol does not allow."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class Fatal(KlosetError):
    """Anything else that must stop the call, with a message that stands alone."""

    code = grpc.StatusCode.UNKNOWN


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """Map any exception to (code, one-line message) for the host."""
    if isinstance(exc, KlosetError):
        code = exc.code
        msg = str(exc)
    elif isinstance(exc, FileNotFoundError):
        code, msg = grpc.StatusCode.NOT_FOUND, _oserror_text(exc)
    elif isinstance(exc, PermissionError):
        code, msg = grpc.StatusCode.PERMISSION_DENIED, _oserror_text(exc)
    elif isinstance(exc, OSError):
        code, msg = grpc.StatusCode.UNKNOWN, _oserror_text(exc)
    else:
        code, msg = (
            grpc.StatusCode.UNKNOWN,
            f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
        )
    if code in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.OK):
        code = grpc.StatusCode.UNKNOWN
    return code, one_line(msg)


def one_line(msg: str) -> str:
    return " ".join(msg.split()) or "error"


def _oserror_text(exc: OSError) -> str:
    text = exc.strerror or str(exc)
    if exc.filename is not None:
        return f"{exc.filename}: {text}"
    return text
