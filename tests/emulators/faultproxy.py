"""A fault-injecting TCP proxy on 127.0.0.1, to test the connectors against a bad network.

Why: there is no toxiproxy or netem on these machines, and the connectors' retry/timeout code
needs real sockets misbehaving (RST mid-stream, silent peers, slow links). The proxy runs an
asyncio loop in one background thread; its knobs may be turned from any thread at run time:

- `latency`: seconds each chunk is held, each way (a delay line: throughput is kept).
- `rate_limit`: bytes/s each way, shared by all connections (like one link); None = unlimited.
- `reset_after(n, direction, once)`: RST (SO_LINGER 0) a connection once n bytes passed on it
  after arming, counted upstream (client -> server), downstream or both.
- `blackhole(on)`: accept but forward nothing, and stop forwarding on existing connections;
  traffic resumes where it stopped when turned off.
- `refuse(on)`: stop listening, so connects get ECONNREFUSED; same port when turned off.
- `reset_all()`: RST every current connection. `heal()`: clear every fault.

Memory is bounded: per connection and direction at most `max_chunks` chunks of `chunk_size`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Literal, TypeVar

Direction = Literal["upstream", "downstream", "both"]
_T = TypeVar("_T")
_EOF = object()


class _Reset(Exception):
    """Raised inside a pipe when a reset_after rule fired."""


class _Rule:
    def __init__(self, n_bytes: int, direction: Direction, once: bool) -> None:
        self.n_bytes = n_bytes
        self.direction = direction
        self.once = once


def _rst(writer: asyncio.StreamWriter | None) -> None:
    """Abort with SO_LINGER 0, so the peer gets an RST rather than a FIN."""
    if writer is None:
        return
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class _Conn:
    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.task: asyncio.Task[Any] | None = None
        self.rule_bytes = {"upstream": 0, "downstream": 0}

    def abort(self) -> None:
        _rst(self.client)
        _rst(self.upstream)


class FaultProxy:
    """TCP proxy 127.0.0.1:port -> target, with run-time faults; see the module docstring."""

    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        listen_port: int = 0,
        chunk_size: int = 64 * 1024,
        max_chunks: int = 16,
    ) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self._listen_port = listen_port
        self._chunk = chunk_size
        self._max_chunks = max_chunks
        self._latency = 0.0
        self._rate: float | None = None
        self._rule: _Rule | None = None
        self._blackholed = False
        self._refusing = False
        self._port = 0
        self._bytes = {"upstream": 0, "downstream": 0}
        self._connections = 0
        self._next_free = {"upstream": 0.0, "downstream": 0.0}
        self._conns: set[_Conn] = set()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._stop_evt: asyncio.Event | None = None
        self._gate: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        if self._thread is not None:
            return self
        self._ready.clear()
        self._error = None
        self._blackholed = self._refusing = False
        self._thread = threading.Thread(target=self._run, name="FaultProxy", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None or not self._ready.is_set():
            self.stop()
            raise RuntimeError(f"FaultProxy did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        thread, loop = self._thread, self._loop
        if thread is None:
            return
        if loop is not None and self._stop_evt is not None and thread.is_alive():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._stop_evt.set)
        thread.join(10)
        self._thread = None
        self._loop = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- address and counters --------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self._port)

    @property
    def host_port(self) -> str:
        return f"127.0.0.1:{self._port}"

    @property
    def endpoint_url(self) -> str:
        """`http://127.0.0.1:PORT`, handy when the target is an HTTP server."""
        return f"http://127.0.0.1:{self._port}"

    @property
    def bytes_up(self) -> int:
        """Bytes forwarded client -> target."""
        return self._bytes["upstream"]

    @property
    def bytes_down(self) -> int:
        """Bytes forwarded target -> client."""
        return self._bytes["downstream"]

    @property
    def connections(self) -> int:
        """Connections accepted since start."""
        return self._connections

    @property
    def active_connections(self) -> int:
        return len(self._conns)

    @property
    def blackholed(self) -> bool:
        return self._blackholed

    @property
    def refusing(self) -> bool:
        return self._refusing

    # -- knobs -----------------------------------------------------------------------------

    @property
    def latency(self) -> float:
        return self._latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("latency must be >= 0")
        self._latency = float(seconds)

    @property
    def rate_limit(self) -> float | None:
        return self._rate

    @rate_limit.setter
    def rate_limit(self, bytes_per_s: float | None) -> None:
        if bytes_per_s is not None and bytes_per_s <= 0:
            raise ValueError("rate_limit must be > 0 or None")
        self._rate = None if bytes_per_s is None else float(bytes_per_s)

    def reset_after(
        self, n_bytes: int | None, direction: Direction = "upstream", once: bool = True
    ) -> None:
        """RST a connection after n_bytes more bytes pass on it (None disarms)."""
        if direction not in ("upstream", "downstream", "both"):
            raise ValueError(f"bad direction {direction!r}")
        rule = None if n_bytes is None else _Rule(max(0, int(n_bytes)), direction, once)

        def arm() -> None:
            self._rule = rule
            for conn in self._conns:
                conn.rule_bytes = {"upstream": 0, "downstream": 0}

        self._call(arm)

    def blackhole(self, on: bool = True) -> None:
        def apply() -> None:
            assert self._gate is not None
            self._blackholed = on
            if on:
                self._gate.clear()
            else:
                self._gate.set()

        self._call(apply)

    def refuse(self, on: bool = True) -> None:
        async def apply() -> None:
            self._refusing = on
            if on and self._server is not None:
                self._server.close()
                self._server = None
            elif not on and self._server is None:
                await self._listen()

        self._call_async(apply)

    def reset_all(self) -> None:
        """RST every current connection."""

        def apply() -> None:
            for conn in list(self._conns):
                conn.abort()
                if conn.upstream is None and conn.task is not None:
                    conn.task.cancel()  # still held by a blackhole: never dial the target

        self._call(apply)

    def heal(self) -> None:
        """Clear every fault: no latency, no rate limit, no reset rule, no blackhole/refuse."""
        self.latency = 0.0
        self.rate_limit = None
        self.reset_after(None)
        self.blackhole(False)
        self.refuse(False)

    # -- loop-thread plumbing --------------------------------------------------------------

    def _call(self, fn: Callable[[], _T]) -> _T:
        async def wrap() -> _T:
            return fn()

        return self._call_async(wrap)

    def _call_async(self, fn: Callable[[], Awaitable[_T]]) -> _T:
        loop = self._loop
        if loop is None or self._thread is None:
            raise RuntimeError("FaultProxy is not started")
        if threading.current_thread() is self._thread:
            raise RuntimeError("FaultProxy knobs must not be turned from its own loop thread")

        async def run() -> _T:
            return await fn()

        return asyncio.run_coroutine_threadsafe(run(), loop).result(10)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as e:  # reported to start(); the thread must not die silently
            self._error = e
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_evt = asyncio.Event()
        self._gate = asyncio.Event()
        self._gate.set()
        await self._listen()
        self._ready.set()
        await self._stop_evt.wait()
        if self._server is not None:
            self._server.close()
            self._server = None
        tasks = [c.task for c in self._conns if c.task is not None]
        for conn in list(self._conns):
            conn.abort()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._handle,
            "127.0.0.1",
            self._port or self._listen_port,
            reuse_address=True,
            limit=self._chunk,
        )
        self._port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._gate is not None
        conn = _Conn(writer)
        conn.task = asyncio.current_task()
        self._conns.add(conn)
        self._connections += 1
        tasks: list[asyncio.Task[None]] = []
        try:
            await self._pump(conn, reader, writer, tasks)
        except asyncio.CancelledError:
            conn.abort()  # stop() or reset_all(); ending normally keeps asyncio.streams quiet
        finally:
            for t in tasks:
                t.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            if not conn.client.transport.is_closing():
                conn.client.close()
            self._conns.discard(conn)

    async def _pump(
        self,
        conn: _Conn,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        tasks: list[asyncio.Task[None]],
    ) -> None:
        assert self._gate is not None
        await self._gate.wait()  # blackholed: hold the client, do not even dial the target
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.target_host, self.target_port, limit=self._chunk
            )
        except OSError:
            conn.abort()
            return
        conn.upstream = up_writer
        for src, dst, direction in (
            (reader, up_writer, "upstream"),
            (up_reader, writer, "downstream"),
        ):
            queue: asyncio.Queue[Any] = asyncio.Queue(self._max_chunks)
            tasks.append(asyncio.ensure_future(self._read_side(src, queue)))
            tasks.append(asyncio.ensure_future(self._write_side(queue, dst, direction, conn)))
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        if any(not t.cancelled() and t.exception() is not None for t in done):
            conn.abort()  # a reset on one side becomes a reset on the other
        else:
            for w in (writer, up_writer):
                w.close()

    async def _read_side(self, src: asyncio.StreamReader, queue: asyncio.Queue[Any]) -> None:
        assert self._gate is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._gate.wait()
            data = await src.read(self._chunk)
            if not data:
                await queue.put(_EOF)
                return
            await queue.put((loop.time() + self._latency, data))

    async def _write_side(
        self, queue: asyncio.Queue[Any], dst: asyncio.StreamWriter, direction: str, conn: _Conn
    ) -> None:
        assert self._gate is not None
        loop = asyncio.get_running_loop()
        while True:
            item = await queue.get()
            if item is _EOF:
                if dst.can_write_eof() and not dst.transport.is_closing():
                    with contextlib.suppress(OSError):
                        dst.write_eof()
                return
            due, data = item
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await self._gate.wait()
            data, reset = self._apply_rule(data, direction, conn)
            for piece in self._pieces(data):
                await self._throttle(piece, direction)
                # Counted before the write: the peer may read the piece (and a test read
                # the counter) before drain() returns here.
                self._bytes[direction] += len(piece)
                dst.write(piece)
                await dst.drain()
            if reset:
                conn.abort()
                raise _Reset(direction)

    def _apply_rule(self, data: bytes, direction: str, conn: _Conn) -> tuple[bytes, bool]:
        """Trim data to what the reset rule lets through; True when the reset must fire."""
        rule = self._rule
        if rule is None or rule.direction not in (direction, "both"):
            return data, False
        if rule.direction == "both":
            seen = conn.rule_bytes["upstream"] + conn.rule_bytes["downstream"]
        else:
            seen = conn.rule_bytes[direction]
        left = rule.n_bytes - seen
        if left > len(data):
            conn.rule_bytes[direction] += len(data)
            return data, False
        if rule.once:
            self._rule = None
        return data[: max(0, left)], True

    def _pieces(self, data: bytes) -> list[bytes]:
        """Split so a rate-limited piece takes about 50 ms: smooth, not bursty."""
        rate = self._rate
        if rate is None or not data:
            return [data] if data else []
        size = max(1, min(len(data), int(rate / 20)))
        return [data[i : i + size] for i in range(0, len(data), size)]

    async def _throttle(self, piece: bytes, direction: str) -> None:
        rate = self._rate
        if rate is None:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        start = max(now, self._next_free[direction])
        self._next_free[direction] = start + len(piece) / rate
        if start > now:
            await asyncio.sleep(start - now)
