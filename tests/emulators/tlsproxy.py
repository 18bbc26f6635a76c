"""An HTTPS proxy that points a service's real host names at a local emulator.

Tools that cannot be given another endpoint (rclone's drive backend always calls
https://www.googleapis.com) still honour `HTTPS_PROXY` and `SSL_CERT_FILE`. This proxy answers
their CONNECT for a routed host, ends TLS with a certificate for that host from a throwaway CA
(trustme), and pipes the plain bytes to the emulator's HTTP port. Nothing else is reachable
through it: a CONNECT to any other host gets 403. Only for tests and benchmarks on 127.0.0.1.

    with TLSProxy({"www.googleapis.com": emu_port}) as proxy:
        env = {**os.environ, **proxy.env()}
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path


class TLSProxy:
    def __init__(self, routes: Mapping[str, int], extra_ca: str | None = None) -> None:
        """`routes`: host name -> local port of a plain-HTTP server; `extra_ca`: a PEM file
        also trusted by the client (for hosts it reaches directly, e.g. an emulator's TLS)."""
        self.routes = dict(routes)
        self._extra_ca = extra_ca
        self._dir = ""
        self._sock: socket.socket | None = None
        self._ctx: ssl.SSLContext | None = None
        self.connects = 0  # tunnels opened (one per client connection)

    def start(self) -> TLSProxy:
        import trustme

        self._dir = tempfile.mkdtemp(prefix="tlsproxy-")
        ca = trustme.CA()
        bundle = ca.cert_pem.bytes()
        if self._extra_ca:
            bundle += Path(self._extra_ca).read_bytes()
        Path(self.ca_path).write_bytes(bundle)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert(*self.routes).configure_cert(ctx)
        ctx.set_alpn_protocols(["http/1.1"])  # the emulators speak HTTP/1.1 only
        self._ctx = ctx
        self._sock = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._accept, name="tlsproxy", daemon=True).start()
        return self

    @property
    def ca_path(self) -> str:
        return os.path.join(self._dir, "ca.pem")

    @property
    def url(self) -> str:
        assert self._sock is not None
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def env(self) -> dict[str, str]:
        """What a client process needs to go through the proxy and trust it."""
        return {"HTTPS_PROXY": self.url, "SSL_CERT_FILE": self.ca_path, "NO_PROXY": "127.0.0.1"}

    def stop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = ""

    def __enter__(self) -> TLSProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving ---------------------------------------------------------------------------------
    def _accept(self) -> None:
        while self._sock is not None:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(conn,), daemon=True).start()

    def _tunnel(self, conn: socket.socket) -> None:
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                data = conn.recv(4096)
                if not data or len(head) > 65536:
                    return
                head += data
            words = head.split(b"\r\n", 1)[0].decode("latin-1").split()
            host = words[1].rsplit(":", 1)[0] if len(words) == 3 else ""
            if words[:1] != ["CONNECT"] or host not in self.routes:
                conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            assert self._ctx is not None
            try:
                tls = self._ctx.wrap_socket(conn, server_side=True)
                upstream = socket.create_connection(("127.0.0.1", self.routes[host]))
            except OSError:
                return
            self.connects += 1
            with tls, upstream:
                back = threading.Thread(target=_pipe, args=(upstream, tls), daemon=True)
                back.start()
                _pipe(tls, upstream)
                back.join()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(1 << 16):
            dst.sendall(data)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass
