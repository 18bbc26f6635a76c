"""GdriveImporter: a Drive folder, shared drive or "Shared with me" as a snapshot tree.

Records are relative to the location (`/` is the folder backed up). Files carry their Drive
size and modifiedTime (ns), regular mode 0644, directories 0755; Google Docs are exported
(size -1, kloset counts the bytes) with the format's extension. A file whose Drive MIME type
is not the one its name gives has the xattr `user.gdrive.mime_type` (none with
`metadata=false`); `checksums=true` adds `user.gdrive.md5_checksum` and
`user.gdrive.sha256_checksum`. Content is read only when the host opens a record, one streamed
GET each.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Iterator

from kloset_sdk import (
    ConfigError,
    FileInfo,
    Flag,
    Identity,
    Importer,
    InitContext,
    KlosetError,
    Record,
    modes,
)
from kloset_sdk.records import parse_rfc3339_ns

from . import download, incremental
from . import export_formats as fmt
from .client import FILE_FIELDS, escape
from .connection import GdriveConnection
from .index import SHARED_ROOT, Index, Meta
from .options import GdriveOptions
from .walk import Node, Walker

log = logging.getLogger(__name__)
XATTR_MIME = "user.gdrive.mime_type"
XATTR_MD5 = "user.gdrive.md5_checksum"
XATTR_SHA256 = "user.gdrive.sha256_checksum"
PATHS_BATCH = 1000


def mtime_ns(meta: Meta) -> int:
    value = meta.get("modifiedTime")
    return parse_rfc3339_ns(value) if value else 0


class GdriveImporter(GdriveConnection, Importer[GdriveOptions]):
    type_name = "gdrive"
    wants_acks = True

    def __init__(self, opts: GdriveOptions, ctx: InitContext) -> None:
        super().__init__(opts, ctx)
        self.formats = fmt.parse(opts.export_formats)
        self._lock = threading.Lock()
        self._sent = self._acked = 0
        self._done = False
        self._index: Index | None = None  # this run's items (an SQLite file)
        self._pending: tuple[str, Meta] | None = None  # page token and root, to save
        self._failed_ids: set[str] = set()  # content this run did not get (incremental)
        self._failed_paths: set[str] = set()  # records acked with an error

    def identity(self) -> Identity:
        flags = Flag.STREAM if self.opts.incremental else Flag.NONE
        return dataclasses.replace(super().identity(), flags=flags)

    # -- the walk ----------------------------------------------------------------------------
    def records(self) -> Iterator[Record]:
        with self._lock:
            self._sent = self._acked = 0
            self._done = False
            self._failed_ids.clear()
            self._failed_paths.clear()
            self._pending = None
            self._adopt(None)
        client = self.client
        state = incremental.load(self.opts) if self.opts.incremental else None
        token = ""
        root: Meta | None = None
        index: Index | None = None
        if state is not None:
            drive = state.root.get("driveId") or client.drive_id
            try:
                found, token = incremental.changes(client, state.token, drive)
            except KlosetError as exc:
                state.db.close()
                if not incremental.token_refused(exc):
                    raise
                log.warning("incremental: the stored page token was refused (%s)", exc)
            else:
                index = incremental.restore_index(state, drive)
                self._adopt(index)
                if state.failed:
                    log.info(
                        "incremental: %d files failed last time; asking again", len(state.failed)
                    )
                    found = incremental.recheck(client, state.failed) + found
                n = incremental.apply(index, found, self.opts, state.root["id"])
                root = index.get(state.root["id"]) or state.root
                log.info("incremental: %d changes since the last backup", n)
        if index is None:
            index = Index(incremental.fresh(self.opts) if self.opts.incremental else None)
            self._adopt(index)
        walker = Walker(client, self.opts, index, self.formats)
        if root is None:
            root, token = self._start(walker)
        for rec in self._ancestors(root):
            yield rec
        paths: list[tuple[str, str]] = []  # file records -> ids, to place ack errors (incremental)
        for node in walker.walk(root):
            if self.opts.incremental and node.kind in ("file", "doc", "error"):
                paths.append((self._path(node), str(node.meta.get("id", ""))))
                if len(paths) >= PATHS_BATCH:
                    index.remember_paths(paths)
                    paths = []
            for rec in self._records(node):
                with self._lock:
                    self._sent += 1
                yield rec
        if self.opts.incremental:
            index.remember_paths(paths)
            index.keep_only_used()
        with self._lock:
            if self.opts.incremental:
                self._pending = (token, root)
            self._done = True

    def _adopt(self, index: Index | None) -> None:
        """This run's Index; the previous run's is closed (never committed from here)."""
        old, self._index = self._index, index
        if old is not None and old is not index:
            old.close()

    def _start(self, walker: Walker) -> tuple[Meta, str]:
        """Resolve the location, take a changes token (incremental) before anything is listed,
        then list the whole corpus when the location is the root of a drive."""
        opts, client = self.opts, self.client
        parts = opts.path_parts
        token = ""
        if opts.shared_with_me:
            if opts.incremental:
                token = client.start_page_token(None)
            root: Meta = {"id": SHARED_ROOT, "name": "", "mimeType": fmt.FOLDER, "parents": []}
            walker.list_shared_with_me()
        else:
            base = opts.root_folder_id or opts.shared_drive_id or "root"
            root = client.get(base, FILE_FIELDS)
            if root.get("mimeType") != fmt.FOLDER:
                raise ConfigError("root_folder_id", f"{base} is not a folder")
            drive = root.get("driveId") or client.drive_id
            if opts.incremental:
                token = client.start_page_token(drive)
            if not parts and not opts.root_folder_id:
                walker.list_corpus(root["id"], drive)
        walker.index.put(root)
        for part in parts:
            root = self._child_folder(walker, root, part)
            walker.index.put(root)
        return root, token

    def _child_folder(self, walker: Walker, parent: Meta, name: str) -> Meta:
        if parent["id"] == SHARED_ROOT:
            matches = [m for m in walker.index.kids(SHARED_ROOT) if m.get("name") == name]
        else:
            q = f"name = {escape(name)} and {escape(parent['id'])} in parents and trashed = false"
            matches = list(self.client.list(q, drive_id=parent.get("driveId")))
        matches = [m for m in matches if m.get("mimeType") == fmt.FOLDER]
        if not matches:
            raise ConfigError("location", f'no folder "{name}" in "{parent.get("name") or "/"}"')
        return min(matches, key=lambda m: (m.get("createdTime") or "", m["id"]))

    # -- records -----------------------------------------------------------------------------
    def _ancestors(self, root: Meta) -> Iterator[Record]:
        """The folders above the location, so that the snapshot's root (the location's path,
        as identity() says) is a directory inside the tree, as Plakar's own importers do."""
        parts = self.opts.path_parts
        for depth in range(len(parts)):
            path = "/" + "/".join(parts[:depth])
            name = parts[depth - 1] if depth else "/"
            yield Record.directory(
                path, FileInfo(name, mode=modes.DEFAULT_DIR_PERM, mtime_ns=mtime_ns(root))
            )

    def _path(self, node: Node) -> str:
        """The record path of a node: the tree's paths are relative to the location."""
        base = self.opts.path.rstrip("/")
        return base + node.path if node.path != "/" else base or "/"

    def _records(self, node: Node) -> Iterator[Record]:
        node = dataclasses.replace(node, path=self._path(node))
        name = node.path.rsplit("/", 1)[-1] or "/"
        meta = node.meta
        if node.kind == "error":
            yield Record.failure(node.path, node.error)
            return
        if node.kind == "dir":
            yield Record.directory(
                node.path, FileInfo(name, mode=modes.DEFAULT_DIR_PERM, mtime_ns=mtime_ns(meta))
            )
            return
        if node.kind == "link":
            info = FileInfo(name, size=len(node.target), mode=0o777, mtime_ns=mtime_ns(meta))
            yield Record.symlink(node.path, info, node.target)
            return
        xattrs = self._xattrs(meta, name)
        file_id = str(meta.get("id", ""))
        if node.kind == "doc" and node.export is not None:
            info = FileInfo(name, size=-1, mode=modes.DEFAULT_FILE_PERM, mtime_ns=mtime_ns(meta))
            url = node.export.url
            opener = self._opener(file_id, lambda: download.stream(self.client, url, node.path))
        else:
            size = int(meta.get("size") or 0)
            info = FileInfo(name, size=size, mode=modes.DEFAULT_FILE_PERM, mtime_ns=mtime_ns(meta))
            url = self.client.media_url(meta["id"])
            md5 = meta.get("md5Checksum")
            opener = self._opener(
                file_id, lambda: download.stream(self.client, url, node.path, size=size, md5=md5)
            )
        assert modes.is_regular(info.mode)
        yield from Record.file_with_xattrs(node.path, info, opener, xattrs)

    def _xattrs(self, meta: Meta, name: str) -> dict[str, bytes]:
        """Only what the name does not already say, unless `checksums`: under Plakar each
        xattr record costs one more Open on every backup, cache or not (scripts/bench_xattrs.py).
        The MIME type is kept where export_formats.guess_type would pick another one: a file
        such as `notes` stored as text/plain (the exporter gives it back its type), and Google
        Docs (the only trace of what an export was made from)."""
        xattrs = {}
        mime = str(meta.get("mimeType") or "")
        if self.opts.metadata and mime and mime != fmt.guess_type(name):
            xattrs[XATTR_MIME] = mime.encode()
        if self.opts.checksums:
            for key, field in ((XATTR_MD5, "md5Checksum"), (XATTR_SHA256, "sha256Checksum")):
                if meta.get(field):
                    xattrs[key] = str(meta[field]).encode()
        return xattrs

    def _opener(
        self, file_id: str, make: Callable[[], Iterator[bytes]]
    ) -> Callable[[], Iterator[bytes]]:
        """A download that, if it fails, is recorded: the next incremental run asks again."""

        def guarded() -> Iterator[bytes]:
            try:
                yield from make()
            except BaseException:
                with self._lock:
                    self._failed_ids.add(file_id)
                raise

        return guarded

    # -- acks --------------------------------------------------------------------------------
    def ack(self, record: Record, error: str) -> None:
        with self._lock:
            self._acked += 1
            if error:
                self._failed_paths.add(record.pathname)  # placed by id when saving

    def _maybe_commit(self) -> None:
        """Store the new page token once every record is acked, with the ids of the files
        whose content this run did not get (the next run fetches those again).

        Called from close() only: a host may ack a record before it opens the content (or
        while the download is still failing), so only the end of the session knows which
        downloads failed. A session that never closes saves nothing: the next run replays."""
        index, pending = self._index, self._pending
        if not (self._done and pending is not None and index is not None):
            return
        if self._acked < self._sent:
            return
        self._pending = None
        failed = set(self._failed_ids)
        for path in self._failed_paths:
            file_id = index.id_of_path(path)
            if not file_id:  # a failure we cannot place: replay every change next time
                log.warning("incremental: a record failed; the next backup replays every change")
                return
            failed.add(file_id)
        token, root = pending
        items = len(index)
        incremental.save(index.db, token, root, sorted(failed))
        if failed:
            log.warning(
                "incremental: state saved; %d files failed and are asked for again next time",
                len(failed),
            )
        log.info("incremental: state saved (%d items)", items)

    def close(self) -> None:
        with self._lock:
            try:
                self._maybe_commit()
            finally:
                self._pending = None
                self._adopt(None)
