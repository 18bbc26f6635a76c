"""The HTTP/1.1 keep-alive server: turns sockets into Requests and Outcomes into bytes.

Also where dropped connections (FIN or RST) and truncated bodies are produced, since those
faults only exist at the socket level.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .api import Api, Outcome
from .wire import Request


class DriveHTTPServer(ThreadingHTTPServer):
    """Tracks open connections so stop() can close idle keep-alive sockets at once."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], api: Api) -> None:
        self.api = api
        self._conns: set[socket.socket] = set()
        self._aborted: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: socket.socket, client_address: Any) -> None:  # type: ignore[override]
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        with self._conns_lock:
            self._conns.discard(request)
            aborted = request in self._aborted
            self._aborted.discard(request)
        if aborted:  # RST: no FIN first, linger 0 is already set
            request.close()
            return
        try:
            request.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        _drain(request)
        self.close_request(request)

    def abort(self, request: socket.socket) -> None:
        request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with self._conns_lock:
            self._aborted.add(request)

    def close_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _drain(sock: socket.socket) -> None:
    """Read what the client still sends after our FIN, then close without an RST.

    A client that reuses the dead keep-alive connection then sees a clean EOF (which httplib2
    and urllib3 retry on a new connection) instead of a broken pipe: one injected fault stays
    one failed request.
    """
    deadline = time.monotonic() + 5
    try:
        sock.settimeout(0.2)
        while time.monotonic() < deadline and sock.recv(65536):
            pass
    except OSError:
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "DriveEmulator/1.0"
    sys_version = ""
    timeout = 300  # idle keep-alive connections end eventually
    # Headers and body go out in separate writes: without TCP_NODELAY every answer waits
    # for the client's delayed ACK (~40 ms).
    disable_nagle_algorithm = True
    server: DriveHTTPServer

    def log_message(self, format: str, *args: object) -> None:
        pass  # the Api keeps a structured log

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _serve(self) -> None:
        body = self._read_body()
        split = urlsplit(self.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        headers = {key.lower(): value for key, value in self.headers.items()}
        req = Request(self.command, unquote(split.path), query, headers, body, self.path)
        self._send(self.server.api.handle(req))

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, outcome: Outcome) -> None:
        resp = outcome.response
        if resp is None:  # dropped: close (or reset) without a byte of answer
            self.close_connection = True
            if outcome.drop_mode == "reset":
                self.server.abort(self.connection)
            return
        reason = "Resume Incomplete" if resp.status == 308 else None
        self.send_response(resp.status, reason)
        for key, value in resp.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        body = resp.body[: len(resp.body) // 2] if outcome.truncate else resp.body
        try:
            self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            self.close_connection = True
            return
        finally:
            if resp.media:
                self.server.api.count("bytes_sent", len(body))
        if outcome.truncate:
            self.close_connection = True
