"""List a bucket (or a prefix) as a tree, one listing per "directory", several at once.

S3 has no directories, only keys; listing with `Delimiter="/"` answers one level at a time
(objects plus CommonPrefixes), so the levels of a tree can be listed concurrently by a bounded
pool (kloset_sdk.walk), where one flat listing of a million keys could only be paged one
request after another.

Objects are reported as their listing pages arrive, so memory stays bounded by the queue, not
by the bucket. A directory is reported once its whole subtree is listed, because its mtime is
the newest mtime below it (S3 keeps none for prefixes); kloset does not need parents before
children (its scan log sorts paths), so this post-order costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from kloset_sdk.records import datetime_to_ns
from kloset_sdk.walk import Descend, parallel_walk

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


@dataclass(eq=False)
class _Dir:
    prefix: str
    parent: _Dir | None
    listed_ns: int = 0  # newest mtime of its own listing (written by its lister, before done)
    below_ns: int = 0  # newest mtime of its complete subdirectories (written by the consumer)


class Walker:
    def __init__(self, s3: S3Client, root: str, workers: int) -> None:
        self.s3 = s3
        self.root = root
        self.workers = workers

    def walk(self) -> Iterator[Event]:
        return parallel_walk(
            [_Dir(self.root, None)],
            self._list,
            on_error=lambda d, exc: [ErrorEvent(d.prefix, exc)],  # the walk goes on
            on_done=self._done,
            workers=self.workers,
            name="s3-list",
        )

    def _list(self, d: _Dir) -> Iterator[Event | Descend[_Dir]]:
        """Objects as the pages arrive; the CommonPrefixes once the listing is whole (a
        listing that fails half-way walks none of them)."""
        subs: list[str] = []
        for page in self.s3.pages(d.prefix, "/"):
            for o in page.get("Contents") or []:
                key = str(o["Key"])
                mtime = datetime_to_ns(o["LastModified"])
                d.listed_ns = max(d.listed_ns, mtime)
                if key.endswith("/"):
                    continue  # a folder marker: its directory exists anyway
                size = int(o.get("Size", 0))
                yield FileEvent(Obj(key, size, mtime, str(o.get("StorageClass") or "STANDARD")))
            subs.extend(str(p["Prefix"]) for p in page.get("CommonPrefixes") or [])
        for sub in subs:
            yield Descend(_Dir(sub, d))

    def _done(self, d: _Dir) -> list[Event]:
        """The whole subtree is listed: the directory's mtime is final (called in post-order)."""
        mtime = max(d.listed_ns, d.below_ns)
        if d.parent is not None:
            d.parent.below_ns = max(d.parent.below_ns, mtime)
        return [DirEvent(d.prefix, mtime)]
