"""The HTTP(S) listener: TLS handshakes, request bodies, faults, answers and per-request stats.

One HTTPS listener (trustme certificate for 127.0.0.1) serves the identity endpoints msal
talks to, the Graph API under ``/v1.0``, pre-authenticated download URLs and upload-session
URLs; an optional plain-HTTP listener serves the same things for speed-sensitive tests.
Dropped connections and truncated bodies are made here, since they only exist on a socket.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from .auth import OAuthError
from .faults import AUTH_KINDS, Fault, Faults
from .routes import route
from .state import GraphError
from .wire import Drop, Response, json_response

if TYPE_CHECKING:
    from .emulator import GraphEmulator


class GraphHTTPServer(ThreadingHTTPServer):
    """Threaded server that does TLS handshakes in the worker thread and can kill sockets."""

    daemon_threads = True

    def __init__(self, emu: GraphEmulator, ssl_ctx: ssl.SSLContext | None) -> None:
        self.emu = emu
        self.ssl_ctx = ssl_ctx
        self.conns: set[socket.socket] = set()
        self.conns_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), Handler)
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


class Handler(BaseHTTPRequestHandler):
    """Reads the request, asks the emulator for a route, applies faults, writes the answer."""

    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    timeout = 60
    # Headers and body go out in separate writes: without TCP_NODELAY every answer waits
    # for the client's delayed ACK (~40 ms).
    disable_nagle_algorithm = True
    server: GraphHTTPServer
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
    def read_exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.rfile.read(min(n - len(buf), 1 << 20))
            if not chunk:
                raise Drop()
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
                out += self.read_exact(size)
                self.rfile.readline()
            return bytes(out)
        length = int(self.headers.get("Content-Length") or 0)
        return self.read_exact(length) if length else b""

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
                raise Drop()
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
            raise Drop()

    def _record(self, bytes_out: int) -> None:
        if not self.recorded:
            self.recorded = True
            self.server.emu.record_request(
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
                self.kind, handler = route(emu, self, self.command, split.path, query)
                fault = emu.faults.draw(self.kind)
                if emu.faults.latency and self.kind not in AUTH_KINDS:
                    time.sleep(emu.faults.latency)
                body = b"" if self.kind == "upload_fragment" else self.read_body()
                if fault is not None:
                    self.fault_name = (
                        fault.action if fault.action != "status" else str(fault.status)
                    )
                    emu.count("faults_" + self.fault_name)
                    if fault.action == "drop":
                        raise Drop()
                    if fault.action == "status":
                        self.discard_body()
                        self.send(fault_response(emu.faults, fault, self.request_id))
                        return
                resp = handler(body)
                self.send(resp, truncate=fault is not None and fault.action == "truncate")
            except OAuthError as err:
                self.discard_body()
                body_json = json.dumps(err.body()).encode()
                self.send(Response(err.status, body_json, {}, "application/json; charset=utf-8"))
            except GraphError as err:
                self.discard_body()
                self.send(json_response(err.status, err.body(self.request_id), err.headers))
        except (Drop, OSError):
            self.fault_name = self.fault_name or "drop"
            self._record(0)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        finally:
            self._record(0)


def fault_response(faults: Faults, fault: Fault, request_id: str) -> Response:
    """The Graph error an injected status fault answers with (Retry-After on 429/503)."""
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
    if fault.status in (429, 503) and not faults.omit_retry_after:
        ra = faults.retry_after if fault.retry_after is None else fault.retry_after
        headers["Retry-After"] = str(int(ra)) if float(ra).is_integer() else str(ra)
    return json_response(fault.status, err.body(request_id), headers)
