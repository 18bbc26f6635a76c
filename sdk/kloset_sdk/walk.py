"""A parallel tree walk shared by the importers: the integration lists one directory, this
module runs the listings side by side and hands their output to the importer's generator.

`list_dir(dir)` yields output items and `Descend(sub)` for each subdirectory to walk. A
subdirectory is handed to the workers only after what `list_dir` yielded before it has reached
the output queue, so whatever an integration yields for a directory before descending into it
(its record, typically) reaches the consumer before anything listed below it, whatever the
interleaving of the workers. The output queue is bounded: a slow host slows the walk instead of
growing memory. Closing the iterator stops the workers and joins them.

The bookkeeping (which directory is complete, when the walk is over) is done by the consuming
thread alone, from end-of-listing messages, so it needs no locks and `on_error`/`on_done` run
there too: they may raise into the consumer and need not be thread-safe.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Descend", "parallel_walk"]

D = TypeVar("D")
T = TypeVar("T")

_PUT_POLL = 0.1  # seconds a blocked worker waits before looking at the stop flag again
_BATCH_MAX = 64  # items a worker hands over at once: one queue operation per batch, not per item


@dataclass(frozen=True, slots=True)
class Descend(Generic[D]):
    """Yielded by `list_dir`: walk `dir` too (after what was yielded so far)."""

    dir: D


class _Node(Generic[D]):
    """One directory of the walk; its counters are touched by the consuming thread only."""

    __slots__ = ("dir", "listed", "parent", "pending")

    def __init__(self, dir: D, parent: _Node[D] | None) -> None:
        self.dir = dir
        self.parent = parent
        # children not yet complete; may go below zero while the listing is still running,
        # since a child can finish before its parent's end-of-listing arrives
        self.pending = 0
        self.listed = False


@dataclass(frozen=True, slots=True)
class _End(Generic[D]):
    """A worker finished listing `node`: it descended into `children`, or failed with `error`."""

    node: _Node[D]
    children: int
    error: BaseException | None


def parallel_walk(
    roots: Iterable[D],
    list_dir: Callable[[D], Iterable[T | Descend[D]]],
    *,
    on_error: Callable[[D, Exception], Iterable[T]],
    workers: int,
    out_max: int = 4096,
    name: str = "walk",
    on_done: Callable[[D], Iterable[T]] | None = None,
) -> Generator[T, None, None]:
    """Walk every root with `workers` threads; yield what `list_dir` yields, parents first.

    A listing that raises keeps what it yielded (and the subdirectories it descended into);
    `on_error(dir, exc)` then gives the items to report for it, or raises to end the walk (the
    exception reaches the consumer). `on_done(dir)`, when given, is called once `dir` and its
    whole subtree are listed, after all their items and after `on_done` of each subdirectory
    (post-order), and its items are yielded then. At most about `out_max` items wait for the
    consumer at any time.
    """
    tops = [_Node[D](r, None) for r in roots]
    if not tops:
        return
    batch = max(1, min(_BATCH_MAX, out_max // 16))
    out: queue.Queue[list[T] | _End[D]] = queue.Queue(maxsize=max(1, out_max // batch))
    jobs: queue.Queue[_Node[D] | None] = queue.Queue()
    stop = threading.Event()

    def put(msg: list[T] | _End[D]) -> bool:
        while not stop.is_set():
            try:
                out.put(msg, timeout=_PUT_POLL)
                return True
            except queue.Full:
                continue
        return False

    def list_one(node: _Node[D]) -> None:
        buf: list[T] = []
        children = 0
        error: BaseException | None = None
        try:
            it = iter(list_dir(node.dir))  # a plain function may raise here already
            try:
                for x in it:
                    if stop.is_set():
                        return
                    if isinstance(x, Descend):
                        if buf and not put(buf):
                            return
                        buf = []
                        children += 1
                        jobs.put(_Node(x.dir, node))
                    else:
                        buf.append(x)
                        if len(buf) >= batch:
                            if not put(buf):
                                return
                            buf = []
            finally:
                close = getattr(it, "close", None)
                if close is not None:
                    close()
        except BaseException as exc:  # reported to the consumer, which decides
            error = exc
        if buf and not put(buf):
            return
        put(_End(node, children, error))

    def work() -> None:
        while (node := jobs.get()) is not None:
            if not stop.is_set():
                list_one(node)

    threads = [
        threading.Thread(target=work, name=f"{name}-{i}", daemon=True)
        for i in range(max(1, workers))
    ]
    for node in tops:
        jobs.put(node)
    for t in threads:
        t.start()
    left = len(tops)  # roots not yet complete
    try:
        while left:
            msg = out.get()
            if isinstance(msg, list):
                yield from msg
                continue
            node = msg.node
            if msg.error is not None:
                if not isinstance(msg.error, Exception):
                    raise msg.error
                yield from on_error(node.dir, msg.error)
            node.listed = True
            node.pending += msg.children
            # complete: report it, then see whether that completes its parent
            cur: _Node[D] | None = node
            while cur is not None and cur.listed and cur.pending == 0:
                if on_done is not None:
                    yield from on_done(cur.dir)
                if cur.parent is None:
                    left -= 1
                else:
                    cur.parent.pending -= 1
                cur = cur.parent
    finally:
        stop.set()
        for _ in threads:
            jobs.put(None)
        for t in threads:
            t.join()
