"""Drive v3 through google-api-python-client: service, pacing, and the one error boundary.

- The service is built from the client library's static discovery document with `rootUrl`
  replaced by `api_endpoint`: no discovery request at start-up (Init must answer fast, P17), and
  media URLs follow the endpoint too (`build(client_options=...)` keeps www.googleapis.com for
  uploads).
- httplib2 is not thread-safe, so every thread gets its own AuthorizedHttp (metadata calls) and
  requests Session (media: streamed downloads, ranged reads, upload chunks; `kloset_sdk.http.Rest`
  puts the bearer token on those, from `GoogleTokens`).
- Every call goes through the process's single Pacer (kloset_sdk.http): when Drive throttles
  one worker, all of them wait out its Retry-After. errors.py says what is worth another try and
  what a failure means; quota errors become QuotaExceeded here and stop at once.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from kloset_sdk import KlosetError
from kloset_sdk.errors import QuotaExceeded
from kloset_sdk.http import Answer, Rest, paced, process_pacer
from kloset_sdk.lazy import OnFirstUse
from kloset_sdk.retry import Pacer

from . import auth
from .errors import QUOTA_REASONS, ApiError, error_from, should_retry, translate
from .export_formats import FOLDER, SHORTCUT
from .options import GdriveOptions

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)
T = TypeVar("T")
PAGE_SIZE = 1000  # the most files.list / changes.list return per page
#: Everything the connectors read about a file; listing more costs bandwidth on every page.
FILE_FIELDS = (
    "id,name,mimeType,parents,size,modifiedTime,createdTime,md5Checksum,sha256Checksum,"
    "trashed,driveId,shortcutDetails(targetId,targetMimeType),exportLinks,sharedWithMeTime"
)


def _unauthorized(exc: BaseException) -> bool:
    return isinstance(exc, ApiError) and exc.status == 401


def _error_hook(method: str, url: str, resp: Answer) -> ApiError:
    return error_from(resp.status_code, resp.content, resp.headers)


def escape(value: str) -> str:
    """A string literal for the `q` language."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class GoogleTokens:
    """google-auth credentials as the SDK's TokenSource: refreshed under `lock` when expired,
    or when a 401 refused the token and no other thread has replaced it yet."""

    def __init__(self, creds: Any, lock: threading.Lock) -> None:
        self.creds = creds
        self.lock = lock

    def token(self) -> str:
        return self._current(None)

    def refresh(self, stale: str) -> str:
        return self._current(stale)

    def _current(self, stale: str | None) -> str:
        creds = self.creds
        if creds.valid and creds.token != stale:
            return str(creds.token)
        from google.auth.transport.requests import Request

        with self.lock:
            if not creds.valid or creds.token == stale:
                creds.refresh(Request())
            return str(creds.token)


class DriveClient:
    def __init__(self, opts: GdriveOptions, creds: Any = None, pacer: Pacer | None = None) -> None:
        self.opts = opts
        self.creds = creds if creds is not None else auth.credentials(opts)
        self.pacer = pacer or process_pacer(opts)
        self.root_url = opts.root_url
        self.drive_id = opts.shared_drive_id or None
        self._local = threading.local()
        self._ids: list[str] = []
        self._ids_lock = threading.Lock()
        self.has_generate_ids = True  # False once the service answered 404/501 to generateIds
        self._refresh_lock = threading.Lock()
        self.rest = Rest(
            self.pacer,
            _error_hook,
            self._new_session,
            opts.timeout,
            GoogleTokens(self.creds, self._refresh_lock),
        )
        # Importing googleapiclient and parsing its 250 KB discovery document cost ~130 ms,
        # which `ping` (Init) does without.
        self._service = OnFirstUse(self._build_service)

    @property
    def service(self) -> Any:
        """The googleapiclient service, built on first use."""
        return self._service.get()

    def _build_service(self) -> Any:
        from googleapiclient import discovery_cache
        from googleapiclient.discovery import build_from_document

        doc = json.loads(discovery_cache.get_static_doc("drive", "v3") or "{}")
        doc["rootUrl"] = self.root_url
        doc["baseUrl"] = self.root_url + doc.get("servicePath", "drive/v3/")
        doc["batchPath"] = "batch/drive/v3"
        return build_from_document(doc, http=self._http())

    def ping(self) -> None:
        """Sign in and read the root folder's id (files.get, as `get` would) over `rest`:
        requests only, no googleapiclient or httplib2 at Init."""
        url = self.file_url("root", fields="id", supportsAllDrives="true")
        self.run(lambda: self.send("GET", url, "get root").close(), "get root")

    # -- per-thread transports ---------------------------------------------------------------
    def _http(self) -> Any:
        h = getattr(self._local, "http", None)
        if h is None:
            import google_auth_httplib2  # type: ignore[import-untyped]
            import httplib2  # type: ignore[import-untyped]

            h = google_auth_httplib2.AuthorizedHttp(
                self.creds, http=httplib2.Http(timeout=self.opts.timeout)
            )
            self._local.http = h
        return h

    def session(self) -> requests.Session:
        return self.rest.session()

    def _new_session(self) -> requests.Session:
        import requests

        session = requests.Session()
        quota_project = getattr(self.creds, "quota_project_id", None)
        if quota_project:  # what google-auth adds to every request it authorizes
            session.headers["x-goog-user-project"] = quota_project
        return session

    # -- the pacer loop ----------------------------------------------------------------------
    def run(self, fn: Callable[[], T], what: str) -> T:
        """Call fn under the shared Pacer; 401 refreshes once; errors leave translated."""

        def attempt() -> T:
            try:
                return fn()
            except ApiError as exc:
                if exc.reason in QUOTA_REASONS:
                    raise QuotaExceeded(
                        f"{what}: Drive quota exhausted ({exc.reason}): {exc.message}"
                    ) from None
                raise

        try:
            return paced(self.pacer, attempt, should_retry, self._refresh, _unauthorized)
        except Exception as exc:
            raise translate(exc, what) from exc

    def _refresh(self) -> None:
        from google.auth.transport.requests import Request

        with self._refresh_lock:
            self.creds.refresh(Request())

    def call(self, request: Any, what: str) -> Any:
        """Execute a googleapiclient request on this thread's http object."""

        def fn() -> Any:
            from googleapiclient.errors import HttpError

            try:
                return request.execute(http=self._http(), num_retries=0)
            except HttpError as exc:
                raise error_from(exc.resp.status, exc.content, exc.resp) from None

        return self.run(fn, what)

    def send(self, method: str, url: str, what: str, **kw: Any) -> requests.Response:
        """One raw request (no pacing: callers wrap it in `run`); error answers raise ApiError."""
        return self.rest.send(method, url, **kw)

    # -- files -------------------------------------------------------------------------------
    def _all_drives(self, kw: dict[str, Any]) -> dict[str, Any]:
        kw["supportsAllDrives"] = True
        return kw

    def list(
        self, q: str, drive_id: str | None = None, fields: str = FILE_FIELDS
    ) -> Iterator[dict[str, Any]]:
        """Every page of a files.list query (corpus: My Drive + shared, or one shared drive)."""
        kw: dict[str, Any] = {
            "pageSize": PAGE_SIZE,
            "fields": f"nextPageToken,incompleteSearch,files({fields})",
            "spaces": "drive",
        }
        if q:
            kw["q"] = q
        if drive_id:
            kw.update(corpora="drive", driveId=drive_id, includeItemsFromAllDrives=True)
            self._all_drives(kw)
        while True:
            page = self.call(self.service.files().list(**kw), "list")
            if page.get("incompleteSearch"):
                log.warning("Drive reported an incomplete search for %s", q[:80])
            yield from page.get("files", [])
            token = page.get("nextPageToken")
            if not token:
                return
            kw["pageToken"] = token

    def get(self, file_id: str, fields: str = FILE_FIELDS) -> dict[str, Any]:
        req = self.service.files().get(**self._all_drives({"fileId": file_id, "fields": fields}))
        result: dict[str, Any] = self.call(req, f"get {file_id}")
        return result

    def new_id(self) -> str | None:
        """A pre-generated id: a create retried after a lost answer then fails with 409 instead
        of making a second file with the same name. None when the service has no
        files.generateIds (404 or 501: some Drive-compatible services and proxies): creates
        then go without an id, and a retried create first looks for what the lost one made
        (`find_made`)."""
        with self._ids_lock:
            if not self.has_generate_ids:
                return None
            if not self._ids:
                req = self.service.files().generateIds(count=100, space="drive")
                try:
                    self._ids = list(self.call(req, "generate ids")["ids"])
                except KlosetError as exc:
                    cause = exc.__cause__
                    if not (isinstance(cause, ApiError) and cause.status in (404, 501)):
                        raise
                    log.warning(
                        "files.generateIds is not available (%d %s): files are created without"
                        " pre-generated ids; a retried create is matched by name",
                        cause.status,
                        cause.reason,
                    )
                    self.has_generate_ids = False
                    return None
            return self._ids.pop()

    def find_made(
        self, body: dict[str, Any], fields: str, md5: str | None = None
    ) -> dict[str, Any] | None:
        """What an earlier try of a create without a fixed id made, if it went through: the
        newest item of that name, type (and md5) in the parent. Callers create only names the
        parent did not hold, so that item is ours."""
        parents = body.get("parents") or []
        if not parents or not body.get("name"):
            return None
        q = f"name = {escape(body['name'])} and {escape(parents[0])} in parents and trashed = false"
        if body.get("mimeType") in (FOLDER, SHORTCUT):
            q += f" and mimeType = {escape(body['mimeType'])}"
        wanted = ",".join(dict.fromkeys(["id", "createdTime", "md5Checksum", *fields.split(",")]))
        found = [
            m
            for m in self.list(q, self.drive_id, wanted)
            if md5 is None or m.get("md5Checksum") == md5
        ]
        if not found:
            return None
        newest = max(found, key=lambda m: (m.get("createdTime") or "", m["id"]))
        log.info("create %s: the lost try went through (%s)", body["name"], newest["id"])
        return newest

    def create(self, body: dict[str, Any], fields: str = FILE_FIELDS) -> dict[str, Any]:
        """files.create (metadata only: folders, shortcuts); idempotent through a fixed id, or
        without one (no generateIds) by looking for the item a lost try made."""
        fixed = body.get("id") or self.new_id()
        body = {**body, "id": fixed} if fixed else {k: v for k, v in body.items() if k != "id"}
        tries = [0]

        def fn() -> dict[str, Any]:
            from googleapiclient.errors import HttpError

            tries[0] += 1
            if not fixed:
                # requests, not httplib2: httplib2 silently sends a POST again when the
                # connection closes before the answer, which without an id makes a twin
                if tries[0] > 1:
                    made = self.find_made(body, fields)
                    if made is not None:
                        return made
                params = f"supportsAllDrives=true&fields={quote(fields)}"
                url = f"{self.root_url}drive/v3/files?{params}"
                return dict(self.send("POST", url, "create", json=body).json())
            req = self.service.files().create(**self._all_drives({"body": body, "fields": fields}))
            try:
                result: dict[str, Any] = req.execute(http=self._http(), num_retries=0)
                return result
            except HttpError as exc:
                err = error_from(exc.resp.status, exc.content, exc.resp)
                if err.status == 409:  # an id generated for us: an earlier try went through
                    return self.get(body["id"], fields)  # (httplib2 may have resent it)
                raise err from None

        return self.run(fn, f"create {body.get('name')}")

    def update(
        self, file_id: str, body: dict[str, Any], fields: str = FILE_FIELDS, **kw: Any
    ) -> dict[str, Any]:
        req = self.service.files().update(
            **self._all_drives({"fileId": file_id, "body": body, "fields": fields, **kw})
        )
        result: dict[str, Any] = self.call(req, f"update {file_id}")
        return result

    def delete(self, file_id: str) -> None:
        """Permanent delete; a 404 on a retry means our first try went through."""
        tries = [0]

        def fn() -> None:
            tries[0] += 1
            try:
                self.send("DELETE", self.file_url(file_id, supportsAllDrives="true"), "delete")
            except ApiError as exc:
                if not (exc.status == 404 and tries[0] > 1):
                    raise

        self.run(fn, f"delete {file_id}")

    def file_url(self, file_id: str, **params: str) -> str:
        query = "&".join(f"{k}={quote(v)}" for k, v in params.items())
        return f"{self.root_url}drive/v3/files/{quote(file_id, safe='')}" + (
            "?" + query if query else ""
        )

    def media_url(self, file_id: str) -> str:
        params = {"alt": "media", "supportsAllDrives": "true"}
        if self.opts.acknowledge_abuse:
            params["acknowledgeAbuse"] = "true"
        return self.file_url(file_id, **params)

    def start_page_token(self, drive_id: str | None) -> str:
        kw: dict[str, Any] = {}
        if drive_id:
            kw = self._all_drives({"driveId": drive_id})
        resp = self.call(self.service.changes().getStartPageToken(**kw), "changes start token")
        return str(resp["startPageToken"])
