"""Drive's error answers, what is worth retrying, and the one place they become kloset errors.

Retried (by the shared Pacer, honouring Retry-After): 403 `userRateLimitExceeded` /
`rateLimitExceeded`, 429, 408, 5xx, broken connections, retryable token refresh failures.
Not retried: quota errors (`storageQuotaExceeded`, `uploadQuotaExceeded`, `dailyLimitExceeded`:
more tries only burn more of an exhausted quota; client.py raises QuotaExceeded for them) and
everything else, which `translate` maps to NotFound, AlreadyExists, PermissionDenied or Fatal.
"""

from __future__ import annotations

import functools
import http.client
import json
from typing import Any

from kloset_sdk import AlreadyExists, Fatal, KlosetError, NotFound, PermissionDenied
from kloset_sdk.retry import Retry, parse_retry_after

#: The command that mints a new token_file (klosetctl's `login` subcommand, docs/CLI.md).
LOGIN_AGAIN = (
    "log in again with `klosetctl login gdrive --client-id ID --client-secret SECRET`"
    " and set token_file to the file it names"
)
RATE_REASONS = {"userRateLimitExceeded", "rateLimitExceeded"}
QUOTA_REASONS = {
    "storageQuotaExceeded",
    "uploadQuotaExceeded",
    "dailyLimitExceeded",
    "quotaExceeded",
    "teamDriveFileLimitExceeded",
}


@functools.cache
def _transient() -> tuple[type[BaseException], ...]:
    """Broken connections, whichever stack saw them (imported late: Init stays fast, P17)."""
    import requests
    from google.auth.exceptions import TransportError

    return (
        requests.ConnectionError,
        requests.Timeout,
        requests.exceptions.ChunkedEncodingError,
        http.client.HTTPException,
        ConnectionError,
        TimeoutError,
        TransportError,
    )


def _is_refresh_error(exc: BaseException) -> bool:
    from google.auth.exceptions import RefreshError

    return isinstance(exc, RefreshError)


class ApiError(Exception):
    """A Drive error answer, normalized from googleapiclient's HttpError or a requests reply."""

    def __init__(
        self, status: int, reason: str, message: str, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.retry_after = retry_after


def error_from(status: int, body: bytes | str, headers: Any) -> ApiError:
    reason, message = "", ""
    try:
        err = json.loads(body or b"{}").get("error", {})
        if isinstance(err, dict):
            message = str(err.get("message", ""))
            details = err.get("errors") or [{}]
            reason = str(details[0].get("reason", "")) or str(err.get("status", ""))
        elif isinstance(err, str):
            reason = err
    except (ValueError, AttributeError):
        message = (body.decode("utf-8", "replace") if isinstance(body, bytes) else body)[:200]
    retry_after = parse_retry_after(headers.get("retry-after") if headers else None)
    return ApiError(status, reason, message or http.client.responses.get(status, ""), retry_after)


def should_retry(exc: BaseException) -> Retry | None:
    """Throttling, 5xx (but 501 Not Implemented), 408 and broken connections are retried;
    nothing else."""
    if isinstance(exc, ApiError):
        if exc.status == 429 or (exc.status == 403 and exc.reason in RATE_REASONS):
            return Retry(exc.reason or "429 too many requests", exc.retry_after)
        if (exc.status >= 500 and exc.status != 501) or exc.status == 408:  # 501: final
            return Retry(f"{exc.status} {exc.reason}".strip(), exc.retry_after)
        return None
    if _is_refresh_error(exc):
        return Retry(f"token refresh: {exc}") if getattr(exc, "retryable", False) else None
    if isinstance(exc, _transient()):
        return Retry(f"connection: {type(exc).__name__}")
    return None


def translate(exc: BaseException, what: str) -> KlosetError:
    """The single place a library or HTTP failure becomes a kloset_sdk error."""
    if isinstance(exc, KlosetError):
        return exc
    if isinstance(exc, ApiError):
        text = f"{what}: {exc.message or exc.reason} ({exc.status} {exc.reason})".replace(" )", ")")
        if exc.status == 404:
            return NotFound(text)
        if exc.status == 409:
            return AlreadyExists(text)
        if exc.status in (401, 403):
            return PermissionDenied(text)
        return Fatal(text)
    if _is_refresh_error(exc):
        return PermissionDenied(
            f"{what}: Google refused the credentials ({exc}); {LOGIN_AGAIN}, or check"
            " refresh_token, client_id and client_secret, or service_account_file"
        )
    return Fatal(f"{what}: {type(exc).__name__}: {exc}")
