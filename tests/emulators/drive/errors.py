"""Google's JSON error shape, so clients classify emulator errors as they would real ones."""

from __future__ import annotations

import json

_STATUS_TEXT = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


class DriveError(Exception):
    """An API error answered as `{"error": {"code", "message", "errors": [...]}}`."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        domain: str = "global",
        location: str | None = None,
        location_type: str = "parameter",
        headers: dict[str, str] | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message
        self.domain = domain
        self.location = location
        self.location_type = location_type
        self.headers = headers or {}
        self.detail = detail or message  # errors[0].message, sometimes shorter than message

    def body(self) -> bytes:
        item: dict[str, str] = {"message": self.detail, "domain": self.domain}
        item["reason"] = self.reason
        if self.location:
            item["location"] = self.location
            item["locationType"] = self.location_type
        error: dict[str, object] = {"code": self.code, "message": self.message, "errors": [item]}
        if self.code in (401, 429):  # these come from Google's front end, which adds a status
            error["status"] = _STATUS_TEXT[self.code]
        return json.dumps({"error": error}, indent=2).encode()


def not_found(file_id: str, location: str = "fileId") -> DriveError:
    return DriveError(404, "notFound", f"File not found: {file_id}.", location=location)


def invalid(message: str, location: str | None = None) -> DriveError:
    return DriveError(400, "invalid", message, location=location)


def bad_request(message: str) -> DriveError:
    return DriveError(400, "badRequest", message)


def rate_limited(code: int, reason: str, retry_after: float | None) -> DriveError:
    """403 userRateLimitExceeded / rateLimitExceeded or 429, as Drive sends them."""
    text = {
        "userRateLimitExceeded": "User rate limit exceeded.",
        "rateLimitExceeded": "Rate limit exceeded.",
    }.get(reason, "Rate Limit Exceeded")
    if code == 429:
        text = "Rate Limit Exceeded"
    headers = {} if retry_after is None else {"Retry-After": _seconds(retry_after)}
    return DriveError(code, reason, text, domain="usageLimits", headers=headers)


def server_error(code: int, retry_after: float | None) -> DriveError:
    headers = {} if retry_after is None or code != 503 else {"Retry-After": _seconds(retry_after)}
    if code == 503:
        return DriveError(503, "backendError", "Service Unavailable", headers=headers)
    return DriveError(code, "internalError", "Internal Error", headers=headers)


def quota_exceeded(reason: str) -> DriveError:
    text = {
        "storageQuotaExceeded": "The user's Drive storage quota has been exceeded.",
        "uploadQuotaExceeded": "The user has exceeded their Drive upload quota.",
    }.get(reason, "Quota exceeded.")
    return DriveError(403, reason, text, domain="usageLimits")


def unauthenticated(missing: bool) -> DriveError:
    """401 as Google's front end answers a missing or a stale/invalid bearer token."""
    if missing:
        message = (
            "Request is missing required authentication credential. Expected OAuth 2 access "
            "token, login cookie or other valid authentication credential."
        )
        reason, detail = "required", "Login Required."
    else:
        message = (
            "Request had invalid authentication credentials. Expected OAuth 2 access token, "
            "login cookie or other valid authentication credential."
        )
        reason, detail = "authError", "Invalid Credentials"
    return DriveError(
        401,
        reason,
        message,
        location="Authorization",
        location_type="header",
        headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
        detail=detail,
    )


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
