"""Errors a connector raises, and the one place they become gRPC status codes.

    KlosetError
    ├── ConfigError        a config key is missing or wrong (Init fails, message names the key)
    ├── NotFound           object/path does not exist (storage Get of an unknown MAC, Open)
    ├── AlreadyExists      Create on a non-empty location
    ├── PermissionDenied   credentials refused, path not allowed
    ├── Throttled          the service asked us to slow down; http.py retries these
    ├── QuotaExceeded      the service will not take more data; never retried
    ├── ProtocolError      the host sent something the protocol does not allow
    └── Fatal              anything else that must stop the call, with a clear message

docs/PROTOCOL.md (Messages and limits): never CANCELLED (host reads it as context.Canceled) nor
UNAVAILABLE (host adds an
"I/O error" prefix) for ordinary errors; the host only keeps the message text.
"""

from __future__ import annotations

import json

import grpc


class KlosetError(Exception):
    """Base class; `str(exc)` is what the Plakar user reads, so it must stand alone."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN


class ConfigError(KlosetError):
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
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(KlosetError):
    code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDenied(KlosetError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Throttled(KlosetError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class QuotaExceeded(KlosetError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class ProtocolError(KlosetError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class Fatal(KlosetError):
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
