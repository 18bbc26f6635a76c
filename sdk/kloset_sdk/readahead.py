"""Small ranged reads of a packfile served from a few large ones.

Plakar's check and restore read a packfile blob by blob: restoring 2,000 small files made
4,200 ranged Gets of 150 B to 8 KiB on one 10 MB packfile (plakar v1.1.4), each a round trip
to the backend (an S3 or Drive GET, an SFTP read). Latency, not bandwidth, set the pace.
Packfiles never change (they are named by the MAC of their bytes), so their bytes can be
kept: once a packfile has been read in small pieces twice, a small read fetches the aligned
block around it instead, and the next reads in that block cost no request. Blocks live in an
LRU bounded by `budget` bytes; concurrent reads of one block wait for a single fetch. A
packfile read once (a single file restored from a large repository) costs exactly what it
did.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future

MiB = 1 << 20

#: A read fetches the whole aligned block around it ...
BLOCK = MiB
#: ... when it is at most this long (longer ones are read as asked) ...
SMALL = 256 << 10
#: ... and at most this many bytes of blocks are kept.
BUDGET = 32 * MiB
#: Packfiles remembered as read once (a read of one of them turns blocks on).
SEEN = 4096


class ReadAhead:
    """Block cache over `fetch(key, offset, length) -> bytes` (which may return fewer bytes
    at the end of the object)."""

    def __init__(
        self,
        fetch: Callable[[str, int, int], bytes],
        block: int = BLOCK,
        small: int = SMALL,
        budget: int = BUDGET,
    ) -> None:
        self._fetch, self.block, self.small, self.budget = fetch, block, min(small, block), budget
        self._lock = threading.Lock()
        self._blocks: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._held = 0
        self._pending: dict[tuple[str, int], Future[bytes]] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()
        self.fetches = 0  # blocks fetched, for tests and benchmarks

    def read(self, key: str, offset: int, length: int) -> bytes | None:
        """The bytes offset..offset+length of `key` from blocks, or None: read it as asked
        (a long read, the first small read of a packfile, or a range past the end)."""
        if length <= 0 or length > self.small:
            return None
        with self._lock:
            if key not in self._seen:
                self._seen[key] = None
                if len(self._seen) > SEEN:
                    self._seen.popitem(last=False)
                return None
            self._seen.move_to_end(key)
        first, last = offset // self.block, (offset + length - 1) // self.block
        data = b"".join(self._get(key, n) for n in range(first, last + 1))
        start = offset - first * self.block
        if len(data) < start + length:
            return None  # past the end of the object: the store words that error itself
        return data[start : start + length]

    def forget(self, key: str) -> None:
        """Drop what is kept of `key` (it was deleted: a later read must not find it)."""
        with self._lock:
            self._seen.pop(key, None)
            for slot in [s for s in self._blocks if s[0] == key]:
                self._held -= len(self._blocks.pop(slot))

    def _get(self, key: str, n: int) -> bytes:
        slot = (key, n)
        with self._lock:
            data = self._blocks.get(slot)
            if data is not None:
                self._blocks.move_to_end(slot)
                return data
            fut = self._pending.get(slot)
            owner = fut is None
            if fut is None:
                fut = self._pending[slot] = Future()
        if not owner:
            return fut.result()
        try:
            data = self._fetch(key, n * self.block, self.block)
        except BaseException as exc:
            with self._lock:
                del self._pending[slot]
            fut.set_exception(exc)
            raise
        with self._lock:
            del self._pending[slot]
            self.fetches += 1
            self._blocks[slot] = data
            self._held += len(data)
            while self._held > self.budget and len(self._blocks) > 1:
                _, old = self._blocks.popitem(last=False)
                self._held -= len(old)
        fut.set_result(data)
        return data
