"""Serve gRPC on the two pipes Plakar gives a plugin (fd 0 in, fd 1 out; PROTOCOL.md §1).

grpcio cannot adopt file descriptors (P5), so the server listens on a Unix socket inside a fresh
0700 directory, one relay connection is made to it, and the socket file and directory are
removed at once: no other process can reach the server. Two threads copy bytes between the pipes
and that connection with plain read/write (not splice: splicing from a socket into a pipe holds
the pipe lock while it waits and stalls the host reading it).

Before serving, the real fd 1 is moved out of reach and fd 1 / sys.stdout point at stderr, so a
stray print from any library cannot corrupt HTTP/2 (P16); fd 0 becomes /dev/null.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import select
import shutil
import socket
import sys
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import NoReturn

import grpc

log = logging.getLogger(__name__)

F_SETPIPE_SZ = 1031
PIPE_SIZE = 1 << 20
RELAY_BUF = 1 << 20
DEFAULT_WORKERS = 128


def guard_stdio() -> tuple[int, int]:
    """Take the wire fds away from fd 0/1 and return (in_fd, out_fd)."""
    in_fd = os.dup(0)
    out_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    # Anything printed before serve() still sits in stdout's buffer: flush it now that fd 1 is
    # stderr, so it never reaches the wire.
    for stream in (sys.stdout, sys.__stdout__):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    sys.stdout = sys.stderr
    sys.stdin = open(os.devnull)  # noqa: SIM115 - kept open for the life of the process
    for fd in (in_fd, out_fd):
        try:
            fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE)
        except OSError:
            pass  # not a pipe (tests may use a socketpair) or limit too low: fine either way
    return in_fd, out_fd


def private_server(
    register: Callable[[grpc.Server], None], workers: int
) -> tuple[grpc.Server, socket.socket, ThreadPoolExecutor]:
    """Start a gRPC server reachable only through the returned connected socket."""
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kloset-rpc")
    server = grpc.server(
        executor,
        options=[
            ("grpc.so_reuseport", 0),
            ("grpc.max_send_message_length", 4 << 20),
            ("grpc.max_receive_message_length", 4 << 20),
            ("grpc.http2.max_pings_without_data", 0),
        ],
    )
    register(server)
    tmp = tempfile.mkdtemp(prefix="kloset-")  # mkdtemp makes it 0700
    path = os.path.join(tmp, "grpc.sock")
    try:
        server.add_insecure_port("unix:" + path)
        server.start()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return server, sock, executor


def _pump_in(in_fd: int, sock: socket.socket) -> None:
    """Host -> server. splice() moves pipe pages into the socket without entering Python."""
    try:
        if _splice_ok():
            sfd = sock.fileno()
            while True:
                try:
                    n = os.splice(in_fd, sfd, RELAY_BUF)
                except OSError as exc:
                    if exc.errno != errno.EINVAL:
                        raise
                    break  # not a pipe (tests may hand us a socket): plain copies below
                if not n:
                    return
        while True:
            data = os.read(in_fd, RELAY_BUF)
            if not data:
                return
            sock.sendall(data)
    except OSError as exc:
        log.debug("stdin relay stopped: %s", exc)


def _pump_out(sock: socket.socket, out_fd: int, on_exit: Callable[[], None]) -> None:
    """Server -> host.

    splice() from a socket into a pipe would hold the pipe's lock while it waits for socket
    data, stalling the host that reads the pipe; so it is only called non-blocking, after
    poll() says the socket has data and the pipe has room.
    """
    try:
        if _splice_ok():
            try:
                _splice_out(sock, out_fd)
                return
            except _NoSplice:
                pass
        buf = bytearray(RELAY_BUF)
        view = memoryview(buf)
        while True:
            n = sock.recv_into(buf)
            if not n:
                return
            off = 0
            while off < n:
                off += os.write(out_fd, view[off:n])
    except OSError as exc:
        log.debug("stdout relay stopped: %s", exc)
    finally:
        on_exit()


class _NoSplice(Exception):
    pass


def _splice_ok() -> bool:
    return hasattr(os, "splice") and os.environ.get("KLOSET_SDK_NO_SPLICE", "") == ""


def _splice_out(sock: socket.socket, out_fd: int) -> None:
    sfd = sock.fileno()
    flags = getattr(os, "SPLICE_F_NONBLOCK", 2) | getattr(os, "SPLICE_F_MOVE", 1)
    poll_in = select.poll()
    poll_in.register(sfd, select.POLLIN)
    poll_out = select.poll()
    poll_out.register(out_fd, select.POLLOUT)
    first = True
    while True:
        poll_in.poll()
        try:
            n = os.splice(sfd, out_fd, RELAY_BUF, flags=flags)
        except BlockingIOError:
            poll_out.poll()  # pipe full (or spurious wake-up): wait for room, then retry
            continue
        except OSError as exc:
            if exc.errno == errno.EINVAL and first:
                raise _NoSplice() from None
            raise
        first = False
        if not n:
            return


def serve_stdio(register: Callable[[grpc.Server], None], workers: int | None = None) -> NoReturn:
    """Serve until stdin reaches EOF, then stop in-flight calls and exit 0 (§9 item 4)."""
    in_fd, out_fd = guard_stdio()
    n = workers or int(os.environ.get("KLOSET_SDK_WORKERS", DEFAULT_WORKERS))
    server, sock, executor = private_server(register, n)
    gone = threading.Event()
    threading.Thread(
        target=_pump_out, args=(sock, out_fd, gone.set), name="kloset-out", daemon=True
    ).start()
    _pump_in(in_fd, sock)
    log.debug("stdin closed: stopping")
    shutdown(server, executor)
    os._exit(0)


def shutdown(server: grpc.Server, executor: ThreadPoolExecutor, grace: float = 3.0) -> None:
    """Cancel in-flight RPCs and give their handlers `grace` seconds to clean up temp files."""
    server.stop(0)
    done = threading.Event()

    def wait() -> None:
        executor.shutdown(wait=True, cancel_futures=True)
        done.set()

    threading.Thread(target=wait, daemon=True).start()
    done.wait(grace)
    logging.shutdown()
