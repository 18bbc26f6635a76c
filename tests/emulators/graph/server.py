"""HTTP(S) front of the Graph emulator: routing, auth checks, faults, stats.

One HTTPS listener (trustme certificate for 127.0.0.1) serves the identity endpoints msal
talks to, the Graph API under ``/v1.0``, pre-authenticated download URLs and upload-session
URLs; an optional plain-HTTP listener serves the same things for speed-sensitive tests.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import os
import posixpath
import re
import secrets
import shutil
import socket
import ssl
import tempfile
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import requests

from .auth import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_TENANT_ID,
    AccessToken,
    AuthState,
    Client,
    OAuthError,
)
from .faults import AUTH_KINDS, Fault, Faults
from .state import (
    FRAGMENT_MAX,
    FRAGMENT_UNIT,
    SIMPLE_UPLOAD_MAX,
    USER_NAME,
    USER_OID,
    USER_UPN,
    Drive,
    FragmentRecord,
    GraphError,
    GraphState,
    Item,
    iso,
    parse_iso,
)

JSON_TYPE = "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8"
DEFAULT_PAGE = 200
MAX_PAGE = 1000


class _Drop(Exception):
    """Close the connection without an answer (fault injection)."""


@dataclass
class Response:
    """What a route produces; ``truncate`` marks bodies the truncate fault may cut."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    truncatable: bool = False


def json_response(status: int, obj: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(obj).encode(), headers or {}, JSON_TYPE)


@dataclass
class _Addr:
    """A driveItem address: drive + base item (+ a relative path for ``root:/a/b:``)."""

    drive: Drive
    base_id: str
    rel: str | None


_Route = Callable[[bytes], Response]


class _Server(ThreadingHTTPServer):
    """Threaded server that does TLS handshakes in the worker thread and can kill sockets."""

    daemon_threads = True

    def __init__(self, emu: GraphEmulator, ssl_ctx: ssl.SSLContext | None) -> None:
        self.emu = emu
        self.ssl_ctx = ssl_ctx
        self.conns: set[socket.socket] = set()
        self.conns_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)
        scheme = "https" if ssl_ctx else "http"
        self.base_url = f"{scheme}://127.0.0.1:{self.server_address[1]}"

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = self.socket.accept()
        if self.ssl_ctx is not None:
            sock = self.ssl_ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def finish_request(self, request: Any, client_address: Any) -> None:
        with self.conns_lock:
            self.conns.add(request)
        if isinstance(request, ssl.SSLSocket):
            request.settimeout(10)
            request.do_handshake()
        super().finish_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.conns_lock:
            self.conns.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Client hang-ups and TLS errors are normal here; stay quiet."""

    def kill_connections(self) -> None:
        with self.conns_lock:
            conns = list(self.conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    """Reads the request, asks the emulator for a route, applies faults, writes the answer."""

    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    timeout = 60
    # Headers and body go out in separate writes: without TCP_NODELAY every answer waits
    # for the client's delayed ACK (~40 ms).
    disable_nagle_algorithm = True
    server: _Server
    # Per-request bookkeeping, reset by _dispatch (one handler serves a keep-alive connection).
    request_id: str = ""
    body_read: bool = False
    recorded: bool = False
    bytes_in: int = 0
    resp_status: int = 0
    kind: str = "other"
    fault_name: str = ""
    started: float = 0.0

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log (the emulator keeps its own)."""

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    # ---------------------------------------------------------------- plumbing
    def _read_exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.rfile.read(min(n - len(buf), 1 << 20))
            if not chunk:
                raise _Drop()
            buf += chunk
            self.bytes_in += len(chunk)
        return bytes(buf)

    def read_body(self) -> bytes:
        """The request body (Content-Length or chunked); read at most once per request."""
        if self.body_read:
            return b""
        self.body_read = True
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                out += self._read_exact(size)
                self.rfile.readline()
            return bytes(out)
        length = int(self.headers.get("Content-Length") or 0)
        return self._read_exact(length) if length else b""

    def discard_body(self) -> None:
        """Drain an unread body so the keep-alive connection stays usable."""
        if self.body_read:
            return
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.read_body()
            return
        self.body_read = True
        left = int(self.headers.get("Content-Length") or 0)
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 20))
            if not chunk:
                raise _Drop()
            left -= len(chunk)
            self.bytes_in += len(chunk)

    def send(self, resp: Response, truncate: bool = False) -> None:
        """Write the answer; stats are recorded first so a client never sees them lag."""
        body = b"" if self.command == "HEAD" else resp.body
        if truncate and body:
            body = body[: len(body) // 2]
        self.resp_status = resp.status
        self._record(len(body))
        self.send_response(resp.status)
        headers = {"request-id": self.request_id, "client-request-id": self.request_id}
        headers.update(resp.headers)
        if resp.content_type:
            headers["Content-Type"] = resp.content_type
        if "Content-Length" not in headers:
            headers["Content-Length"] = str(len(resp.body))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if body:
            self.wfile.write(body)
        if truncate:
            self.wfile.flush()
            raise _Drop()

    def _record(self, bytes_out: int) -> None:
        if not self.recorded:
            self.recorded = True
            self.server.emu._record(
                self.command,
                self.path,
                self.kind,
                self.resp_status,
                self.bytes_in,
                bytes_out,
                time.time() - self.started,
                self.fault_name,
            )

    def _dispatch(self) -> None:
        emu = self.server.emu
        self.started = time.time()
        self.request_id = self.headers.get("client-request-id") or str(uuid.uuid4())
        self.bytes_in = self.resp_status = 0
        self.body_read = self.recorded = False
        self.kind = "other"
        self.fault_name = ""
        try:
            try:
                split = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
                self.kind, route = emu._route(self, self.command, split.path, query)
                fault = emu.faults.draw(self.kind)
                if emu.faults.latency and self.kind not in AUTH_KINDS:
                    time.sleep(emu.faults.latency)
                body = b"" if self.kind == "upload_fragment" else self.read_body()
                if fault is not None:
                    self.fault_name = (
                        fault.action if fault.action != "status" else str(fault.status)
                    )
                    emu._count("faults_" + self.fault_name)
                    if fault.action == "drop":
                        raise _Drop()
                    if fault.action == "status":
                        self.discard_body()
                        self.send(emu._fault_response(fault, self.request_id))
                        return
                resp = route(body)
                self.send(resp, truncate=fault is not None and fault.action == "truncate")
            except OAuthError as err:
                self.discard_body()
                body_json = json.dumps(err.body()).encode()
                self.send(Response(err.status, body_json, {}, "application/json; charset=utf-8"))
            except GraphError as err:
                self.discard_body()
                self.send(json_response(err.status, err.body(self.request_id), err.headers))
        except (_Drop, OSError):
            self.fault_name = self.fault_name or "drop"
            self._record(0)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        finally:
            self._record(0)


class GraphEmulator:
    """A stateful Microsoft Graph (OneDrive/SharePoint) + Entra ID emulator for tests.

    Use as a context manager; ``authority_url``/``graph_url``/``ca_cert_path`` configure the
    client (msal with ``instance_discovery=False`` and :meth:`msal_http_client`).

    Knobs: ``faults`` (:class:`Faults`), ``expire_tokens``, ``revoke_refresh_tokens``,
    ``approve_device_code``/``deny_device_code``, ``invalidate_delta_tokens``,
    ``expire_download_urls``, ``expire_upload_sessions``, ``set_quota``, ``vault_unlocked``,
    ``delta_include_ancestors``, ``strict_upload_auth`` (401 if a bearer reaches an upload URL).
    Observation: ``stats`` (Counter: ``requests``, one key per request kind, ``status_NNN``,
    ``faults_*``, ``versions``, ``bytes_sent``/``bytes_received``), ``request_log``,
    ``requests_of(kind)``, ``upload_sessions()``, ``tree()``, ``get_item``, ``get_content``.
    Request kinds: discovery, token, devicecode, authorize, me, drive, drives, site, item,
    children, create_folder, patch, delete, content, download, upload_simple, upload_session,
    upload_fragment, upload_status, upload_cancel, delta, versions, other.
    """

    def __init__(
        self,
        *,
        tenant_id: str = DEFAULT_TENANT_ID,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        drive_type: str = "personal",
        auto_approve_device: bool = False,
        device_interval: int = 5,
        access_token_lifetime: int = 3599,
        download_url_lifetime: float = 3600.0,
        strict_upload_auth: bool = True,
        http_listener: bool = False,
        seed: int = 0,
    ) -> None:
        self.stats: Counter[str] = Counter()
        self._stats_lock = threading.Lock()
        self.request_log: deque[dict[str, Any]] = deque(maxlen=20000)
        self.state = GraphState(self.stats, drive_type)
        self.auth = AuthState(
            tenant_id=tenant_id,
            access_token_lifetime=access_token_lifetime,
            device_interval=device_interval,
            auto_approve_device=auto_approve_device,
        )
        self.auth.clients[client_id] = Client(client_id, client_secret)
        self.client_id = client_id
        self.client_secret = client_secret
        self.tenant_id = tenant_id
        self.faults = Faults(seed=seed)
        self.download_url_lifetime = download_url_lifetime
        self.strict_upload_auth = strict_upload_auth
        self.vault_unlocked = False
        self._http_listener = http_listener
        self._key = secrets.token_bytes(32)
        self._url_generation = 0
        self._stale_urls = 0  # how many of the next download URLs are born expired
        self._servers: list[_Server] = []
        self._threads: list[threading.Thread] = []
        self._tmpdir: str | None = None
        self._ca_path = ""

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> GraphEmulator:
        """Generate the certificates and start the listeners (port 0: free ports)."""
        import trustme

        self._tmpdir = tempfile.mkdtemp(prefix="graph-emu-")
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self._ca_path = os.path.join(self._tmpdir, "ca.pem")
        ca.cert_pem.write_to_path(self._ca_path)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(ctx)
        self._servers.append(_Server(self, ctx))
        if self._http_listener:
            self._servers.append(_Server(self, None))
        for srv in self._servers:
            t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1})
            t.daemon = True
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        """Stop listening and cut open keep-alive connections."""
        for srv in self._servers:
            srv.shutdown()
            srv.kill_connections()
            srv.server_close()
        for t in self._threads:
            t.join(timeout=5)
        self._servers.clear()
        self._threads.clear()
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> GraphEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---------------------------------------------------------------- addresses
    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:PORT`` of the TLS listener."""
        return self._servers[0].base_url

    @property
    def authority_url(self) -> str:
        return f"{self.base_url}/{self.tenant_id}"

    @property
    def graph_url(self) -> str:
        return f"{self.base_url}/v1.0"

    @property
    def http_graph_url(self) -> str:
        """Graph over plain HTTP (only with ``http_listener=True``)."""
        if len(self._servers) < 2:
            raise RuntimeError("start the emulator with http_listener=True")
        return f"{self._servers[1].base_url}/v1.0"

    @property
    def ca_cert_path(self) -> str:
        """PEM file of the CA that signed the listener's certificate."""
        return self._ca_path

    @property
    def default_drive_id(self) -> str:
        return self.state.default_drive_id

    def msal_http_client(self) -> requests.Session:
        """A session trusting only our CA; ``trust_env`` off so REQUESTS_CA_BUNDLE can't win."""
        session = requests.Session()
        session.verify = self._ca_path
        session.trust_env = False
        return session

    def msal_app(self, confidential: bool = False, **kwargs: Any) -> Any:
        """A ready msal Public/ConfidentialClientApplication pointed at this emulator."""
        import msal

        common: dict[str, Any] = {
            "authority": self.authority_url,
            "instance_discovery": False,
            "http_client": self.msal_http_client(),
        }
        common.update(kwargs)
        if confidential:
            return msal.ConfidentialClientApplication(
                self.client_id, client_credential=self.client_secret, **common
            )
        return msal.PublicClientApplication(self.client_id, **common)

    def act_as_browser(self, auth_uri: str) -> requests.Response:
        """Play a consenting user's browser: open ``auth_uri`` and deliver the code.

        Follows the 302 of ``response_mode=query`` or submits the auto-posting form of
        ``response_mode=form_post`` (what msal's ``acquire_token_interactive`` uses) to the
        loopback redirect URI, and returns the loopback listener's answer.
        """
        s = self.msal_http_client()
        r = s.get(auth_uri, allow_redirects=False)
        if r.status_code == 302:
            return s.get(r.headers["Location"])
        form = re.search(r'<form method="POST" action="([^"]+)">', r.text)
        if r.status_code != 200 or form is None:
            return r
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"/>', r.text))
        fields = {html.unescape(k): html.unescape(v) for k, v in fields.items()}
        return s.post(html.unescape(form.group(1)), data=fields)

    def browser_opener(self) -> Callable[..., bool]:
        """A stand-in for ``webbrowser.open`` that runs :meth:`act_as_browser` in a thread."""

        def open_url(url: str, *args: Any, **kwargs: Any) -> bool:
            threading.Thread(target=self.act_as_browser, args=(url,), daemon=True).start()
            return True

        return open_url

    # ---------------------------------------------------------------- test knobs
    def register_client(
        self, client_id: str, secret: str | None = None, allow_public_flows: bool = True
    ) -> None:
        self.auth.clients[client_id] = Client(client_id, secret, allow_public_flows)

    def expire_tokens(self) -> None:
        """Invalidate every access token issued so far (Graph answers 401)."""
        self.auth.expire_tokens()

    def revoke_refresh_tokens(self) -> None:
        """Refresh grants now fail with invalid_grant / AADSTS700082 (90 days idle)."""
        self.auth.revoke_refresh_tokens()

    def approve_device_code(self, user_code: str | None = None) -> int:
        return self.auth.approve_device_code(user_code, True)

    def deny_device_code(self, user_code: str | None = None) -> int:
        return self.auth.approve_device_code(user_code, False)

    @property
    def auto_approve_device(self) -> bool:
        return self.auth.auto_approve_device

    @auto_approve_device.setter
    def auto_approve_device(self, value: bool) -> None:
        self.auth.auto_approve_device = value

    def invalidate_delta_tokens(self) -> None:
        """Every deltaLink handed out so far now answers 410 resyncRequired."""
        self.state.invalidate_delta_tokens()

    def expire_download_urls(self) -> None:
        """Every ``@microsoft.graph.downloadUrl`` handed out so far now answers 401."""
        self._url_generation += 1

    def expire_next_download_urls(self, count: int) -> None:
        """The next ``count`` download URLs handed out have expired before their first use
        (a slow client, a queue: Graph's URLs live about an hour)."""
        with self.state.lock:
            self._stale_urls = count

    @property
    def delta_include_ancestors(self) -> bool:
        return self.state.delta_include_ancestors

    @delta_include_ancestors.setter
    def delta_include_ancestors(self, value: bool) -> None:
        self.state.delta_include_ancestors = value

    def expire_upload_sessions(self) -> None:
        """Open upload sessions vanish (their URLs answer 404)."""
        with self.state.lock:
            for s in self.state.sessions.values():
                s.expires = 0

    def upload_sessions(self) -> list[dict[str, Any]]:
        """Per session: received ranges, bytes received (resends count), fragment log."""
        with self.state.lock:
            return [s.info() for s in self.state.sessions.values()]

    def reset_stats(self) -> None:
        with self._stats_lock:
            self.stats.clear()
            self.request_log.clear()

    def requests_of(self, kind: str) -> list[dict[str, Any]]:
        """Logged requests of one kind (``download``, ``upload_fragment``...)."""
        with self._stats_lock:
            return [r for r in self.request_log if r["kind"] == kind]

    def _count(self, key: str) -> None:
        with self._stats_lock:
            self.stats[key] += 1

    def _record(
        self,
        method: str,
        path: str,
        kind: str,
        status: int,
        n_in: int,
        n_out: int,
        took: float,
        fault: str,
    ) -> None:
        with self._stats_lock:
            self.stats["requests"] += 1
            self.stats[kind] += 1
            self.stats["bytes_received"] += n_in
            self.stats["bytes_sent"] += n_out
            if status:
                self.stats[f"status_{status}"] += 1
            self.request_log.append(
                {
                    "method": method,
                    "path": path,
                    "kind": kind,
                    "status": status,
                    "bytes_in": n_in,
                    "bytes_out": n_out,
                    "seconds": took,
                    "fault": fault,
                    "time": time.time(),
                }
            )

    def _fault_response(self, fault: Fault, request_id: str) -> Response:
        messages = {
            429: "The request has been throttled",
            503: "The service is temporarily unavailable",
        }
        err = GraphError(
            fault.status,
            fault.code or ("activityLimitReached" if fault.status == 429 else "generalException"),
            messages.get(fault.status, "An unexpected error occurred"),
            "throttledRequest" if fault.status == 429 else None,
        )
        headers: dict[str, str] = {}
        if fault.status in (429, 503) and not self.faults.omit_retry_after:
            ra = self.faults.retry_after if fault.retry_after is None else fault.retry_after
            headers["Retry-After"] = str(int(ra)) if float(ra).is_integer() else str(ra)
        return json_response(fault.status, err.body(request_id), headers)

    # ---------------------------------------------------------------- seeding API
    def _target(self, path_or_id: str, drive_id: str | None) -> tuple[Drive, Item]:
        drive = self.state.drive(drive_id)
        if path_or_id in drive.items:
            return drive, drive.items[path_or_id]
        return drive, self.state.resolve(drive, drive.items[drive.root_id], path_or_id)

    def add_drive(
        self,
        drive_type: str = "business",
        site_id: str | None = None,
        name: str | None = None,
        quota_total: int | None = None,
    ) -> str:
        """Another drive (``business``/``documentLibrary``/``personal``); returns its id."""
        kwargs: dict[str, Any] = {} if quota_total is None else {"quota_total": quota_total}
        return self.state.add_drive(drive_type, site_id, name, **kwargs)

    def site_id_of(self, drive_id: str) -> str | None:
        return self.state.drive(drive_id).site_id

    def set_quota(self, total: int, drive_id: str | None = None) -> None:
        self.state.drive(drive_id).quota_total = total

    def add_folder(self, path: str, drive_id: str | None = None) -> str:
        """Create a folder and missing parents (no-op if it exists); returns its id."""
        with self.state.lock:
            drive = self.state.drive(drive_id)
            return self.state.ensure_folder(drive, drive.items[drive.root_id], path).id

    def add_file(
        self,
        path: str,
        data: bytes,
        modified: float | None = None,
        created: float | None = None,
        drive_id: str | None = None,
    ) -> str:
        """Create (or replace) a file, creating parent folders; returns its id."""
        with self.state.lock:
            drive = self.state.drive(drive_id)
            parent_path, name = posixpath.split(path.rstrip("/"))
            parent = self.state.ensure_folder(drive, drive.items[drive.root_id], parent_path)
            item, _ = self.state.put_file(
                drive, parent, name, data, "replace", modified, created, check_quota=False
            )
            return item.id

    def update(
        self,
        path_or_id: str,
        data: bytes,
        modified: float | None = None,
        drive_id: str | None = None,
    ) -> str:
        """New content for an existing file (a new version)."""
        with self.state.lock:
            drive, item = self._target(path_or_id, drive_id)
            parent = drive.items[item.parent_id or drive.root_id]
            self.state.put_file(drive, parent, item.name, data, "replace", modified, None, item)
            return item.id

    def add_onenote(self, path: str, drive_id: str | None = None) -> str:
        """A OneNote notebook: a ``package`` item holding section files."""
        with self.state.lock:
            drive = self.state.drive(drive_id)
            parent_path, name = posixpath.split(path.rstrip("/"))
            parent = self.state.ensure_folder(drive, drive.items[drive.root_id], parent_path)
            item = self.state.create_folder(drive, parent, name, "fail")
            item.kind = "package"
            for section in ("Quick Notes.one", "Open Notebook.onetoc2"):
                self.state.put_file(drive, item, section, os.urandom(2048), check_quota=False)
            self.state._touch(drive, item)
            return item.id

    def add_vault(self, name: str = "Personal Vault", drive_id: str | None = None) -> str:
        """The Personal Vault (``specialFolder.name == "vault"``), locked, with a file in it."""
        with self.state.lock:
            drive = self.state.drive(drive_id)
            root = drive.items[drive.root_id]
            vault = self.state.create_folder(drive, root, name, "fail")
            vault.special = "vault"
            self.state.put_file(drive, vault, "passport.pdf", b"%PDF-1.4 secret", check_quota=False)
            self.state._touch(drive, vault)
            return vault.id

    def rename(self, path_or_id: str, new_name: str, drive_id: str | None = None) -> str:
        with self.state.lock:
            drive, item = self._target(path_or_id, drive_id)
            self.state.patch(drive, item, {"name": new_name}, "fail")
            return item.id

    def move(
        self,
        path_or_id: str,
        new_parent: str,
        new_name: str | None = None,
        drive_id: str | None = None,
    ) -> str:
        with self.state.lock:
            drive, item = self._target(path_or_id, drive_id)
            _, parent = self._target(new_parent, drive_id)
            body: dict[str, Any] = {"parentReference": {"id": parent.id}}
            if new_name:
                body["name"] = new_name
            self.state.patch(drive, item, body, "fail")
            return item.id

    def delete(self, path_or_id: str, drive_id: str | None = None) -> None:
        with self.state.lock:
            drive, item = self._target(path_or_id, drive_id)
            self.state.delete(drive, item)

    def get_content(self, path_or_id: str, drive_id: str | None = None) -> bytes:
        with self.state.lock:
            return self._target(path_or_id, drive_id)[1].data

    def get_item(self, path_or_id: str, drive_id: str | None = None) -> dict[str, Any]:
        """The driveItem JSON Graph would return for it."""
        with self.state.lock:
            drive, item = self._target(path_or_id, drive_id)
            return self.state.item_json(drive, item, self.base_url)

    def item_id(self, path: str, drive_id: str | None = None) -> str:
        with self.state.lock:
            return self._target(path, drive_id)[1].id

    def exists(self, path_or_id: str, drive_id: str | None = None) -> bool:
        try:
            self.item_id(path_or_id, drive_id)
        except GraphError:
            return False
        return True

    def tree(self, drive_id: str | None = None) -> dict[str, bytes | None]:
        """Every path (``/a/b.txt``) with its content; None for folders and packages."""
        with self.state.lock:
            drive = self.state.drive(drive_id)
            return {
                self.state.path_of(drive, i): (i.data if i.kind == "file" else None)
                for i in drive.items.values()
                if i.kind != "root"
            }

    # ---------------------------------------------------------------- routing
    def _route(
        self, h: _Handler, method: str, path: str, query: dict[str, str]
    ) -> tuple[str, _Route]:
        """Map a request to (stats kind, handler); raises GraphError for unknown routes."""
        base = h.server.base_url
        for prefix in ("/v1.0", "/beta"):
            if path == prefix or path.startswith(prefix + "/"):
                return self._route_graph(h, method, path[len(prefix) :], query, base)
        if path == "/_layouts/15/download.aspx" and method in ("GET", "HEAD"):
            return "download", lambda body: self._download(h, query)
        m = re.fullmatch(r"/up/([A-Za-z0-9_-]+)", path)
        if m:
            return self._route_upload(h, method, m.group(1), base)
        m = re.fullmatch(
            r"/([^/]+)/(v2\.0/\.well-known/openid-configuration|oauth2/v2\.0/\w+)", path
        )
        if m:
            return self._route_auth(h, method, m.group(1), m.group(2), query, base)
        if path == "/devicelogin":
            page = b"<html><body>Enter the code (approve_device_code() in tests)</body></html>"
            return "other", lambda body: Response(200, page, {}, "text/html")
        raise GraphError(404, "itemNotFound", f"No route for {path}")

    def _route_auth(
        self, h: _Handler, method: str, tenant: str, what: str, query: dict[str, str], base: str
    ) -> tuple[str, _Route]:
        def form(body: bytes) -> dict[str, str]:
            return {k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}

        def token_json(obj: dict[str, Any]) -> Response:
            headers = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}
            return Response(200, json.dumps(obj).encode(), headers, "application/json")

        if what.endswith("openid-configuration") and method == "GET":
            cfg = self.auth.openid_configuration(base, tenant)
            return "discovery", lambda body: json_response(200, cfg)
        if what == "oauth2/v2.0/token" and method == "POST":
            return "token", lambda body: token_json(self.auth.token(base, tenant, form(body)))
        if what == "oauth2/v2.0/devicecode" and method == "POST":
            return "devicecode", lambda body: token_json(self.auth.devicecode(base, form(body)))
        if what == "oauth2/v2.0/authorize" and method == "GET":

            def authorize(body: bytes) -> Response:
                status, headers, page = self.auth.authorize(query)
                ctype = headers.pop("Content-Type", None)
                return Response(status, page, headers, ctype)

            return "authorize", authorize
        raise GraphError(404, "itemNotFound", "Unknown identity endpoint")

    def _bearer(self, h: _Handler) -> AccessToken:
        return self.auth.check_bearer(h.headers.get("Authorization"))

    def _route_graph(
        self, h: _Handler, method: str, rest: str, query: dict[str, str], base: str
    ) -> tuple[str, _Route]:
        """Authenticate first (as Graph does), then run the route under the state lock."""
        me = rest == "/me" or rest.startswith("/me/")
        try:
            kind, fn = self._graph_routes(h, method, rest, query, base)
        except GraphError as exc:
            err = exc
            kind = "other"

            def fn(body: bytes) -> Response:
                raise err

        def run(body: bytes) -> Response:
            tok = self._bearer(h)
            if me and tok.kind == "app":
                raise GraphError(
                    400,
                    "BadRequest",
                    "/me request is only valid with delegated authentication flow.",
                )
            with self.state.lock:
                return fn(body)

        return kind, run

    def _graph_routes(
        self, h: _Handler, method: str, rest: str, query: dict[str, str], base: str
    ) -> tuple[str, _Route]:
        """Graph paths: pick the drive, then the item address, then the action."""
        st = self.state

        if rest == "/me" and method == "GET":
            user = {
                "id": USER_OID,
                "displayName": USER_NAME,
                "userPrincipalName": USER_UPN,
                "mail": USER_UPN,
            }
            return "me", lambda body: json_response(200, user)
        if rest in ("/me/drives",) and method == "GET":
            return "drives", lambda body: self._list_drives(base, None)
        m = re.fullmatch(r"/sites/([^/]+)(/drives)?", rest)
        if m and method == "GET":
            site_id = unquote(m.group(1))
            if m.group(2):
                return "drives", lambda body: self._list_drives(base, site_id)

            def site(body: bytes) -> Response:
                info = st.sites.get(site_id)
                if info is None:
                    raise GraphError(404, "itemNotFound", "Site not found")
                return json_response(200, {**info, "webUrl": f"{base}/sites/{site_id}"})

            return "site", site
        drive_id: str | None
        m = re.match(r"/me/drive(?=/|$)", rest) or re.match(r"/users/[^/]+/drive(?=/|$)", rest)
        if m:
            drive_id, tail = None, rest[m.end() :]
        elif m := re.match(r"/drives/([^/]+)", rest):
            drive_id, tail = unquote(m.group(1)), rest[m.end() :]
        elif m := re.match(r"/sites/([^/]+)/drive(?=/|$)", rest):
            site_id = unquote(m.group(1))
            with st.lock:
                drive_id = st.site_drive(site_id).id
            tail = rest[m.end() :]
        else:
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{rest}'.")
        with st.lock:
            drive = st.drive(drive_id)
        if tail == "":
            if method != "GET":
                raise GraphError(405, "notSupported", "Method not allowed on a drive")
            return "drive", lambda body: json_response(200, st.drive_json(drive, base))
        m = re.match(r"/(root|items/([^/:]+))", tail)
        if not m:
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{tail}'.")
        base_id = drive.root_id if m.group(1) == "root" else unquote(m.group(2))
        more = tail[m.end() :]
        rel: str | None = None
        if more.startswith(":"):
            end = more.find(":", 1)
            rel, more = (
                (unquote(more[1:]), "") if end < 0 else (unquote(more[1:end]), more[end + 1 :])
            )
            rel = rel.strip("/") if rel.strip("/") else None
        addr = _Addr(drive, base_id, rel)
        action = more.strip("/")
        table: dict[tuple[str, str], tuple[str, Callable[[bytes], Response]]] = {
            ("GET", ""): ("item", lambda b: self._get_item(addr, query, base)),
            ("PATCH", ""): ("patch", lambda b: self._patch(h, addr, query, b, base)),
            ("DELETE", ""): ("delete", lambda b: self._delete(h, addr)),
            ("GET", "children"): ("children", lambda b: self._children(h, addr, query, base)),
            ("POST", "children"): ("create_folder", lambda b: self._mkdir(addr, b, base)),
            ("GET", "content"): ("content", lambda b: self._content(addr, base)),
            ("PUT", "content"): ("upload_simple", lambda b: self._put(h, addr, query, b, base)),
            ("POST", "createUploadSession"): (
                "upload_session",
                lambda b: self._create_session(addr, query, b, base),
            ),
            ("GET", "delta"): ("delta", lambda b: self._delta(h, addr, query, base)),
            ("GET", "versions"): ("versions", lambda b: self._versions(addr)),
        }
        entry = table.get((method, action))
        if entry is None:
            raise GraphError(400, "invalidRequest", f"Unsupported: {method} {action or 'item'}")
        return entry[0], entry[1]

    # ---------------------------------------------------------------- graph actions
    def _resolve(self, addr: _Addr) -> Item:
        st = self.state
        item = st.item(addr.drive, addr.base_id)
        if addr.rel:
            item = st.resolve(addr.drive, item, addr.rel)
        self._guard_vault(addr.drive, item)
        return item

    def _guard_vault(self, drive: Drive, item: Item) -> None:
        if not self.vault_unlocked and self.state.in_vault(drive, item):
            raise GraphError(403, "accessDenied", "The Personal Vault is locked.", "vaultLocked")

    def _download_url(self, base: str, drive: Drive, item: Item) -> str:
        exp = int(time.time() + self.download_url_lifetime)
        with self.state.lock:
            if self._stale_urls > 0:
                self._stale_urls -= 1
                exp = int(time.time()) - 1
        sig = self._sign(f"{drive.id}|{item.id}|{exp}")
        q = urlencode({"UniqueId": item.id, "drive": drive.id, "tempauth": f"{exp}.{sig}"})
        return f"{base}/_layouts/15/download.aspx?{q}"

    def _sign(self, text: str) -> str:
        msg = f"{self._url_generation}|{text}".encode()
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()[:32]

    def _item_json(
        self, drive: Drive, item: Item, base: str, in_delta: bool = False
    ) -> dict[str, Any]:
        url = self._download_url(base, drive, item) if item.kind == "file" else None
        return self.state.item_json(drive, item, base, download_url=url, in_delta=in_delta)

    @staticmethod
    def _select(obj: dict[str, Any], select: str | None) -> dict[str, Any]:
        if not select:
            return obj
        keys = {s.strip() for s in select.split(",") if s.strip()}
        if "content.downloadUrl" in keys:
            keys.add("@microsoft.graph.downloadUrl")
        keys |= {"id", "deleted"}
        return {k: v for k, v in obj.items() if k in keys}

    @staticmethod
    def _check_if_match(h: _Handler, item: Item, obj: dict[str, Any]) -> None:
        want = h.headers.get("If-Match")
        if want and want != "*" and want not in (obj["eTag"], obj["cTag"]):
            raise GraphError(412, "preconditionFailed", "ETag does not match current item's value")

    def _list_drives(self, base: str, site_id: str | None) -> Response:
        drives = [
            self.state.drive_json(d, base)
            for d in self.state.drives.values()
            if (site_id is None and d.site_id is None) or (site_id and d.site_id == site_id)
        ]
        return json_response(200, {"value": drives})

    def _get_item(self, addr: _Addr, query: dict[str, str], base: str) -> Response:
        item = self._resolve(addr)
        obj = self._item_json(addr.drive, item, base)
        return json_response(200, self._select(obj, query.get("$select")))

    def _children(self, h: _Handler, addr: _Addr, query: dict[str, str], base: str) -> Response:
        item = self._resolve(addr)
        if not item.is_container:
            raise GraphError(400, "invalidRequest", "The item is not a folder")
        if item.special == "vault" and not self.vault_unlocked:
            raise GraphError(403, "accessDenied", "The Personal Vault is locked.", "vaultLocked")
        top = max(1, min(int(query.get("$top") or DEFAULT_PAGE), MAX_PAGE))
        after = query.get("$skiptoken")
        names = sorted(item.children)
        if after:
            after_name = bytes.fromhex(after).decode()
            names = [n for n in names if n > after_name]
        page = names[:top]
        values = [
            self._select(
                self._item_json(addr.drive, addr.drive.items[item.children[n]], base),
                query.get("$select"),
            )
            for n in page
        ]
        out: dict[str, Any] = {
            "@odata.context": f"{base}/v1.0/$metadata#Collection(driveItem)",
            "value": values,
        }
        if len(names) > top:
            params = {k: v for k, v in query.items() if k != "$skiptoken"}
            params["$skiptoken"] = page[-1].encode().hex()
            out["@odata.nextLink"] = f"{base}{urlsplit(h.path).path}?{urlencode(params)}"
        return json_response(200, out)

    def _mkdir(self, addr: _Addr, body: bytes, base: str) -> Response:
        parent = self._resolve(addr)
        req = _json_body(body)
        if "folder" not in req or not isinstance(req.get("name"), str):
            raise GraphError(400, "invalidRequest", "Only folders can be created with POST")
        conflict = str(req.get("@microsoft.graph.conflictBehavior", "fail"))
        item = self.state.create_folder(addr.drive, parent, req["name"], conflict)
        return json_response(201, self._item_json(addr.drive, item, base))

    def _content(self, addr: _Addr, base: str) -> Response:
        item = self._resolve(addr)
        if item.kind != "file":
            raise GraphError(400, "invalidRequest", "Only files have content")
        return Response(302, b"", {"Location": self._download_url(base, addr.drive, item)})

    def _write_target(self, addr: _Addr) -> tuple[Item, str, Item | None]:
        """(parent, name, existing) for PUT content / createUploadSession."""
        st = self.state
        base_item = st.item(addr.drive, addr.base_id)
        if not addr.rel:
            if base_item.kind != "file":
                raise GraphError(400, "invalidRequest", "Cannot write content to a folder")
            parent = addr.drive.items[base_item.parent_id or addr.drive.root_id]
            self._guard_vault(addr.drive, base_item)
            return parent, base_item.name, base_item
        parent_rel, name = posixpath.split(addr.rel)
        existing = st.lookup(addr.drive, base_item, addr.rel)
        parent_item = st.lookup(addr.drive, base_item, parent_rel)
        if parent_item is None:
            parent_item = st.ensure_folder(addr.drive, base_item, parent_rel)
        probe = existing or parent_item
        self._guard_vault(addr.drive, probe)
        if parent_item.special == "vault" and not self.vault_unlocked:
            raise GraphError(403, "accessDenied", "The Personal Vault is locked.", "vaultLocked")
        if existing is not None and existing.kind != "file":
            raise GraphError(409, "nameAlreadyExists", f"{name!r} is a folder")
        return parent_item, name, existing

    def _storage_check(self) -> None:
        if self.faults.insufficient_storage:
            self._count("faults_507")
            raise GraphError(507, "quotaLimitReached", "Insufficient Space Available")

    def _put(
        self, h: _Handler, addr: _Addr, query: dict[str, str], body: bytes, base: str
    ) -> Response:
        if len(body) > SIMPLE_UPLOAD_MAX:
            raise GraphError(
                413,
                "requestTooLarge",
                "Simple upload is limited to 4 MB; use an upload session.",
            )
        self._storage_check()
        parent, name, existing = self._write_target(addr)
        conflict = query.get("@microsoft.graph.conflictBehavior", "replace")
        if existing is not None:
            self._check_if_match(h, existing, self._item_json(addr.drive, existing, base))
            if conflict == "fail":
                raise GraphError(409, "nameAlreadyExists", f"{existing.name} already exists")
            if conflict == "replace":
                existing_target: Item | None = existing
            else:
                existing_target = None
        else:
            existing_target = None
        item, created = self.state.put_file(
            addr.drive, parent, name, body, conflict, target=existing_target
        )
        return json_response(201 if created else 200, self._item_json(addr.drive, item, base))

    def _create_session(
        self, addr: _Addr, query: dict[str, str], body: bytes, base: str
    ) -> Response:
        self._storage_check()
        req = _json_body(body).get("item") or {}
        if not isinstance(req, dict):
            raise GraphError(400, "invalidRequest", "item must be an object")
        conflict = str(
            req.get("@microsoft.graph.conflictBehavior")
            or query.get("@microsoft.graph.conflictBehavior")
            or "replace"
        )
        fsi = req.get("fileSystemInfo") or {}
        mtime = parse_iso(fsi["lastModifiedDateTime"]) if "lastModifiedDateTime" in fsi else None
        ctime = parse_iso(fsi["createdDateTime"]) if "createdDateTime" in fsi else None
        parent, name, existing = self._write_target(addr)
        if existing is not None and conflict == "fail":
            raise GraphError(409, "nameAlreadyExists", f"{existing.name} already exists")
        target = existing if conflict == "replace" else None
        session = self.state.create_session(
            addr.drive, parent, name, target, conflict, ctime, mtime
        )
        return json_response(
            200,
            {
                "@odata.context": f"{base}/v1.0/$metadata#microsoft.graph.uploadSession",
                "uploadUrl": f"{base}/up/{session.id}",
                "expirationDateTime": iso(session.expires),
                "nextExpectedRanges": ["0-"],
            },
        )

    def _patch(
        self, h: _Handler, addr: _Addr, query: dict[str, str], body: bytes, base: str
    ) -> Response:
        item = self._resolve(addr)
        self._check_if_match(h, item, self._item_json(addr.drive, item, base))
        req = _json_body(body)
        conflict = str(
            req.pop("@microsoft.graph.conflictBehavior", None)
            or query.get("@microsoft.graph.conflictBehavior")
            or "fail"
        )
        self.state.patch(addr.drive, item, req, conflict)
        return json_response(200, self._item_json(addr.drive, item, base))

    def _delete(self, h: _Handler, addr: _Addr) -> Response:
        item = self._resolve(addr)
        self._check_if_match(h, item, self._item_json(addr.drive, item, ""))
        self.state.delete(addr.drive, item)
        return Response(204)

    def _versions(self, addr: _Addr) -> Response:
        item = self._resolve(addr)
        if item.kind != "file":
            raise GraphError(400, "invalidRequest", "Only files have versions")
        versions = [{"mtime": item.fs_modified, "size": len(item.data)}]
        versions += [{"mtime": m, "size": s} for m, s in reversed(item.versions)]
        n = len(versions)
        out = [
            {
                "id": f"{n - i}.0",
                "lastModifiedDateTime": iso(v["mtime"]),
                "size": v["size"],
                "lastModifiedBy": {"user": {"displayName": USER_NAME, "id": USER_OID}},
            }
            for i, v in enumerate(versions)
        ]
        return json_response(200, {"value": out})

    def _delta(self, h: _Handler, addr: _Addr, query: dict[str, str], base: str) -> Response:
        st = self.state
        drive = addr.drive
        if addr.base_id != drive.root_id or addr.rel:
            raise GraphError(400, "notSupported", "Delta is only supported on the root")
        token = query.get("token")
        top = max(1, min(int(query.get("$top") or DEFAULT_PAGE), MAX_PAGE))
        cursor = st.delta_cursors.get(token) if token else None
        if cursor is not None and cursor[0] == drive.id:
            ids, head = cursor[1], cursor[2]
        else:
            ids, head = st.delta_start(drive, token)
        page, ids = ids[:top], ids[top:]
        values = []
        for item_id in page:
            if item_id in drive.items:
                obj = self._item_json(drive, drive.items[item_id], base, in_delta=True)
            elif item_id in drive.tombstones:
                obj = st.tombstone_json(drive, drive.tombstones[item_id])
            else:
                continue
            values.append(self._select(obj, query.get("$select")))
        params = {k: v for k, v in query.items() if k != "token"}
        link = f"{base}{urlsplit(h.path).path}?"
        out: dict[str, Any] = {
            "@odata.context": f"{base}/v1.0/$metadata#Collection(driveItem)",
            "value": values,
        }
        if ids:
            cid = "c" + secrets.token_hex(16)
            st.delta_cursors[cid] = (drive.id, ids, head)
            while len(st.delta_cursors) > 500:
                st.delta_cursors.pop(next(iter(st.delta_cursors)))
            out["@odata.nextLink"] = link + urlencode({**params, "token": cid})
        else:
            out["@odata.deltaLink"] = link + urlencode(
                {**params, "token": st.delta_token(drive, head)}
            )
        return json_response(200, out)

    # ---------------------------------------------------------------- download URL
    def _download(self, h: _Handler, query: dict[str, str]) -> Response:
        exp_sig = query.get("tempauth", "")
        exp, _, sig = exp_sig.partition(".")
        drive_id, item_id = query.get("drive", ""), query.get("UniqueId", "")
        if not exp.isdigit() or not hmac.compare_digest(
            sig, self._sign(f"{drive_id}|{item_id}|{exp}")
        ):
            raise GraphError(401, "unauthenticated", "Invalid tempauth token")
        if int(exp) < time.time():
            raise GraphError(401, "unauthenticated", "The tempauth token has expired")
        with self.state.lock:
            drive = self.state.drive(drive_id)
            item = self.state.item(drive, item_id)
            data = item.data
            etag = f'"{{{item.id}}},{item.etag_v}"'
            mime = self.state.item_json(drive, item, "")["file"]["mimeType"]
        headers = {"Accept-Ranges": "bytes", "ETag": etag}
        rng = h.headers.get("Range")
        size = len(data)
        if rng:
            m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())
            if m and (m.group(1) or m.group(2)):
                if m.group(1):
                    start = int(m.group(1))
                    end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
                else:
                    start, end = max(0, size - int(m.group(2))), size - 1
                if start >= size or end < start:
                    headers["Content-Range"] = f"bytes */{size}"
                    return Response(416, b"", headers, mime)
                headers["Content-Range"] = f"bytes {start}-{end}/{size}"
                self._count("download_range")
                return Response(206, data[start : end + 1], headers, mime, truncatable=True)
        return Response(200, data, headers, mime, truncatable=True)

    # ---------------------------------------------------------------- upload URL
    def _route_upload(
        self, h: _Handler, method: str, session_id: str, base: str
    ) -> tuple[str, _Route]:
        st = self.state

        def status(body: bytes) -> Response:
            with st.lock:
                s = st.session(session_id)
                return json_response(
                    200,
                    {
                        "expirationDateTime": iso(s.expires),
                        "nextExpectedRanges": s.next_expected_ranges(),
                    },
                )

        def cancel(body: bytes) -> Response:
            with st.lock:
                st.session(session_id).state = "cancelled"
            return Response(204)

        if method == "GET":
            return "upload_status", status
        if method == "DELETE":
            return "upload_cancel", cancel
        if method == "PUT":
            return "upload_fragment", lambda body: self._fragment(h, session_id, base)
        raise GraphError(405, "notSupported", "Method not allowed on an upload session")

    def _fragment(self, h: _Handler, session_id: str, base: str) -> Response:
        """One ``PUT uploadUrl`` with ``Content-Range``; the body is read here (streamed)."""
        st = self.state
        length = int(h.headers.get("Content-Length") or -1)
        m = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", (h.headers.get("Content-Range") or "").strip())
        if self.strict_upload_auth and h.headers.get("Authorization"):
            raise GraphError(
                401,
                "unauthenticated",
                "Do not send an Authorization header to an upload URL",
            )
        if m is None or length < 0:
            raise GraphError(400, "invalidRequest", "Missing or malformed Content-Range")
        start, end, total = (int(g) for g in m.groups())
        size = end - start + 1
        if end < start or end >= total or size != length:
            raise GraphError(
                400, "invalidRange", "The Content-Range does not match the request body"
            )
        with st.lock:
            session = st.session(session_id)
            if session.total is not None and session.total != total:
                raise GraphError(400, "invalidRange", "The total size changed")
            if size >= FRAGMENT_MAX:
                raise GraphError(400, "invalidRequest", "Fragments must be smaller than 60 MiB")
            if end != total - 1 and size % FRAGMENT_UNIT:
                raise GraphError(
                    400, "invalidRequest", "Fragment size must be a multiple of 320 KiB"
                )
            overlap = session.overlaps(start, end)
        cut = None if overlap else self.faults.upload_drop_point(size)
        if cut is not None:
            h.body_read = True
            partial = h._read_exact(cut) if cut else b""
            with st.lock:
                session.bytes_received += len(partial)
                session.fragments.append(FragmentRecord(start, end, 0))
            self._count("faults_upload_drop")
            raise _Drop()
        data = h.read_body()
        with st.lock:
            session = st.session(session_id)
            session.bytes_received += len(data)
            if session.overlaps(start, end):
                session.fragments.append(FragmentRecord(start, end, 416))
                raise GraphError(
                    416,
                    "invalidRange",
                    "The uploaded fragment overlaps with data that has already been received.",
                )
            if self.faults.insufficient_storage:
                session.fragments.append(FragmentRecord(start, end, 507))
                self._storage_check()
            session.total = total
            session.chunks[start] = data
            session.add_range(start, end)
            if session.received == [(0, total - 1)]:
                try:
                    item, created = st.finish_session(session)
                except GraphError as err:
                    session.fragments.append(FragmentRecord(start, end, err.status))
                    raise
                code = 201 if created else 200
                session.fragments.append(FragmentRecord(start, end, code))
                drive = st.drive(session.drive_id)
                return json_response(code, self._item_json(drive, item, base))
            session.fragments.append(FragmentRecord(start, end, 202))
            return json_response(
                202,
                {
                    "expirationDateTime": iso(session.expires),
                    "nextExpectedRanges": session.next_expected_ranges(),
                },
            )


def _json_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        obj = json.loads(body)
    except ValueError as exc:
        raise GraphError(400, "invalidRequest", f"Invalid JSON body: {exc}") from None
    if not isinstance(obj, dict):
        raise GraphError(400, "invalidRequest", "The body must be a JSON object")
    return obj
