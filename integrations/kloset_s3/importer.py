"""Back up a bucket, or a prefix of it, as a tree of files (the Go s3 importer, and more).

Pathnames are `/` + the full key (as the Go importer does; see mapping.py for odd keys), so
a backup of `s3://host/bucket/photos` holds `/photos/...`, with `/` and `/photos` as
directories. Directories are synthesised from key prefixes (S3 has none), mode 0700, mtime =
newest object below, or the bucket's creation time for an empty bucket. Files: size and
mtime from the listing, mode 0600; with `metadata` (default), content-type, user metadata,
tags and storage class become `user.s3.*` xattrs (mapping.py), which our exporter restores.

Folder markers (keys ending in `/`) are not files: their directory is recorded instead.
Content is read only when the host opens a file, as a streamed GET (client.ObjectStream).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from kloset_sdk import FileInfo, Importer, KlosetError, NotFound, PermissionDenied, Record
from kloset_sdk.connector import InitContext
from kloset_sdk.records import datetime_to_ns

from .connection import S3Connection
from .download import ObjectStream
from .mapping import basename, key_to_path, prefix_to_path, xattrs_of
from .options import S3Options
from .walk import DirEvent, ErrorEvent, FileEvent, Obj, Walker

log = logging.getLogger(__name__)
FILE_MODE = 0o600
DIR_MODE = 0o700


class S3Importer(S3Connection, Importer[S3Options]):
    type_name = "s3"

    def __init__(self, opts: S3Options, ctx: InitContext) -> None:
        super().__init__(opts, ctx)
        self.workers = 4 * opts.concurrency
        self._no_tags = threading.Event()
        self._counts_seen = threading.Event()

    def records(self) -> Iterator[Record]:
        root = self.target.prefix + "/" if self.target.prefix else ""
        found = False
        root_mtime = 0
        window: deque[Future[list[Record]]] = deque()
        with ThreadPoolExecutor(self.workers, thread_name_prefix="s3-head") as pool:
            for ev in Walker(self.s3, root, self.workers).walk():
                if isinstance(ev, FileEvent):
                    found = True
                    window.append(pool.submit(self._file, ev.obj))
                    while window and (len(window) > 4 * self.workers or window[0].done()):
                        yield from window.popleft().result()
                elif isinstance(ev, ErrorEvent):
                    if ev.prefix == root:
                        raise ev.error  # the source itself cannot be listed: the backup fails
                    yield Record.failure(prefix_to_path(ev.prefix), ev.error)
                elif ev.prefix != root:
                    yield self._directory(ev)
                else:
                    found = found or ev.mtime_ns > 0
                    root_mtime = ev.mtime_ns
            while window:
                yield from window.popleft().result()
            if not found and self.target.prefix:
                single = self._single_object()
                if single is not None:  # the location names one object, not a prefix
                    yield from self._file(single)
                    yield from self._root_dirs(single.mtime_ns, single.key.rpartition("/")[0])
                    return
        yield from self._root_dirs(root_mtime or self.s3.bucket_created_ns(), self.target.prefix)

    def _directory(self, ev: DirEvent) -> Record:
        path = prefix_to_path(ev.prefix)
        info = FileInfo(basename(ev.prefix[:-1]), mode=DIR_MODE, mtime_ns=ev.mtime_ns)
        return Record.directory(path, info)

    def _root_dirs(self, mtime_ns: int, key: str) -> Iterator[Record]:
        """The root and its parents, so the tree is complete from `/` (as the fs importer)."""
        while True:
            path = prefix_to_path(key)
            yield Record.directory(
                path, FileInfo(basename(key) if key else "/", mode=DIR_MODE, mtime_ns=mtime_ns)
            )
            if not key:
                return
            key = key.rpartition("/")[0]

    def _single_object(self) -> Obj | None:
        head = self.s3.head(self.target.prefix)
        if head is None:
            return None
        return Obj(
            self.target.prefix,
            int(head.get("ContentLength", 0)),
            datetime_to_ns(head["LastModified"]),
            str(head.get("StorageClass") or "STANDARD"),
        )

    def _file(self, obj: Obj) -> list[Record]:
        """The file record of one object and, with `metadata`, its xattr records."""
        path = key_to_path(obj.key)
        info = FileInfo(basename(obj.key), size=obj.size, mode=FILE_MODE, mtime_ns=obj.mtime_ns)
        key = obj.key

        def opener() -> ObjectStream:
            return ObjectStream(self.s3, key)

        if not self.opts.metadata:
            return [Record.file(path, info, opener)]
        try:
            head = self.s3.head(key)
        except KlosetError as exc:
            return [Record.failure(path, exc)]
        if head is None:
            log.debug("%s: deleted since it was listed", key)
            return []
        xattrs = xattrs_of(head, self._tags(key, head), obj.storage_class)
        return Record.file_with_xattrs(path, info, opener, xattrs)

    def _tags(self, key: str, head: dict[str, Any]) -> list[dict[str, str]]:
        """The tag set, fetched only when it may be non-empty.

        HEAD answers `x-amz-tagging-count` for tagged objects (AWS, MinIO, SeaweedFS, moto)
        and nothing for untagged ones. A server that never sends it cannot be told apart
        from an untagged bucket, so the count is trusted only once one has been seen, or
        when the HEAD's `Server` header names one of those servers; until then every
        object's tags are fetched (on an untagged bucket, a third request per object).
        """
        if self._no_tags.is_set():
            return []
        if "TagCount" in head:
            self._counts_seen.set()
            if not int(head["TagCount"]):
                return []
        elif self._counts_seen.is_set():
            return []
        elif _counts_tags(head):
            self._counts_seen.set()
            return []
        try:
            resp = self.s3.call(f"tags of {key}", "get_object_tagging", Key=key)
        except NotFound:
            return []
        except PermissionDenied as exc:
            self._give_up_tags(exc)
            return []
        except KlosetError as exc:
            if "NotImplemented" in str(exc):
                self._give_up_tags(exc)
            else:
                log.warning("%s: tags not read: %s", key, exc)
            return []
        return list(resp.get("TagSet") or [])

    def _give_up_tags(self, exc: KlosetError) -> None:
        if not self._no_tags.is_set():
            self._no_tags.set()
            log.warning("object tags are not backed up: %s", exc)


#: `Server` headers of servers known to send x-amz-tagging-count for every tagged object.
COUNTING_SERVERS = ("AmazonS3", "MinIO", "SeaweedFS")


def _counts_tags(head: dict[str, Any]) -> bool:
    server = str(head.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("server", ""))
    return server.startswith(COUNTING_SERVERS)
