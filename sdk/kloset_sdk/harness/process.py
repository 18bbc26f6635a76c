"""Spawn a plugin exactly as Plakar does and give back a gRPC channel to it (docs/PROTOCOL.md:
Transport and process).

The child gets two anonymous pipes as stdin/stdout and inherits stderr (or a file). grpcio
cannot dial a pipe either, so the channel dials a private Unix socket and a relay copies bytes
between that connection and the pipes. The authority is `127.0.0.1:0`, as Plakar's dialer uses.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from typing import IO, Any

import grpc

RELAY_BUF = 1 << 20


class PluginProcess:
    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        stderr: IO[Any] | int | None = None,
        cwd: str | None = None,
    ) -> None:
        self.argv = list(argv)
        self._tmp = tempfile.mkdtemp(prefix="kloset-host-")
        path = os.path.join(self._tmp, "host.sock")
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(path)
        self._listener.listen(1)
        self.spawned_at = time.monotonic()
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            bufsize=0,
        )
        self.channel = grpc.insecure_channel(
            "unix:" + path,
            options=[
                ("grpc.default_authority", "127.0.0.1:0"),
                ("grpc.enable_retries", 0),
                # The relay accepts one connection, so a first attempt that times out can never
                # be retried; on a loaded test machine a cold plugin may take longer than
                # grpc's default 20 s to answer the HTTP/2 preface. Wait longer instead.
                ("grpc.min_reconnect_backoff_ms", 120_000),
                ("grpc.max_receive_message_length", 4 << 20),
                ("grpc.max_send_message_length", -1),
            ],
        )
        self._conn: socket.socket | None = None
        self._stdin_closed = False
        threading.Thread(target=self._relay, name="host-relay", daemon=True).start()

    # -- relay --------------------------------------------------------------------------------
    def _relay(self) -> None:
        try:
            conn, _ = self._listener.accept()
        except OSError:
            return
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)
        self._conn = conn
        assert self.proc.stdin is not None and self.proc.stdout is not None
        stdin_fd = self.proc.stdin.fileno()
        stdout_fd = self.proc.stdout.fileno()
        threading.Thread(target=self._to_child, args=(conn, stdin_fd), daemon=True).start()
        buf = bytearray(RELAY_BUF)
        try:
            while True:
                n = os.readv(stdout_fd, [buf])
                if not n:
                    break
                conn.sendall(memoryview(buf)[:n])
        except OSError:
            pass
        finally:
            try:
                conn.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def _to_child(self, conn: socket.socket, stdin_fd: int) -> None:
        buf = bytearray(RELAY_BUF)
        view = memoryview(buf)
        try:
            while True:
                n = conn.recv_into(buf)
                if not n or self._stdin_closed:
                    break
                off = 0
                while off < n:
                    off += os.write(stdin_fd, view[off:n])
        except OSError:
            pass

    # -- lifecycle ----------------------------------------------------------------------------
    def close_stdin(self) -> None:
        """What Plakar's exit does: EOF on the plugin's stdin."""
        self._stdin_closed = True
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def finish(self, timeout: float = 10.0) -> int:
        """Close stdin and wait for the plugin to exit on its own; returns its exit status."""
        self.close_stdin()
        try:
            return self.proc.wait(timeout)
        finally:
            self.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.close()

    def close(self) -> None:
        self.channel.close()
        for s in (self._conn, self._listener):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass
        if self.proc.stdout is not None:
            try:
                self.proc.stdout.close()
            except OSError:
                pass
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> PluginProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            try:
                self.finish(10)
            except subprocess.TimeoutExpired:
                self.kill()
        else:
            self.close()
