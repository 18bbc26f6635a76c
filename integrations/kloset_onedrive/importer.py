"""Back up a OneDrive / SharePoint folder: a delta enumeration, or incremental (`delta=true`).

A full run enumerates the tree with a tokenless delta query (listing.py: ~1 request per 1,000
items, whatever the folder count) and walks the folders in parallel (walk.py) only if Graph
refuses delta. With `delta=true` the stored deltaLink brings only the changes (delta.py).

Records carry the drive paths (`/Documents/a.txt`, the location's ancestors too, as the fs
importer does), `fileSystemInfo.lastModifiedDateTime` as mtime (what the user sees in
OneDrive, not the server's own change time), and with `checksums=true` each `file.hashes`
entry as an xattr (`user.onedrive.quickxorhash`, ...). Content is read lazily through the
pre-authenticated download URL (download.py).

OneNote notebooks (`package`) and the Personal Vault are skipped with a warning: Graph cannot
download the former and refuses the latter while it is locked, and neither is an error of the
backup. In delta mode the importer sets STREAM (a second, statistics run would consume the
deltaLink) and saves the new state only once every record was acked.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterator

from kloset_sdk import Fatal, FileInfo, Flag, Identity, Importer, InitContext, NotFound, Record
from kloset_sdk.modes import DEFAULT_DIR_PERM, DEFAULT_FILE_PERM

from . import delta as _delta
from .api import HASH_XATTRS, DriveItem, parse_item, path_address
from .client import GraphClient, ItemNotFound
from .connection import OneDriveConnection
from .download import download
from .listing import DeltaListing, DeltaRefused
from .options import OneDriveOptions
from .walk import walk

log = logging.getLogger(__name__)


class OneDriveImporter(OneDriveConnection, Importer[OneDriveOptions]):
    type_name = "onedrive"

    def __init__(self, opts: OneDriveOptions, ctx: InitContext) -> None:
        super().__init__(opts, ctx)
        self.wants_acks = opts.incremental
        self._lock = threading.Lock()
        self._sent = 0
        self._acked = 0
        self._state: _delta.DeltaState | None = None  # this run's item map (delta mode)
        self._pending: _delta.DeltaState | None = None  # saved once every record is acked
        self._finished = False

    def identity(self) -> Identity:
        flags = Flag.STREAM if self.opts.incremental else Flag.NONE
        return dataclasses.replace(super().identity(), flags=flags)

    # -- records ------------------------------------------------------------------------------
    def records(self) -> Iterator[Record]:
        source = self._delta_entries() if self.opts.incremental else self._full_entries()
        for path, item in source:
            for rec in self._records_for(path, item):
                with self._lock:
                    self._sent += 1
                yield rec
        with self._lock:
            self._maybe_commit(finished=True)

    def _records_for(self, path: str, item: DriveItem | BaseException) -> Iterator[Record]:
        if isinstance(item, BaseException):
            yield Record.failure(path, item)
            return
        name = "/" if path == "/" else item.name
        info = FileInfo(name, item.size, DEFAULT_FILE_PERM, item.mtime_ns)
        if item.kind != "file":
            info.size = 0
            info.mode = DEFAULT_DIR_PERM
            yield Record.directory(path, info)
            return
        xattrs = {}
        if self.opts.checksums:  # off by default: one more Open per xattr on every backup
            xattrs = {
                HASH_XATTRS[k]: v.encode() for k, v in item.hashes.items() if k in HASH_XATTRS
            }
        yield from Record.file_with_xattrs(path, info, self._opener(item), xattrs)

    def _opener(self, item: DriveItem) -> _Opener:
        return _Opener(self.client, item)

    def _full_entries(self) -> Iterator[tuple[str, DriveItem | BaseException]]:
        """The location's ancestors, the location, then all below it (listing.py), parents
        first; a folder-by-folder walk if Graph refuses delta."""
        start: DriveItem | None = None  # the root: it comes with the delta listing
        outside: list[str] = []
        if self.root != "/":
            start = self._get(self.root)
            if start.skipped_reason:
                raise Fatal(f"{self.root}: cannot back up a {start.skipped_reason}")
            parts = [p for p in self.root.split("/") if p]
            for depth in range(len(parts)):
                path = "/" + "/".join(parts[:depth])
                ancestor = self._get(path)
                outside.append(ancestor.id)
                yield path, ancestor
            yield self.root, start
            if not start.is_container:
                return
        drive_type = self.opts.drive_type or (start.drive_type if start else "")
        listing = DeltaListing(self.client, start, self.root, outside, drive_type == "personal")
        try:
            yield from self._listed_or_walked(listing, start)
        finally:
            listing.close()

    def _listed_or_walked(
        self, listing: DeltaListing, start: DriveItem | None
    ) -> Iterator[tuple[str, DriveItem | BaseException]]:
        try:
            yield from listing.entries()
            return
        except DeltaRefused as exc:
            log.warning("delta listing refused (%s): listing folder by folder instead", exc)
        except ItemNotFound:
            if start is None and not listing.pages:
                msg = "location / does not exist on the drive (check drive_id, site_id, user)"
                raise NotFound(msg) from None
            raise
        if start is None:
            start = self._get("/")
            if not listing.sent(start.id):
                yield "/", start
        for entry in walk(self.client, start, self.root, self.opts.concurrency):
            if entry.item is not None and listing.sent(entry.item.id):
                continue  # already sent before delta was refused
            yield entry.path, entry.item if entry.item is not None else _failed(entry.error)

    def _get(self, path: str) -> DriveItem:
        try:
            return parse_item(self.client.item(path_address(path)))
        except NotFound:
            raise NotFound(f"location {path} does not exist on the drive") from None

    def _delta_entries(self) -> Iterator[tuple[str, DriveItem | BaseException]]:
        path = self.opts.state_file or _delta.default_state_path(self.client.drive, self.root)
        with self._lock:
            self._adopt(None)
        state = _delta.DeltaState.open(path, self.client.drive)
        with self._lock:
            self._adopt(state)
        changed = _delta.sync(self.client, state)
        log.info("delta: %d changes, %d items known", changed, len(state))
        yield from _delta.tree(state, self.root)
        with self._lock:
            self._pending = state

    def _adopt(self, state: _delta.DeltaState | None) -> None:
        """Called with the lock held: this run's state; an earlier one is closed, unsaved."""
        old, self._state = self._state, state
        if old is not None and old is not state:
            old.close()

    def close(self) -> None:
        with self._lock:
            self._pending = None
            self._adopt(None)

    # -- acks: the delta state is committed once the host has every record --------------------
    def ack(self, record: Record, error: str) -> None:
        with self._lock:
            self._acked += 1
            self._maybe_commit(finished=False)

    def _maybe_commit(self, finished: bool) -> None:
        """Called with the lock held, after the last record and after each ack."""
        self._finished = self._finished or finished
        if self._pending is None or not self._finished or self._acked < self._sent:
            return
        state, self._pending = self._pending, None
        items = len(state)
        state.commit()
        log.info("delta: state saved (%d items) after %d acks", items, self._acked)


class _Opener:
    """Opened only when the host reads the file (kloset skips unchanged files by its cache)."""

    def __init__(self, client: GraphClient, item: DriveItem) -> None:
        self.client = client
        self.item = item

    def __call__(self) -> Iterator[bytes] | bytes:
        if self.item.size == 0:
            return b""
        return download(self.client, self.item, verify=True)


def _failed(error: BaseException | None) -> BaseException:
    return error if error is not None else Fatal("listing failed")
