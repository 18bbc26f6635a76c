"""A bounded pool of background uploads for exporters.

Export hands the connector one file at a time; an exporter that waited for every upload would
move one file per round trip. Handing each upload to a pool overlaps them, but an unbounded
pool would read the whole restore into memory ahead of the network. `UploadPool.submit`
therefore blocks the Export stream while `workers` uploads run and `queued` more wait, or
while `max_bytes` of bodies are held, and frees the room when an upload ends, whatever its
outcome. The future it returns is what `Exporter.export` returns: the SDK reports the file's
result when it settles.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class Budget:
    """At most `limit` units (bytes) held at once; one item larger than the limit may still
    pass alone, so a big file waits for the others instead of for ever."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._cond = threading.Condition()

    def acquire(self, n: int) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self.used == 0 or self.used + n <= self.limit)
            self.used += n

    def release(self, n: int) -> None:
        with self._cond:
            self.used -= n
            self._cond.notify_all()


class UploadPool:
    def __init__(
        self,
        workers: int,
        *,
        queued: int | None = None,
        max_bytes: int | None = None,
        name: str = "upload",
    ) -> None:
        workers = max(1, workers)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix=name)
        self._slots = threading.BoundedSemaphore(workers + (workers if queued is None else queued))
        self._bytes = Budget(max_bytes) if max_bytes is not None else None

    def submit(self, fn: Callable[..., T], *args: Any, size: int = 0) -> Future[T]:
        """Run fn(*args) in the pool once there is room for it (and for `size` bytes)."""
        self._slots.acquire()
        if self._bytes is not None:
            self._bytes.acquire(size)
        try:
            fut = self._pool.submit(fn, *args)
        except BaseException:
            self._release(size)
            raise
        fut.add_done_callback(lambda _: self._release(size))
        return fut

    def follow(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run a short step that waits for earlier uploads (a rename, a metadata fix) without
        taking a slot: bounded, it could wait behind the very uploads it waits for."""
        return self._pool.submit(fn, *args)

    def _release(self, size: int) -> None:
        if self._bytes is not None:
            self._bytes.release(size)
        self._slots.release()

    def close(self) -> None:
        """Wait for every submitted upload; their errors were reported through their futures."""
        self._pool.shutdown(wait=True)
