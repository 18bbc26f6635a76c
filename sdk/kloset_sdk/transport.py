"""Serve gRPC on the two pipes Plakar gives a plugin (fd 0 in, fd 1 out; docs/PROTOCOL.md: Transport
and process).

grpcio cannot adopt file descriptors (P5), so the server listens on a Unix socket inside a fresh
0700 directory, one relay connection is made to it, and the socket file and directory are
removed at once: no other process can reach the server.

The relay copies bytes between the pipes and that connection. By default it runs in a child
process forked before grpc starts (the fork is single-threaded, grpc has no state to corrupt):
in the server's own process every relay wake-up must take the GIL back, and with an Import, its
acks and eight Opens in flight that GIL hand-off was a large part of the per-file cost (20,000
small files: +27 % records/s and -25 % CPU with the relay out of the process, see
docs/BENCHMARKS.notes.md). The child only moves bytes with splice() (pipe pages go into the
socket without a copy in user space) and exits when stdin ends or when the server side closes;
the parent then stops the server and exits 0, and a SIGKILLed parent takes the relay down with
it because its end of the socket closes. `KLOSET_SDK_RELAY=thread` keeps the relay in-process
(threads), `KLOSET_SDK_NO_SPLICE=1` makes it copy with read/write instead of splice.

Before serving, the real fd 1 is moved out of reach and fd 1 / sys.stdout point at stderr, so a
stray print from any library cannot corrupt HTTP/2 (P16); fd 0 becomes /dev/null.

Ctrl-C in a terminal sends SIGINT to the whole process group: the host, this server and the relay
child. The child ignores it; the server stops as on stdin EOF (`host_gone` first, so an in-flight
Put is never committed, then in-flight calls are cancelled and their handlers clean up), ends the
child and exits 130, the shell's status for an interrupt, without a traceback.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import select
import shutil
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import NoReturn

import grpc

from .memory import keep_large_buffers_mapped

log = logging.getLogger(__name__)

F_SETPIPE_SZ = 1031
#: Pipe capacity asked for both wire pipes: a whole 1 MiB message fits, so the host and the
#: relay rarely wait on each other (the default 64 KiB pipe means 16 wake-ups per chunk).
PIPE_SIZE = 1 << 20
RELAY_BUF = 1 << 20
#: Send/receive buffer of the relay's socket: room for several 1 MiB messages in flight, so
#: grpc's writes do not block on the relay (capped by net.core.[rw]mem_max; harmless if so).
SOCK_BUF = 4 << 20
DEFAULT_WORKERS = 128
#: HTTP/2 receive window per stream. With BDP probing, grpc grows its windows from the measured
#: bandwidth x ping round trip; on a local pipe whose consumer is a disk, that lets the host run
#: far ahead, and grpc buffers it all: storing a 1 GiB packfile peaked at 74-184 MB RSS. A fixed
#: 4 MiB window (4 messages) kept Put as fast (16 MiB packfiles, medians within noise) and the
#: peak at 72-76 MB.
RECEIVE_WINDOW = 4 << 20
#: Set by SIGINT while serving; the exit status is then 130 instead of 0.
interrupted = threading.Event()
EXIT_INTERRUPTED = 130
#: No keepalive pings, connection ages or idle limits: the host cannot re-dial (P5).
SERVER_OPTIONS: list[tuple[str, int]] = [
    ("grpc.so_reuseport", 0),
    ("grpc.max_send_message_length", 4 << 20),
    ("grpc.max_receive_message_length", 4 << 20),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.http2.bdp_probe", 0),
    ("grpc.http2.lookahead_bytes", RECEIVE_WINDOW),
]


#: Adds the servicers to a server, handing them the host-gone event: set once the host is gone
#: (stdin ended or the wire broke), *before* the relay's end of the socket closes and grpc turns
#: the open calls into plain ends of their request streams, so a Put that sees its requests end
#: never commits a stream the host abandoned.
Register = Callable[[grpc.Server, threading.Event], None]


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
    sys.stdin = open(os.devnull)  # kept open for the life of the process
    for fd in (in_fd, out_fd):
        try:
            fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE)
        except OSError:
            pass  # not a pipe (tests may use a socketpair) or limit too low: fine either way
    return in_fd, out_fd


def start_server(
    register: Register, workers: int, path: str, host_gone: threading.Event
) -> tuple[grpc.Server, ThreadPoolExecutor]:
    """Start a gRPC server listening on the Unix socket `path` (inside a private directory)."""
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kloset-rpc")
    server = grpc.server(executor, options=SERVER_OPTIONS)
    register(server, host_gone)
    server.add_insecure_port("unix:" + path)
    server.start()
    return server, executor


def connect(path: str) -> socket.socket:
    """The relay's end of the connection, with buffers big enough for whole messages."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, opt, SOCK_BUF)
        except OSError:
            pass
    sock.connect(path)
    return sock


def private_server(
    register: Register, workers: int, host_gone: threading.Event
) -> tuple[grpc.Server, socket.socket, ThreadPoolExecutor]:
    """Start a gRPC server reachable only through the returned connected socket."""
    tmp = tempfile.mkdtemp(prefix="kloset-")  # mkdtemp makes it 0700
    path = os.path.join(tmp, "grpc.sock")
    try:
        server, executor = start_server(register, workers, path, host_gone)
        sock = connect(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return server, sock, executor


# -- the relay ----------------------------------------------------------------------------------


def _pump_in(in_fd: int, sock: socket.socket) -> None:
    """Host -> server. splice() moves pipe pages into the socket without entering user space."""
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


def _pump_out(sock: socket.socket, out_fd: int) -> None:
    """Server -> host.

    splice() from a socket into a pipe holds the pipe's lock while it waits for socket data,
    which would stall the host reading the pipe; so it is only called non-blocking, first
    straight away (data usually follows data) and after poll() when it would block.
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
    readable = False
    while True:
        try:
            n = os.splice(sfd, out_fd, RELAY_BUF, flags=flags)
        except BlockingIOError:
            if readable:
                # The socket had data and still nothing moved: the pipe is full. Wait for room.
                poll_out.poll()
                readable = False
            else:
                poll_in.poll()
                readable = True
            continue
        except OSError as exc:
            if exc.errno == errno.EINVAL and first:
                raise _NoSplice() from None
            raise
        first = False
        readable = False
        if not n:
            return


def _relay_threads(in_fd: int, out_fd: int, sock: socket.socket) -> threading.Event:
    """Run both directions on daemon threads; the event is set when either one ends."""
    ended = threading.Event()

    def run(fn: Callable[[], None]) -> None:
        try:
            fn()
        finally:
            ended.set()

    threading.Thread(
        target=run, args=(lambda: _pump_out(sock, out_fd),), name="kloset-out", daemon=True
    ).start()
    threading.Thread(
        target=run, args=(lambda: _pump_in(in_fd, sock),), name="kloset-in", daemon=True
    ).start()
    return ended


class RelayProcess:
    """The relay in a forked child, started before the server and connected once it listens.

    Two pipes link the processes. Start-up: the parent writes one byte when the server listens
    on `path`, the child connects and writes one byte back, then the parent removes the socket
    file. End: when either direction of the relay stops, the child writes one byte and waits
    (at most END_ACK_WAIT) for the parent to set `host_gone` and answer, and only then exits,
    which closes the socket; a child that dies abruptly shows as EOF and sets it too. The child
    keeps only the two wire fds, stderr, the pipes and its socket (any other inherited fd, such
    as the server's end of the connection, would keep the socket open after the parent died).
    """

    END_ACK_WAIT = 2.0

    def __init__(self, in_fd: int, out_fd: int, path: str, host_gone: threading.Event) -> None:
        self.host_gone = host_gone
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # SIGINT is blocked across the fork so the child can never run the parent's handler
        # (it would unwind into the parent's serve loop); the parent gets a pending one after.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child, which never returns
                self._child(in_fd, out_fd, path, to_child_r, from_child_w)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        self.pid = pid
        os.close(to_child_r)
        os.close(from_child_w)

    @classmethod
    def _child(cls, in_fd: int, out_fd: int, path: str, rd: int, wr: int) -> NoReturn:
        code = 0
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's to handle
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
            keep = sorted({0, 1, 2, in_fd, out_fd, rd, wr})
            low = 3
            for fd in keep:
                if fd >= low:
                    os.closerange(low, fd)
                    low = fd + 1
            os.closerange(low, os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 4096)
            if os.read(rd, 1) != b"1":
                os._exit(1)  # the parent failed before the server listened
            sock = connect(path)
            os.write(wr, b"1")
            _relay_threads(in_fd, out_fd, sock).wait()
            os.write(wr, b"E")  # the host is gone: tell the server before the socket closes
            select.select([rd], [], [], cls.END_ACK_WAIT)
        except BaseException:  # nothing may escape a forked child
            code = 1
        os._exit(code)

    def start(self) -> None:
        """Tell the child the server listens; return once it is connected."""
        os.write(self._to_child, b"1")
        if os.read(self._from_child, 1) != b"1":
            raise OSError("the relay process could not connect to the gRPC server")
        threading.Thread(target=self._watch, name="kloset-relay", daemon=True).start()

    def _watch(self) -> None:
        try:
            os.read(self._from_child, 1)  # b"E", or b"" if the child died
        except OSError:
            pass
        self.host_gone.set()
        try:
            os.write(self._to_child, b"K")
        except OSError:
            pass

    def wait(self) -> int:
        """Block until the relay ends (stdin EOF, or the host went away); its exit status."""
        _, status = os.waitpid(self.pid, 0)
        self.pid = 0
        self.host_gone.set()
        return os.waitstatus_to_exitcode(status)

    def stop(self) -> None:
        """End a relay that is still running (after an interrupt): it holds no state."""
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except OSError:
                pass
            self.pid = 0


class _Interrupted(BaseException):
    """Raised in the main thread by SIGINT to leave the wait for the relay (never escapes)."""


def serve_stdio(register: Register, workers: int | None = None) -> NoReturn:
    """Serve until stdin reaches EOF, then stop in-flight calls and exit 0 (§9 item 4).

    SIGINT stops the same way and exits 130 (see the module docstring).
    """
    keep_large_buffers_mapped()
    host_gone = threading.Event()

    def note_sigint(signum: int, frame: object) -> None:
        """SIGINT while stopping: remember it; a second one ends the process at once."""
        if interrupted.is_set():
            os._exit(EXIT_INTERRUPTED)
        interrupted.set()
        host_gone.set()  # first: a Put whose requests end from now on must not commit

    def on_sigint(signum: int, frame: object) -> None:
        note_sigint(signum, frame)
        raise _Interrupted()

    signal.signal(signal.SIGINT, on_sigint)
    server: grpc.Server | None = None
    executor: ThreadPoolExecutor | None = None
    relay: RelayProcess | None = None
    try:
        in_fd, out_fd = guard_stdio()
        n = workers or int(os.environ.get("KLOSET_SDK_WORKERS", DEFAULT_WORKERS))
        if os.environ.get("KLOSET_SDK_RELAY", "") == "thread" or not hasattr(os, "fork"):
            server, sock, executor = private_server(register, n, host_gone)
            _relay_threads(in_fd, out_fd, sock).wait()
        else:
            tmp = tempfile.mkdtemp(prefix="kloset-")  # mkdtemp makes it 0700
            path = os.path.join(tmp, "grpc.sock")
            try:
                relay = RelayProcess(
                    in_fd, out_fd, path, host_gone
                )  # before grpc starts any thread
                os.close(in_fd)  # the child owns the wire now: its exit is the host's EOF
                os.close(out_fd)
                server, executor = start_server(register, n, path, host_gone)
                relay.start()
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            relay.wait()
        signal.signal(signal.SIGINT, note_sigint)  # from here on, nothing may unwind
    except _Interrupted:
        signal.signal(signal.SIGINT, note_sigint)
    host_gone.set()  # before shutdown() cancels the calls
    log.debug("%s: stopping", "interrupted" if interrupted.is_set() else "stdin closed")
    if server is not None and executor is not None:
        shutdown(server, executor)
    if relay is not None:
        relay.stop()
    os._exit(EXIT_INTERRUPTED if interrupted.is_set() else 0)


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
