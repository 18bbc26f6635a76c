"""The one SSH connection of a plugin process, its pool of SFTP channels, and error translation.

Plakar starts one process per connector (docs/PROTOCOL.md: Transport and process), so one SSH
connection per process
is one per connector. Parallel work runs on up to `concurrency` SFTP channels multiplexed on
that connection (no new handshakes, one login). A dropped connection is noticed by whichever
call hits it; the next `acquire` dials again, and calls that are safe to repeat (stat, list,
open-for-read, remove) are retried once through the SDK pacer. A write is never replayed: its
caller removes the temporary file and reports the error.

`translate` is the one place paramiko and socket errors become kloset_sdk errors.
"""

from __future__ import annotations

import errno
import logging
import posixpath
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import paramiko

from kloset_sdk import Fatal, KlosetError, NotFound, PermissionDenied
from kloset_sdk.retry import Pacer, Retry, RetryPolicy

from . import tcp
from .auth import Credentials
from .channel import Channel
from .endpoint import Endpoint, Hop, resolve
from .hostkeys import HostKeyPolicy
from .options import SFTPOptions
from .pipe import ChunkPipe

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Receive window per channel: a read pipeline keeps ~4 MiB in flight, so the server is never
#: stopped by flow control (paramiko's 2 MiB default halves download speed here).
WINDOW = 8 << 20
KEEPALIVE = 30
#: Tried first when the server offers them: AES-GCM authenticates in OpenSSL, where the
#: default aes-ctr + hmac-sha2 computes an HMAC in Python for every 32 KiB packet.
FAST_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")


class ConnectionLost(ConnectionError):
    """An error raised by a channel whose connection has died (paramiko then says only
    "Socket is closed", an OSError that would otherwise read like a file error)."""


class ConnectFailed(Fatal):
    """(Re)connecting failed; raised as is by Init, prefixed with the operation later on."""


class ConnectionGone(Fatal):
    """An operation failed because the connection is lost and cannot be made again: the
    importer stops its walk on it rather than turn every remaining directory into an error."""


def dropped(exc: BaseException) -> bool:
    """True when `exc` means the connection itself is gone (not an error about one file)."""
    return isinstance(
        exc, (EOFError, TimeoutError, socket.timeout, ConnectionError, paramiko.SSHException)
    )


def on_channel(exc: BaseException, ch: Channel | None) -> BaseException:
    """`exc` as raised on `ch`: a ConnectionLost if the channel's connection is dead."""
    if ch is None or dropped(exc) or not isinstance(exc, Exception):
        return exc
    transport = ch.sock.get_transport()
    if ch.sock.closed or transport is None or not transport.is_active():
        lost = ConnectionLost(str(exc) or type(exc).__name__)
        lost.__cause__ = exc
        return lost
    return exc


def should_retry(exc: BaseException) -> Retry | None:
    return Retry("SSH connection dropped, reconnecting") if dropped(exc) else None


def translate(exc: BaseException, what: str, where: str = "") -> KlosetError:
    if isinstance(exc, ConnectFailed):
        return ConnectionGone(f"{what}: connection lost and reconnecting failed: {exc}")
    if isinstance(exc, KlosetError):
        return exc
    if dropped(exc):
        detail = str(exc) or type(exc).__name__
        return Fatal(f"{what}: connection to {where or 'the server'} lost ({detail})")
    if isinstance(exc, OSError):
        if isinstance(exc, FileNotFoundError) or exc.errno == errno.ENOENT:
            return NotFound(f"{what}: no such file or directory")
        if isinstance(exc, PermissionError) or exc.errno == errno.EACCES:
            return PermissionDenied(f"{what}: permission denied")
        text = exc.strerror or (str(exc.args[0]) if exc.args else "") or "failure"
        return Fatal(f"{what}: {text}")
    return Fatal(f"{what}: {type(exc).__name__}: {exc}")


def _quiet_paramiko() -> None:
    """paramiko logs every lost connection as an ERROR with a traceback from its own thread;
    we report the same failure once, as the call's error, so keep its log for KLOSET_LOG=debug."""
    logger = logging.getLogger("paramiko")
    if not logger.isEnabledFor(logging.DEBUG):
        logger.setLevel(logging.CRITICAL)


def _fast_first(ciphers: tuple[str, ...]) -> tuple[str, ...]:
    """The same ciphers, the AEAD ones paramiko supports moved to the front."""
    fast = tuple(c for c in FAST_CIPHERS if c in ciphers)
    return fast + tuple(c for c in ciphers if c not in fast)


class SFTPSession:
    def __init__(self, opts: SFTPOptions, concurrency: int, *, connect_now: bool = True) -> None:
        """Connected before returning, or (`connect_now=False`) in a background thread, so
        that the caller's first call waits for that connection and reports its failure."""
        _quiet_paramiko()
        self.endpoint: Endpoint = resolve(opts)
        self._creds = Credentials(opts)
        self._hostkeys = HostKeyPolicy(
            self.endpoint.known_hosts,
            opts.host_key_fingerprint,
            opts.insecure_ignore_host_key,
            opts.host_key,
        )
        self._timeout = float(opts.connect_timeout)
        self._cond = threading.Condition()
        self._transports: list[paramiko.Transport] = []
        self._generation = 0
        self._idle: list[Channel] = []
        self._opened = 0
        self._max = concurrency
        self._limits: tuple[int, int] | None = None
        self._extensions: frozenset[str] | None = None
        self._last_failure: tuple[float, Exception | None] = (0.0, None)  # last reconnect
        self.pacer = Pacer(RetryPolicy(attempts=opts.max_retries, base_delay=0.2, max_delay=1.0))
        root = self.endpoint.root
        self._root: str | None = root if root.startswith("/") else None
        if connect_now:
            with self._cond:
                self._connect_locked()
            self._root = self.root
        else:
            threading.Thread(target=self._warm, name="sftp-connect", daemon=True).start()

    def _warm(self) -> None:
        """Connect and open the first channel; a failure is only logged here: the first call
        connects again and reports it, in its own context."""
        try:
            self.release(self.acquire())
        except Exception as exc:
            log.debug("background connect to %s failed: %s", self.where, exc)

    @property
    def root(self) -> str:
        """The absolute root; a relative one is resolved against the login directory."""
        if self._root is None:
            rel = self.endpoint.root
            self._root = self.run(lambda ch: self._absolute(ch, rel), "root")
        return self._root

    @property
    def where(self) -> str:
        return str(self.endpoint.target)

    @property
    def concurrency(self) -> int:
        return self._max

    # -- connecting -----------------------------------------------------------------------
    def _connect_locked(self) -> None:
        self._close_transports()
        hops = (*self.endpoint.jumps, self.endpoint.target)
        chain: list[paramiko.Transport] = []
        try:
            for i, hop in enumerate(hops):
                chain.append(self._dial(hop, chain[-1] if chain else None, i == len(hops) - 1))
        except BaseException:
            for t in chain:
                t.close()
            raise
        self._transports = chain
        self._generation += 1
        self._idle, self._opened = [], 0
        log.debug("connected to %s (generation %d)", self.where, self._generation)

    def _dial(
        self, hop: Hop, via: paramiko.Transport | None, is_target: bool
    ) -> paramiko.Transport:
        sock: Any
        try:
            if via is None:
                sock = tcp.connect(hop.host, hop.port, self._timeout)
            else:
                sock = via.open_channel(
                    "direct-tcpip", (hop.host, hop.port), ("127.0.0.1", 0), timeout=self._timeout
                )
        except (OSError, paramiko.SSHException) as exc:
            how = f" through {via.getpeername()[0]}" if via is not None else ""
            raise ConnectFailed(f"cannot connect to {hop.host}:{hop.port}{how}: {exc}") from None
        t = paramiko.Transport(sock, default_window_size=WINDOW)
        try:
            t.banner_timeout = t.handshake_timeout = t.auth_timeout = self._timeout
            sec = t.get_security_options()
            sec.key_types = self._hostkeys.preferred_algorithms(hop, tuple(sec.key_types))
            sec.ciphers = _fast_first(tuple(sec.ciphers))
            try:
                t.start_client(timeout=self._timeout)
                # start_client returns quietly when its timeout ends mid-handshake: this
                # raises "No existing session" then
                key = t.get_remote_server_key()
            except (paramiko.SSHException, OSError, EOFError) as exc:
                raise ConnectFailed(
                    f"SSH handshake with {hop.host}:{hop.port} failed or timed out"
                    f" ({exc or type(exc).__name__})"
                ) from None
            try:
                self._hostkeys.check(hop, key, is_target)
                self._creds.authenticate(t, hop, is_target)
            except (paramiko.SSHException, EOFError, OSError) as exc:  # not a refusal: a loss
                raise ConnectFailed(
                    f"SSH login to {hop.host}:{hop.port} interrupted: {exc or type(exc).__name__}"
                ) from None
            t.set_keepalive(KEEPALIVE)
        except BaseException:
            t.close()
            raise
        return t

    def _reconnect_locked(self, asked: float) -> None:
        """Reconnect, unless an attempt made while this caller waited for the lock has just
        failed: then fail at once with its error, rather than every worker of a fan-out (a
        List covers 256 directories) spending its own connect timeout on a dead network. A
        call made after that failure tries again, so the first call after the network is
        back succeeds."""
        failed_at, error = self._last_failure
        if error is not None and failed_at >= asked:
            raise ConnectFailed(str(error))
        try:
            self._connect_locked()
        except Exception as exc:
            self._last_failure = (time.monotonic(), exc)
            raise
        self._last_failure = (0.0, None)

    def _close_transports(self) -> None:
        for t in reversed(self._transports):
            t.close()
        self._transports = []

    def _alive_locked(self) -> bool:
        return bool(self._transports) and all(t.is_active() for t in self._transports)

    # -- the channel pool ---------------------------------------------------------------------
    def acquire(self) -> Channel:
        asked = time.monotonic()
        with self._cond:
            while True:
                if not self._alive_locked():
                    self._reconnect_locked(asked)
                while self._idle:
                    ch = self._idle.pop()
                    if ch.generation == self._generation and not ch.sock.closed:
                        return ch
                    self._opened -= ch.generation == self._generation
                if self._opened < self._max:
                    self._opened += 1
                    try:
                        return self._open_channel()
                    except paramiko.ChannelException as exc:
                        self._opened -= 1
                        if self._opened == 0:
                            raise
                        log.info("server refused SFTP channel %d (%s)", self._opened + 1, exc)
                        self._max = self._opened
                    except BaseException:
                        self._opened -= 1
                        raise
                self._cond.wait(1.0)

    def _open_channel(self) -> Channel:
        # Not Channel.from_transport: its channel open waits up to an hour on a silent link.
        chan = self._transports[-1].open_session(window_size=WINDOW, timeout=self._timeout)
        chan.settimeout(self._timeout * 4)
        chan.in_buffer = ChunkPipe()  # before the subsystem starts: nothing received yet
        chan.invoke_subsystem("sftp")
        ch = Channel(chan)
        ch.generation = self._generation
        if self._limits is None:
            ch.load_limits()
            self._limits = (ch.read_size, ch.write_size)
            self._extensions = frozenset(ch.extensions)
        ch.read_size, ch.write_size = self._limits
        return ch

    def release(self, ch: Channel, error: BaseException | None = None) -> None:
        """Give `ch` back; after an error that killed the connection, close it for everyone."""
        broken = error is not None and dropped(error)
        with self._cond:
            current = ch.generation == self._generation
            if broken and current:
                log.info("connection to %s lost: %s", self.where, error or "")
                self._close_transports()
            if current and not broken and not ch.sock.closed:
                self._idle.append(ch)
            else:
                self._opened -= current
                ch.sock.close()
            self._cond.notify()

    def run(self, fn: Callable[[Channel], T], what: str, idempotent: bool = True) -> T:
        """fn(channel) on a pooled channel; retried once on a new connection if idempotent."""

        def attempt() -> T:
            ch = self.acquire()
            try:
                result = fn(ch)
            except BaseException as exc:
                error = on_channel(exc, ch)
                self.release(ch, error)
                if error is exc:
                    raise
                raise error from exc
            self.release(ch)
            return result

        try:
            return self.pacer.call(attempt, should_retry) if idempotent else attempt()
        except Exception as exc:  # the boundary: everything leaves translated
            cause = exc.__cause__
            if isinstance(exc, Fatal) and cause is not None and dropped(cause):
                # the pacer gave up: say what failed rather than "gave up after N attempts"
                raise translate(cause, what, self.where) from None
            raise translate(exc, what, self.where) from None

    def offers(self, extension: str) -> bool:
        """Whether the server announced an SFTP extension (known once a channel was opened)."""
        return extension in (self._extensions or ())

    def path(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    @staticmethod
    def _absolute(ch: Channel, root: str) -> str:
        return root if root.startswith("/") else posixpath.join(ch.normalize("."), root)

    def close(self) -> None:
        with self._cond:
            for ch in self._idle:
                ch.sock.close()
            self._idle = []
            self._close_transports()
            self._generation += 1
