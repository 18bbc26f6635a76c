"""Routing and the per-request pipeline: faults, authentication, handler, statistics, log."""

from __future__ import annotations

import re
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from . import auth, changes_api, files_api, uploads
from .errors import DriveError, invalid, unauthenticated
from .faults import AUTH_KINDS, DROP, MEDIA_KINDS, TRUNCATE, UPLOAD_KINDS, Faults
from .query import QueryError
from .state import DriveState
from .wire import Request, Response

Handler = Callable[..., Response]

STAT_KEYS = (
    "requests list get media export export_link create update delete upload upload_chunk "
    "changes start_page_token drives about generate_ids token auth revoke other "
    "errors unauthorized throttled errors_5xx dropped truncated quota_rejected injected "
    "internal_errors bytes_sent bytes_received"
).split()


@dataclass(frozen=True)
class LoggedRequest:
    """One answered (or dropped: status 0) request, for assertions."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    kind: str
    range: str | None = None
    content_range: str | None = None


@dataclass(frozen=True)
class Outcome:
    response: Response | None  # None: drop the connection without answering
    truncate: bool = False
    drop_mode: str = "close"


def _token(api: Api, req: Request) -> Response:
    return auth.token_endpoint(api.tokens, req)


def _authorize(api: Api, req: Request) -> Response:
    return auth.authorize_endpoint(api.tokens, req)


def _revoke(api: Api, req: Request) -> Response:
    return auth.revoke_endpoint(api.tokens, req)


_F = "/drive/v3/files"
_UP = "/(?:resumable/)?upload/drive/v3/files"
# (methods, path regex, handler, stats kind); the first match wins.
_TABLE: list[tuple[str, str, Handler, str]] = [
    ("POST", "/token", _token, "token"),
    ("GET", "/(?:o/oauth2/(?:v2/)?)?auth", _authorize, "auth"),
    ("POST GET", "/revoke", _revoke, "revoke"),
    ("GET", _F, files_api.list_files, "list"),
    ("POST", _F, files_api.create_file, "create"),
    ("GET", _F + "/generateIds", files_api.generate_ids, "generate_ids"),
    ("DELETE", _F + "/trash", files_api.empty_trash, "delete"),
    ("GET", _F + "/([^/]+)", files_api.get_file, "get"),
    ("PATCH", _F + "/([^/]+)", files_api.update_file, "update"),
    ("DELETE", _F + "/([^/]+)", files_api.delete_file, "delete"),
    ("GET", _F + "/([^/]+)/export", files_api.export_file, "export"),
    ("GET", "/export-link/([^/]+)", files_api.export_link, "export_link"),
    ("POST", _UP, uploads.upload, "upload"),
    ("PATCH PUT", _UP + "/([^/]+)", uploads.upload, "upload"),
    (
        "GET",
        "/drive/v3/changes/startPageToken",
        changes_api.start_page_token,
        "start_page_token",
    ),
    ("GET", "/drive/v3/changes", changes_api.list_changes, "changes"),
    ("GET", "/drive/v3/drives", changes_api.list_drives, "drives"),
    ("GET", "/drive/v3/drives/([^/]+)", changes_api.get_drive, "drives"),
    ("GET", "/drive/v3/about", changes_api.about, "about"),
]
ROUTES = [(m, re.compile(p + "$"), h, k) for m, p, h, k in _TABLE]
_SESSION_PATH = re.compile(_UP + "(?:/[^/]+)?$")


class Api:
    """Everything behind the socket: state, tokens, faults, upload sessions, stats, log."""

    def __init__(
        self, state: DriveState, tokens: auth.TokenStore, faults: Faults, storage_limit: int | None
    ) -> None:
        self.state = state
        self.tokens = tokens
        self.faults = faults
        self.storage_limit = storage_limit
        self.sessions: dict[str, uploads.UploadSession] = {}
        self.stats: dict[str, int] = dict.fromkeys(STAT_KEYS, 0)
        self.log: list[LoggedRequest] = []
        self.internal_errors: list[str] = []
        #: 404 or 501: files.generateIds answers that, as on services and proxies without it
        self.generate_ids_status: int | None = None
        self._stats_lock = threading.Lock()

    def count(self, key: str, n: int = 1) -> None:
        with self._stats_lock:
            self.stats[key] = self.stats.get(key, 0) + n

    def reset_stats(self) -> None:
        with self._stats_lock:
            self.stats.clear()
            self.stats.update(dict.fromkeys(STAT_KEYS, 0))
            self.log.clear()

    def route(self, req: Request) -> tuple[Handler | None, tuple[str, ...], str]:
        if "upload_id" in req.query and _SESSION_PATH.match(req.path):
            if req.method in ("PUT", "POST"):
                return uploads.upload_chunk, (), "upload_chunk"
        for methods, pattern, handler, kind in ROUTES:
            m = pattern.match(req.path)
            if m and req.method in methods.split():
                if kind == "get" and req.query.get("alt") == "media":
                    kind = "media"
                return handler, m.groups(), kind
        return None, (), "other"

    def handle(self, req: Request) -> Outcome:
        handler, groups, kind = self.route(req)
        self.count("requests")
        self.count(kind)
        decision = self.faults.decide(kind, req.target)
        if self.faults.latency and self.faults.applies(kind, req.target):
            time.sleep(self.faults.latency)
        mode = self.faults.drop_mode
        if decision == DROP and mode != "after":
            return self._finish(req, kind, None, mode=mode)
        if isinstance(decision, DriveError):
            counter = {429: "throttled", 403: "throttled"}.get(decision.code, "errors_5xx")
            if decision.reason.endswith("QuotaExceeded"):
                counter = "quota_rejected"
            elif decision.code < 500 and not decision.reason.endswith("ateLimitExceeded"):
                counter = "injected"
            self.count(counter)
            return self._finish(req, kind, Response.error(decision))
        try:
            if handler is None:
                raise DriveError(404, "notFound", f"Not Found: {req.method} {req.path}")
            if kind not in AUTH_KINDS:
                self._authenticate(req, kind)
            response = handler(self, req, *groups)
        except DriveError as err:
            response = Response.error(err)
        except QueryError as err:
            response = Response.error(invalid(str(err), "q"))
        except Exception:  # an emulator bug: answer 500 and keep the traceback for the test
            text = traceback.format_exc()
            self.internal_errors.append(text)
            self.count("internal_errors")
            print(text, file=sys.stderr)
            response = Response.error(DriveError(500, "internalError", "Emulator bug"))
        if decision == DROP:  # drop_mode "after": the request took effect, the answer is lost
            return self._finish(req, kind, None, mode="close")
        truncate = decision == TRUNCATE and response.media and len(response.body) > 1
        return self._finish(req, kind, response, truncate=truncate)

    def _authenticate(self, req: Request, kind: str) -> None:
        token = auth.bearer_token(req)
        if not token:
            self.count("unauthorized")
            raise unauthenticated(missing=True)
        grant = self.tokens.check(token)
        if grant is None:
            self.count("unauthorized")
            raise unauthenticated(missing=False)
        write = req.method != "GET" or kind in UPLOAD_KINDS
        auth.check_scopes(grant, write, kind in MEDIA_KINDS)

    def _finish(
        self,
        req: Request,
        kind: str,
        response: Response | None,
        *,
        truncate: bool = False,
        mode: str = "close",
    ) -> Outcome:
        status = 0 if response is None else response.status
        if response is None:
            self.count("dropped")
        elif status >= 400:
            self.count("errors")
        if truncate:
            self.count("truncated")
        entry = LoggedRequest(
            req.method,
            req.path,
            dict(req.query),
            status,
            kind,
            req.header("Range") or None,
            req.header("Content-Range") or None,
        )
        with self._stats_lock:
            self.log.append(entry)
        return Outcome(response, truncate, mode)
