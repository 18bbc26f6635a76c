"""Graph over kloset_sdk.http: addressing, what is worth retrying, what an error answer means.

Every Graph call of every worker goes through `GraphClient.call`, hence through the process's
single Pacer (kloset_sdk.http.process_pacer): when Graph answers 429/503 (`Throttled`) with
`Retry-After` (often 120 s, sometimes nothing), every thread waits, not just the one that was
told, which is what Graph's throttling guidance asks for; a 401 refreshes the token once.
What is worth retrying is decided by the SDK (`Throttled`, `Unavailable`); what a Graph status
means for the user is decided by `_translate`, nowhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

import requests

from kloset_sdk import AlreadyExists, Fatal, KlosetError, NotFound, PermissionDenied
from kloset_sdk.errors import QuotaExceeded, Throttled
from kloset_sdk.http import (
    Answer,
    Rest,
    TokenSource,
    Unauthorized,
    Unavailable,
    process_pacer,
    standard_retry,
)
from kloset_sdk.retry import Pacer, Retry, parse_retry_after

from .api import SELECT
from .options import OneDriveOptions, drive_base, endpoints

log = logging.getLogger(__name__)
PAGE = 1000  # the largest $top Graph honours for children and delta


class Dropped(Unavailable):
    """The connection broke before an answer: the request may or may not have been applied."""


class ItemNotFound(NotFound):
    pass


class NameConflict(AlreadyExists):
    """409 (nameAlreadyExists and friends): something with that name is already there."""


class ResyncRequired(Fatal):
    """410: the stored deltaLink is refused; the caller starts over with a full delta."""


class RangeRejected(Fatal):
    """416: an upload fragment overlaps what the session already has, or a read past the end."""


class UrlRefused(PermissionDenied):
    """401/403 from a pre-authenticated URL (download, upload session): it carries its own
    credentials in the query, no token was sent, so it expired or was revoked."""


class GraphFailure(Fatal):
    def __init__(self, message: str, status: int, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def should_retry_answered(exc: BaseException) -> Retry | None:
    """For upload fragments: a drop is resolved by asking the session, not by resending."""
    return None if isinstance(exc, Dropped) else standard_retry(exc)


def new_session(ca_bundle: str | None) -> requests.Session:
    """With ca_bundle, trust only it: trust_env off, or REQUESTS_CA_BUNDLE would win."""
    session = requests.Session()
    if ca_bundle:
        session.verify = ca_bundle
        session.trust_env = False
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class GraphClient:
    def __init__(
        self,
        opts: OneDriveOptions,
        tokens: TokenSource | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.opts = opts
        self.endpoints = endpoints(opts)
        self.drive = self.endpoints.graph + drive_base(opts)
        if tokens is None:
            from .auth import token_source

            tokens = token_source(opts, self.endpoints, new_session(opts.ca_bundle))
        self.tokens = tokens
        self.pacer = pacer or process_pacer(opts, base_delay=0.5, max_delay=30.0)
        timeout = (min(30.0, opts.timeout), max(opts.timeout, 1.0))
        self.rest = Rest(
            self.pacer,
            _translate,
            lambda: new_session(opts.ca_bundle),
            timeout,
            tokens,
            on_drop=_dropped,
        )

    def session(self) -> requests.Session:
        return self.rest.session()

    def url(self, path: str) -> str:
        """Drive-relative paths (`/items/..`, `/root:/..`) or absolute URLs (nextLink...)."""
        return path if path.startswith(("https://", "http://")) else self.drive + path

    def call(
        self,
        method: str,
        path: str,
        *,
        auth: bool = True,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        retry_drops: bool = True,
    ) -> requests.Response:
        """One Graph request, paced and retried; non-2xx/3xx answers raise a KlosetError."""
        return self.rest.call(
            method,
            self.url(path),
            standard_retry if retry_drops else should_retry_answered,
            auth=auth,
            params=params,
            json=json,
            data=data,
            headers=headers,
            allow_redirects=False,
        )

    def json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        resp = self.call(method, path, **kwargs)
        try:
            body = resp.json() if resp.content else {}
        except ValueError:
            msg = f"{method} {_short(resp.url)}: the answer is not JSON"
            raise GraphFailure(msg, resp.status_code, "") from None
        return body if isinstance(body, dict) else {}

    def pages(self, path: str, params: Mapping[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """Each page of a collection, following `@odata.nextLink` as given (it is opaque)."""
        body = self.json("GET", path, params=params)
        while True:
            yield body
            link = body.get("@odata.nextLink")
            if not link:
                return
            body = self.json("GET", str(link))

    def children(self, address: str) -> Iterator[dict[str, Any]]:
        """Every child of a folder: $top=1000 and only the fields a backup reads."""
        for page in self.pages(f"{address}/children", {"$top": str(PAGE), "$select": SELECT}):
            yield from page.get("value", [])

    def item(self, address: str) -> dict[str, Any]:
        return self.json("GET", address, params={"$select": SELECT})


def _dropped(method: str, url: str, exc: BaseException) -> Dropped:
    return Dropped(f"{method} {_short(url)}: connection failed ({_why(exc)})")


def _translate(method: str, url: str, resp: Answer) -> KlosetError:
    """The one place a Graph status becomes a kloset error the user can act on (the SDK's
    error hook). Sent without a token: a pre-authenticated URL."""
    auth = "Authorization" in resp.request.headers
    status = resp.status_code
    code, message = _error_body(resp)
    where = f"{method} {_short(url)}"
    text = f"{where}: {status} {code}: {message}" if code else f"{where}: {status} {message}"
    retry_after = parse_retry_after(resp.headers.get("Retry-After"))
    if status in (429, 503):
        return Throttled(f"throttled by Graph ({text})", retry_after)
    if status == 507:
        return QuotaExceeded(
            f"{where}: the drive is full (507 Insufficient Storage): free space or raise the"
            " quota; nothing more can be stored"
        )
    if status == 501:  # Not Implemented (delta on a folder of some drives): final
        return GraphFailure(text, status, code)
    if status >= 500:
        return Unavailable(text, retry_after)
    if status == 404:
        return ItemNotFound(text)
    if status == 409:
        return NameConflict(text)
    if status == 410:
        return ResyncRequired(text)
    if status == 416:
        return RangeRejected(text)
    if status in (401, 403) and not auth:
        return UrlRefused(
            f"{text} (a pre-authenticated URL, sent without a token: it has expired or was revoked)"
        )
    if status == 401:
        return Unauthorized(f"{text} (the token was refused even after a refresh)")
    if status == 403:
        return PermissionDenied(text)
    return GraphFailure(text, status, code)


def _error_body(resp: Answer) -> tuple[str, str]:
    try:
        err = resp.json().get("error")
    except ValueError:
        return "", (resp.text or resp.reason or "")[:200]
    if isinstance(err, dict):
        inner = err.get("innerError") or err.get("innererror") or {}
        code = str(err.get("code", ""))
        if isinstance(inner, dict) and inner.get("code"):
            code = f"{code}/{inner['code']}"
        return code, str(err.get("message", ""))
    return "", str(err or resp.reason or "")


def _short(url: str) -> str:
    """The URL without its query: download and upload URLs carry credentials there."""
    return url.split("?", 1)[0]


def _why(exc: BaseException) -> str:
    text = str(exc)
    return (type(exc).__name__ + (": " + text.split("(")[0] if text else ""))[:160]
