"""Full listing by delta enumeration: about one request per 1,000 items, not one per folder.

A delta query without a token enumerates every item below where it is asked, in pages of
`$top` (1,000, the most Graph honours) items from all folders at once; `$select` keeps each
item to the fields a backup reads. The pages are read one after the other (a nextLink is
opaque), so a tree of 10,000 files in 500 folders costs 11 requests instead of 501 listings.

Where the enumeration starts:
  * the location is the drive root: `/root/delta`;
  * a folder of a personal drive: `/items/{id}/delta` (folder-scoped delta works there);
  * a folder of a business drive or SharePoint library: Graph supports delta only at the root
    there, so `/root/delta` lists the whole drive and what is not below the location is dropped
    by ancestry (the folder's ancestors are known: their other children are out of scope).
    This costs (drive items / 1,000) requests; a small folder of a huge drive would be cheaper
    to walk (rclone's `--onedrive-delta` makes the same trade-off). A personal drive that
    refuses folder delta gets the same treatment.
If Graph refuses delta (403, 400/405/501 notSupported) the importer walks the folders
instead (walk.py); `sent` tells it what already reached the host.

Paths come from ancestry, not from `parentReference.path` (delta leaves it out): an item is
placed once its parent is; Graph sends parents first in practice, and a child that comes early
waits for its parent, so the host still gets every directory before its children. Items below
a OneNote notebook or the Personal Vault are dropped with it (delta lists some of them, a
children walk never does), so the records are the walk's: same paths, same items. Graph may
send an item twice; records are streamed, so the first occurrence is kept (Graph's advice is
the last: one changed during the listing is caught up by the next backup, as with a walk).
The ids of the files sent are kept in a scratch SQLite table, not a set: a million of them
would hold about 100 MB.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from kloset_sdk import KlosetError, PermissionDenied
from kloset_sdk.statedb import StateDB

from .api import SELECT, DriveItem, join, parse_item
from .client import PAGE, GraphClient, GraphFailure, ResyncRequired

log = logging.getLogger(__name__)
#: Statuses meaning "no delta here" (as opposed to a failure worth reporting as such).
REFUSED_STATUS = frozenset({400, 405, 501})


class SentFiles:
    """A set of item ids on disk (a scratch database, gone when closed or the process ends)."""

    def __init__(self) -> None:
        self._db = StateDB.scratch("CREATE TABLE sent (id TEXT PRIMARY KEY) WITHOUT ROWID")

    def __contains__(self, item_id: str) -> bool:
        return self._db.one("SELECT 1 FROM sent WHERE id = ?", (item_id,)) is not None

    def add(self, item_id: str) -> None:
        self._db.execute("INSERT OR IGNORE INTO sent (id) VALUES (?)", (item_id,))

    def close(self) -> None:
        self._db.close()


class DeltaRefused(KlosetError):
    """Graph will not enumerate this drive with delta: list it folder by folder instead."""


def refused(exc: BaseException) -> bool:
    """A 403, a notSupported-like status, or a token dropped mid-enumeration (410)."""
    if isinstance(exc, (PermissionDenied, ResyncRequired)):
        return True
    return isinstance(exc, GraphFailure) and exc.status in REFUSED_STATUS


class DeltaListing:
    """Every item below `start` (`start` None: the whole drive, root included) as (path, item).

    `outside` are the ids of the start folder's ancestors: already sent by the importer, and
    whatever else hangs below them is out of scope.
    """

    def __init__(
        self,
        client: GraphClient,
        start: DriveItem | None,
        start_path: str,
        outside: list[str],
        folder_scoped: bool,
    ) -> None:
        self.client = client
        self.start = start
        self.folder_scoped = folder_scoped and start is not None
        # id -> path below which its children go, or None: they are not backed up
        self.where: dict[str, str | None] = dict.fromkeys(outside)
        if start is not None:
            self.where[start.id] = start_path
        self.files = SentFiles()  # files already sent (Graph may repeat an item)
        self.waiting: dict[str, list[DriveItem]] = {}  # parent id -> children seen before it
        self.pages = 0

    def sent(self, item_id: str) -> bool:
        return item_id in self.files or self.where.get(item_id) is not None

    def close(self) -> None:
        self.files.close()

    def entries(self) -> Iterator[tuple[str, DriveItem]]:
        """Raises DeltaRefused when Graph will not enumerate (possibly after some entries)."""
        if self.folder_scoped:
            assert self.start is not None
            try:
                yield from self._enumerate(f"/items/{self.start.id}/delta")
                self._finish()
                return
            except KlosetError as exc:
                if not refused(exc):
                    raise
                log.info("folder delta refused (%s): enumerating from the drive root", exc)
        try:
            yield from self._enumerate("/root/delta")
        except KlosetError as exc:
            if refused(exc):
                raise DeltaRefused(str(exc)) from exc
            raise
        if self.start is None and not any(p == "/" for p in self.where.values()):
            root = parse_item(self.client.item("/root"))  # Graph left the root item out
            yield from self._add(root)
        self._finish()

    def _enumerate(self, address: str) -> Iterator[tuple[str, DriveItem]]:
        params = {"$top": str(PAGE), "$select": SELECT}
        for page in self.client.pages(address, params):
            self.pages += 1
            for obj in page.get("value", []):
                yield from self._add(parse_item(obj))
            if page.get("@odata.deltaLink"):
                return  # the end: the link itself is for incremental runs (delta.py)

    def _add(self, item: DriveItem) -> Iterator[tuple[str, DriveItem]]:
        if item.kind == "deleted" or item.id in self.where or item.id in self.files:
            return
        if item.kind == "root":  # only unknown when the whole drive is listed
            self.where[item.id] = "/"
            yield "/", item
            yield from self._release(item.id)
            return
        if item.parent_id not in self.where:
            self.waiting.setdefault(item.parent_id or "", []).append(item)
            return
        stack = [item]
        while stack:
            cur = stack.pop()
            if cur is not item and (cur.id in self.where or cur.id in self.files):
                continue  # a child Graph sent twice before its parent
            base = self.where[cur.parent_id or ""]
            path = None if base is None else join(base, cur.name)
            if path is not None and cur.skipped_reason:
                log.warning("skipping %s: %s", path, cur.skipped_reason)
                path = None
            if cur.is_container or cur.skipped_reason:
                self.where[cur.id] = path
                stack.extend(reversed(self.waiting.pop(cur.id, [])))
            elif path is not None:
                self.files.add(cur.id)
            if path is not None:
                yield path, cur

    def _release(self, parent_id: str) -> Iterator[tuple[str, DriveItem]]:
        for child in self.waiting.pop(parent_id, []):
            yield from self._add(child)

    def _finish(self) -> None:
        orphans = sum(len(v) for v in self.waiting.values())
        if orphans:  # their parent never came: deleted or moved away while listing
            log.info("delta listing: %d items whose folder Graph did not list, left out", orphans)
        log.debug("delta listing: %d pages", self.pages)
