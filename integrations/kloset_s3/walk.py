"""List a bucket (or a prefix) as a tree, one listing per "directory", several at once.

S3 has no directories, only keys; listing with `Delimiter="/"` answers one level at a time
(objects plus CommonPrefixes), so the levels of a tree can be listed concurrently by a bounded
pool, where one flat listing of a million keys could only be paged one request after another.

Objects are reported as their listing pages arrive, so memory stays bounded by the queue, not
by the bucket. A directory is reported once its whole subtree is listed, because its mtime is
the newest mtime below it (S3 keeps none for prefixes); kloset does not need parents before
children (its scan log sorts paths), so this post-order costs nothing.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from kloset_sdk.records import datetime_to_ns

from .client import S3Client


@dataclass(frozen=True)
class Obj:
    key: str
    size: int
    mtime_ns: int
    storage_class: str


@dataclass(frozen=True)
class FileEvent:
    obj: Obj


@dataclass(frozen=True)
class DirEvent:
    prefix: str  # "" for the bucket root, else ends with "/"
    mtime_ns: int  # newest object below (0: nothing below at all)


@dataclass(frozen=True)
class ErrorEvent:
    prefix: str
    error: BaseException


Event = FileEvent | DirEvent | ErrorEvent


@dataclass
class _Dir:
    prefix: str
    parent: _Dir | None
    pending: int = 0  # sub-directories not yet complete
    listed: bool = False
    mtime_ns: int = 0


class Walker:
    def __init__(self, s3: S3Client, root: str, workers: int) -> None:
        self.s3 = s3
        self.root = root
        self.workers = workers
        self._q: queue.Queue[tuple[str, str, object]] = queue.Queue(maxsize=4 * workers)
        self._stopped = threading.Event()

    def walk(self) -> Iterator[Event]:
        dirs = {self.root: _Dir(self.root, None)}
        outstanding = 1
        with ThreadPoolExecutor(self.workers, thread_name_prefix="s3-list") as pool:
            pool.submit(self._list, self.root)
            try:
                while outstanding:
                    kind, prefix, payload = self._q.get()
                    d = dirs[prefix]
                    if kind == "page":
                        yield from self._page(d, payload)  # type: ignore[arg-type]
                        continue
                    outstanding -= 1
                    d.listed = True
                    if kind == "error":
                        yield ErrorEvent(prefix, payload)  # type: ignore[arg-type]
                    else:
                        for sub in payload:  # type: ignore[attr-defined]
                            dirs[sub] = _Dir(sub, d)
                            d.pending += 1
                            outstanding += 1
                            pool.submit(self._list, sub)
                    yield from self._complete(d, dirs)
            finally:
                self._stopped.set()  # listers still running give up at their next page
                pool.shutdown(wait=True, cancel_futures=True)

    def _page(self, d: _Dir, contents: list[dict[str, object]]) -> Iterator[Event]:
        for o in contents:
            key = str(o["Key"])
            mtime = datetime_to_ns(o["LastModified"])  # type: ignore[arg-type]
            d.mtime_ns = max(d.mtime_ns, mtime)
            if key.endswith("/"):
                continue  # a folder marker: its directory exists anyway
            size = int(o.get("Size", 0))  # type: ignore[call-overload]
            yield FileEvent(Obj(key, size, mtime, str(o.get("StorageClass") or "STANDARD")))

    def _complete(self, d: _Dir | None, dirs: dict[str, _Dir]) -> Iterator[Event]:
        while d is not None and d.listed and d.pending == 0:
            yield DirEvent(d.prefix, d.mtime_ns)
            del dirs[d.prefix]
            parent = d.parent
            if parent is not None:
                parent.mtime_ns = max(parent.mtime_ns, d.mtime_ns)
                parent.pending -= 1
            d = parent

    def _list(self, prefix: str) -> None:
        try:
            subs: list[str] = []
            for page in self.s3.pages(prefix, "/"):
                contents = page.get("Contents") or []
                if contents and not self._put(("page", prefix, contents)):
                    return
                subs.extend(str(p["Prefix"]) for p in page.get("CommonPrefixes") or [])
            self._put(("done", prefix, subs))
        except Exception as exc:  # reported as an event, the walk goes on
            self._put(("error", prefix, exc))

    def _put(self, item: tuple[str, str, object]) -> bool:
        """Queue an item unless the consumer is gone (then False: the lister stops)."""
        while not self._stopped.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False
