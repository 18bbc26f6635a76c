"""DriveEmulator: the server's lifecycle, client helpers and the Python seeding API."""

from __future__ import annotations

import functools
import json
import threading
from datetime import datetime
from typing import Any

from .api import Api, LoggedRequest
from .auth import CLIENT_ID, CLIENT_SECRET, Grant, TokenStore
from .faults import Faults
from .model import DOC_KINDS, FOLDER, SHORTCUT, Item, now, parse_time
from .server import DriveHTTPServer
from .state import DEFAULT_EXPORT_SIZE, DriveState

DRIVE_SCOPE = "https://www.googleapis.com/auth/drive"


@functools.lru_cache(maxsize=1)
def _static_doc() -> str:
    from googleapiclient import discovery_cache

    doc = discovery_cache.get_static_doc("drive", "v3")
    if doc is None:
        raise RuntimeError("google-api-python-client ships no static drive v3 document")
    return str(doc)


def discovery_doc(root_url: str) -> dict[str, Any]:
    """The static Drive v3 discovery document, pointed at `root_url` (ending in '/')."""
    doc: dict[str, Any] = json.loads(_static_doc())
    doc["rootUrl"] = root_url
    doc["baseUrl"] = root_url + doc["servicePath"]
    doc["batchPath"] = "batch/drive/v3"
    return doc


def build_service(root_url: str, credentials: Any) -> Any:
    """A googleapiclient Resource for the emulator at `root_url` (media uploads included)."""
    from googleapiclient.discovery import build_from_document

    return build_from_document(discovery_doc(root_url), credentials=credentials)


def _time(value: datetime | str | float | None) -> datetime | None:
    return None if value is None else parse_time(value)


class DriveEmulator:
    """A stateful Google Drive v3 server on 127.0.0.1 for tests driven by the real client."""

    def __init__(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        seed: int | None = 0,
        token_lifetime: int = 3600,
        storage_limit: int | None = None,
    ) -> None:
        self.host = host
        self._port = port
        self.state = DriveState(seed)
        self.tokens = TokenStore(self.state.random_string, lifetime=token_lifetime)
        self.faults = Faults(seed=seed)
        self.api = Api(self.state, self.tokens, self.faults, storage_limit)
        self._server: DriveHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> DriveEmulator:
        self._server = DriveHTTPServer((self.host, self._port), self.api)
        self._port = self._server.server_address[1]
        self.state.base_url = self.url
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"drive-emulator-{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> DriveEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._port}/"

    @property
    def token_uri(self) -> str:
        return self.url + "token"

    # -- observation ---------------------------------------------------------------------

    @property
    def stats(self) -> dict[str, int]:
        """Live counters; see api.STAT_KEYS."""
        return self.api.stats

    @property
    def request_log(self) -> list[LoggedRequest]:
        return self.api.log

    def reset_stats(self) -> None:
        """Zero the counters and clear the request log."""
        self.api.reset_stats()

    @property
    def internal_errors(self) -> list[str]:
        """Tracebacks of emulator bugs (answered as 500); tests should expect none."""
        return self.api.internal_errors

    # -- auth and clients ----------------------------------------------------------------

    def expire_tokens(self) -> None:
        """Invalidate every access token: the next API call gets 401 and must refresh."""
        self.tokens.expire_all()

    def issue_refresh_token(self, scopes: tuple[str, ...] = (), token: str | None = None) -> str:
        """Register a refresh token for the emulator's OAuth client (`token` to choose it)."""
        return self.tokens.issue_refresh_token(CLIENT_ID, tuple(scopes), token)

    def issue_access_token(self, scopes: tuple[str, ...] = ()) -> str:
        """A bearer token for raw HTTP checks (requests, curl) without a refresh."""
        return self.tokens.issue_access_token(Grant(CLIENT_ID, tuple(scopes)))

    def credentials(self, scopes: list[str] | None = None) -> Any:
        """User credentials holding only a refresh token: the first call refreshes."""
        from google.oauth2.credentials import Credentials

        refresh = self.issue_refresh_token(tuple(scopes or ()))
        return Credentials(
            None,
            refresh_token=refresh,
            token_uri=self.token_uri,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            scopes=scopes,
        )

    def client_config(self) -> dict[str, dict[str, Any]]:
        """An installed-app client config for google_auth_oauthlib.flow.InstalledAppFlow."""
        return {
            "installed": {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "auth_uri": self.url + "o/oauth2/auth",
                "token_uri": self.token_uri,
                "redirect_uris": ["http://localhost"],
            }
        }

    def service_account_info(
        self, email: str = "backup@emulator.iam.gserviceaccount.com"
    ) -> dict[str, str]:
        """A service-account key file body (fresh RSA key) whose token_uri is the emulator."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return {
            "type": "service_account",
            "project_id": "emulator",
            "private_key_id": self.state.random_string(40),
            "private_key": pem,
            "client_email": email,
            "client_id": "100000000000000000001",
            "auth_uri": self.url + "o/oauth2/auth",
            "token_uri": self.token_uri,
        }

    def discovery_doc(self) -> dict[str, Any]:
        return discovery_doc(self.url)

    def build_service(self, credentials: Any = None) -> Any:
        """A drive v3 Resource talking to this emulator (fresh credentials by default)."""
        return build_service(self.url, credentials or self.credentials())

    # -- seeding (no HTTP; every mutation lands in the change log) ------------------------

    @property
    def root_id(self) -> str:
        return self.state.root_id

    def add_folder(self, name: str, parent_id: str = "root", drive_id: str | None = None) -> str:
        """A folder; with `drive_id` and the default parent, at the root of that shared drive."""
        parent = drive_id if drive_id and parent_id == "root" else parent_id
        return self.state.create(name, FOLDER, parent).id

    def add_file(
        self,
        name: str,
        data: bytes,
        parent_id: str = "root",
        mime_type: str = "application/octet-stream",
        modified_time: datetime | str | float | None = None,
    ) -> str:
        return self.state.create(
            name, mime_type, parent_id, content=data, modified=_time(modified_time)
        ).id

    def add_doc(
        self,
        name: str,
        kind: str = "document",
        parent_id: str = "root",
        export_size: int | dict[str, int] = DEFAULT_EXPORT_SIZE,
        modified_time: datetime | str | float | None = None,
    ) -> str:
        """A Google Doc/Sheet/Slides/Drawing: each export format yields `export_size` bytes."""
        if kind not in DOC_KINDS:
            raise ValueError(f"kind must be one of {sorted(DOC_KINDS)}")
        return self.state.create(
            name, DOC_KINDS[kind], parent_id, export_size=export_size, modified=_time(modified_time)
        ).id

    def add_shortcut(self, name: str, target_id: str, parent_id: str = "root") -> str:
        return self.state.create(name, SHORTCUT, parent_id, shortcut_target=target_id).id

    def add_shared_drive(self, name: str) -> str:
        """A shared drive; its id is also the id of its root folder."""
        return self.state.add_shared_drive(name).id

    def share_with_me(
        self, name: str, data: bytes | None = None, mime_type: str = "application/octet-stream"
    ) -> str:
        """An item owned by someone else, outside My Drive (`sharedWithMe`); data=None: a folder."""
        if data is None:
            return self.state.create(name, FOLDER, None, shared_with_me=True).id
        return self.state.create(name, mime_type, None, content=data, shared_with_me=True).id

    def trash(self, file_id: str) -> None:
        self.state.set_trashed(file_id, True)

    def untrash(self, file_id: str) -> None:
        self.state.set_trashed(file_id, False)

    def rename(self, file_id: str, name: str) -> None:
        self.state.rename(file_id, name)

    def move(self, file_id: str, new_parent_id: str) -> None:
        with self.state.lock:
            item = self.state.get(file_id)
            self.state.move(item.id, [new_parent_id], list(item.parents))

    def delete(self, file_id: str) -> None:
        self.state.delete(file_id)

    def update_content(
        self, file_id: str, data: bytes, modified_time: datetime | str | float | None = None
    ) -> None:
        self.state.set_content(file_id, data, modified=_time(modified_time))

    def update_doc(self, file_id: str, export_size: int | None = None) -> None:
        """Edit a Doc: new export bytes (and optionally a new size) for every format."""
        with self.state.lock:
            item = self.state.get(file_id)
            if export_size is not None:
                item.export_sizes = dict.fromkeys(item.export_sizes, export_size)
            item.content_version += 1
            item.modified = now()
            self.state.touch(item)

    # -- inspection ----------------------------------------------------------------------

    def item(self, file_id: str) -> Item:
        return self.state.get(file_id)

    def metadata(self, file_id: str) -> dict[str, object]:
        """The full files resource, as `fields=*` would return it."""
        return self.state.resource(self.state.get(file_id))

    def get_content(self, file_id: str) -> bytes:
        item = self.state.get(file_id)
        if item.content is None:
            raise ValueError(f"{file_id} ({item.mime_type}) has no binary content")
        return item.content

    def export_content(self, file_id: str, mime_type: str) -> bytes:
        return self.state.export_bytes(self.state.get(file_id), mime_type)

    def children(self, folder_id: str = "root") -> list[Item]:
        return self.state.children(folder_id)

    def find(self, path: str, root_id: str = "root") -> str:
        """The id at a '/'-separated path below `root_id` (first match by name, then id)."""
        current = self.state.resolve(root_id)
        for part in [p for p in path.split("/") if p]:
            match = [c for c in self.state.children(current) if c.name == part]
            if not match:
                raise KeyError(path)
            current = match[0].id
        return current

    def tree(self, root_id: str = "root", include_trashed: bool = False) -> dict[str, int | str]:
        """Path -> size | MIME type | 'folder' | '-> target'; see DriveState.tree."""
        return self.state.tree(root_id, include_trashed)

    def changes_since(self, token: str | int) -> list[str]:
        """File ids changed since a start page token, in log order (duplicates kept)."""
        with self.state.lock:
            return [c.file_id for c in self.state.changes[int(token) - 1 :]]

    @property
    def start_page_token(self) -> str:
        return str(self.state.seq + 1)
