"""The emulated Drive: items, shared drives, change log and list cursors behind one lock.

Both the HTTP handlers and the Python seeding API mutate the drive through these methods, so
every mutation lands in the change log the same way whichever side made it.
"""

from __future__ import annotations

import random
import re
import string
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from .errors import DriveError, invalid, not_found
from .model import (
    EXPORT_FORMATS,
    FOLDER,
    OTHER_USER,
    SHORTCUT,
    USER,
    Change,
    Item,
    SharedDrive,
    format_time,
    now,
)
from .query import Predicate, QueryError

_ID_CHARS = string.ascii_letters + string.digits + "-_"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MAX_CURSORS = 5000
DEFAULT_EXPORT_SIZE = 4096


@dataclass
class _Cursor:
    """A files.list snapshot; tokens stay valid so a page can be fetched again."""

    ids: list[str]
    pos: int
    signature: tuple[object, ...]
    pred: Predicate


def _natural_key(name: str) -> list[object]:
    return [int(p) if p.isdigit() else p.casefold() for p in re.split(r"(\d+)", name)]


_ORDER_KEYS: dict[str, Callable[[Item], Any]] = {
    "folder": lambda it: 0 if it.is_folder else 1,
    "name": lambda it: (it.name.casefold(), it.name),
    "name_natural": lambda it: _natural_key(it.name),
    "modifiedTime": lambda it: it.modified,
    "modifiedByMeTime": lambda it: it.modified,
    "viewedByMeTime": lambda it: it.modified,
    "recency": lambda it: it.modified,
    "createdTime": lambda it: it.created,
    "sharedWithMeTime": lambda it: it.shared_time or _EPOCH,
    "quotaBytesUsed": lambda it: it.size,
    "starred": lambda it: it.starred,
}


class DriveState:
    """All drive data. Every public method takes the (reentrant) lock itself."""

    def __init__(self, seed: int | None = None) -> None:
        self.lock = threading.RLock()
        self.rng = random.Random(seed)
        self.base_url = "http://127.0.0.1/"  # set by the emulator once it listens
        self.items: dict[str, Item] = {}
        self.drives: dict[str, SharedDrive] = {}
        self.changes: list[Change] = []
        self._cursors: OrderedDict[str, _Cursor] = OrderedDict()
        self.root_id = self._drive_style_id()
        t = now()
        self.items[self.root_id] = Item(self.root_id, "My Drive", FOLDER, [], t, t, is_root=True)

    # -- ids ---------------------------------------------------------------------------

    def random_string(self, n: int) -> str:
        with self.lock:
            return "".join(self.rng.choice(_ID_CHARS) for _ in range(n))

    def new_id(self) -> str:
        """A 33-character id like Drive's ('1' + 32 url-safe characters)."""
        with self.lock:
            while True:
                fid = "1" + self.random_string(32)
                if fid not in self.items:
                    return fid

    def _drive_style_id(self) -> str:
        """Roots and shared drives have ids such as '0AKf8pT3bbWHzUk9PVA'."""
        alnum = string.ascii_letters + string.digits
        return "0A" + "".join(self.rng.choice(alnum) for _ in range(11)) + "Uk9PVA"

    # -- lookup ------------------------------------------------------------------------

    def resolve(self, file_id: str) -> str:
        return self.root_id if file_id == "root" else file_id

    def get(self, file_id: str, location: str = "fileId") -> Item:
        with self.lock:
            item = self.items.get(self.resolve(file_id))
            if item is None:
                raise not_found(file_id, location)
            return item

    def children(self, folder_id: str) -> list[Item]:
        with self.lock:
            fid = self.resolve(folder_id)
            kids = [it for it in self.items.values() if fid in it.parents]
            return sorted(kids, key=lambda it: (it.name, it.id))

    def descendants(self, folder_id: str) -> Iterator[Item]:
        """Depth-first, parents before children."""
        for child in self.children(folder_id):
            yield child
            if child.is_folder:
                yield from self.descendants(child.id)

    def is_ancestor(self, ancestor_id: str, item_id: str) -> bool:
        with self.lock:
            seen: set[str] = set()
            todo = [item_id]
            while todo:
                cur = todo.pop()
                if cur == ancestor_id:
                    return True
                if cur in seen or cur not in self.items:
                    continue
                seen.add(cur)
                todo.extend(self.items[cur].parents)
            return False

    # -- change log --------------------------------------------------------------------

    @property
    def seq(self) -> int:
        return len(self.changes)

    def log(self, item: Item, removed: bool = False) -> None:
        with self.lock:
            if not removed:
                item.version += 1
            self.changes.append(Change(self.seq + 1, item.id, now(), removed, item.drive_id))

    # -- mutations ---------------------------------------------------------------------

    def create(
        self,
        name: str,
        mime_type: str,
        parent_id: str | None,
        *,
        content: bytes | None = None,
        modified: datetime | None = None,
        created: datetime | None = None,
        shortcut_target: str | None = None,
        export_size: int | dict[str, int] | None = None,
        file_id: str | None = None,
        shared_with_me: bool = False,
        description: str | None = None,
        properties: dict[str, str] | None = None,
        app_properties: dict[str, str] | None = None,
        original_filename: str | None = None,
        starred: bool = False,
    ) -> Item:
        """Create any kind of item under `parent_id` (None: shared with me, no parent)."""
        with self.lock:
            t = now()
            item = Item(
                file_id or self.new_id(),
                name,
                mime_type,
                [],
                created or modified or t,
                modified or t,
                description=description,
                properties=dict(properties or {}),
                app_properties=dict(app_properties or {}),
                original_filename=original_filename,
                starred=starred,
            )
            if item.id in self.items:
                raise DriveError(409, "duplicate", "A file already exists with the provided ID.")
            if parent_id is not None:
                parent = self.get(parent_id, "parents")
                if not parent.is_folder:
                    raise DriveError(
                        403,
                        "teamDrivesParentLimit" if parent.drive_id else "invalidParent",
                        "The parent is not a folder.",
                    )
                item.parents = [parent.id]
                item.drive_id = parent.drive_id
                item.owned_by_me = parent.owned_by_me and parent.drive_id is None
                item.trashed = parent.trashed
            elif shared_with_me:
                item.shared_with_me = True
                item.owned_by_me = False
                item.shared_time = t
            else:
                item.parents = [self.root_id]
            if mime_type == SHORTCUT:
                target = self.get(shortcut_target or "", "shortcutDetails.targetId")
                item.shortcut_target = target.id
            elif mime_type in EXPORT_FORMATS:
                sizes = export_size if export_size is not None else DEFAULT_EXPORT_SIZE
                for fmt in EXPORT_FORMATS[mime_type]:
                    item.export_sizes[fmt] = (
                        sizes.get(fmt, DEFAULT_EXPORT_SIZE) if isinstance(sizes, dict) else sizes
                    )
            elif item.is_blob:
                item.set_content(content or b"")
                item.original_filename = original_filename or name
            self.items[item.id] = item
            self.log(item)
            return item

    def add_shared_drive(self, name: str) -> SharedDrive:
        with self.lock:
            drive = SharedDrive(self._drive_style_id(), name, now())
            self.drives[drive.id] = drive
            root = Item(drive.id, name, FOLDER, [], drive.created, drive.created)
            root.drive_id, root.is_root, root.owned_by_me = drive.id, True, False
            self.items[drive.id] = root
            return drive

    def set_content(
        self,
        file_id: str,
        data: bytes,
        mime_type: str | None = None,
        modified: datetime | None = None,
    ) -> Item:
        with self.lock:
            item = self.get(file_id)
            if not item.is_blob:
                raise DriveError(
                    403,
                    "fileNotUploadable" if item.is_doc else "invalid",
                    "Only files with binary content can be updated with media.",
                )
            item.set_content(data)
            if mime_type:
                item.mime_type = mime_type
            item.modified = modified or now()
            self.log(item)
            return item

    def rename(self, file_id: str, name: str) -> Item:
        with self.lock:
            item = self.get(file_id)
            item.name = name
            self.log(item)
            return item

    def move(self, file_id: str, add: list[str], remove: list[str]) -> Item:
        """addParents/removeParents; Drive now allows exactly one parent per item."""
        with self.lock:
            item = self.get(file_id)
            if item.is_root:
                raise DriveError(403, "cannotModifyRoot", "The root folder cannot be moved.")
            parents = [p for p in item.parents if p not in {self.resolve(r) for r in remove}]
            targets = [self.get(p, "addParents") for p in add]
            for target in targets:
                if not target.is_folder:
                    raise invalid("The parent is not a folder.", "addParents")
                if self.is_ancestor(item.id, target.id):
                    raise DriveError(
                        403, "cannotMoveFolderIntoDescendant", "Cannot move a folder into itself."
                    )
                if target.id not in parents:
                    parents.append(target.id)
            if len(parents) > 1:
                raise DriveError(
                    403, "cannotAddParent", "Increasing the number of parents is not allowed."
                )
            if not parents and not item.shared_with_me:
                raise DriveError(403, "cannotRemoveParent", "A file must have a parent.")
            item.parents = parents
            if targets:
                item.drive_id = targets[-1].drive_id
                for child in self.descendants(item.id):
                    child.drive_id = item.drive_id
            self.log(item)
            return item

    def set_trashed(self, file_id: str, trashed: bool) -> Item:
        """Trashing a folder trashes its subtree implicitly (explicitlyTrashed=false)."""
        with self.lock:
            item = self.get(file_id)
            if item.is_root:
                raise DriveError(403, "cannotModifyRoot", "The root folder cannot be trashed.")
            t = now()
            item.trashed, item.explicitly_trashed = trashed, trashed
            item.trashed_time = t if trashed else None
            self.log(item)
            for child in self.descendants(item.id):
                if trashed and not child.trashed:
                    child.trashed, child.trashed_time = True, t
                    self.log(child)
                elif not trashed and child.trashed and not child.explicitly_trashed:
                    child.trashed, child.trashed_time = False, None
                    self.log(child)
            return item

    def delete(self, file_id: str) -> list[str]:
        """Permanent, recursive delete; returns the removed ids (children first)."""
        with self.lock:
            item = self.get(file_id)
            if item.is_root:
                raise DriveError(403, "cannotDeleteRoot", "The root folder cannot be deleted.")
            doomed = [item, *self.descendants(item.id)]
            for victim in reversed(doomed):
                del self.items[victim.id]
                self.log(victim, removed=True)
            return [v.id for v in reversed(doomed)]

    def touch(self, item: Item) -> None:
        """Record a metadata-only change made in place by a handler."""
        self.log(item)

    # -- rendering ---------------------------------------------------------------------

    def export_bytes(self, item: Item, mime_type: str) -> bytes:
        """Deterministic bytes per (id, format, content version)."""
        size = item.export_sizes[mime_type]
        rng = random.Random(f"{item.id}|{mime_type}|{item.content_version}")
        return rng.randbytes(size)

    def resource(self, item: Item) -> dict[str, object]:
        """The full files resource; `fields` selection happens later."""
        with self.lock:
            r: dict[str, object] = {
                "kind": "drive#file",
                "id": item.id,
                "name": item.name,
                "mimeType": item.mime_type,
            }
            if item.parents:
                r["parents"] = list(item.parents)
            r.update(
                starred=item.starred,
                trashed=item.trashed,
                explicitlyTrashed=item.explicitly_trashed,
                spaces=["drive"],
                version=str(item.version),
                createdTime=format_time(item.created),
                modifiedTime=format_time(item.modified),
                viewedByMeTime=format_time(item.modified),
                webViewLink=self._view_link(item),
                hasThumbnail=False,
                viewersCanCopyContent=True,
                copyRequiresWriterPermission=False,
                writersCanShare=True,
                shared=item.shared_with_me or not item.owned_by_me,
                capabilities=self._capabilities(item),
            )
            if item.trashed_time:
                r["trashedTime"] = format_time(item.trashed_time)
            if item.drive_id:
                r["driveId"] = r["teamDriveId"] = item.drive_id
            else:
                r["ownedByMe"] = item.owned_by_me
                r["owners"] = [dict(USER if item.owned_by_me else OTHER_USER)]
            if item.shared_with_me and item.shared_time:
                r["sharedWithMeTime"] = format_time(item.shared_time)
                r["sharingUser"] = dict(OTHER_USER)
            if item.is_blob:
                r.update(
                    size=str(item.size),
                    quotaBytesUsed=str(item.size),
                    md5Checksum=item.md5,
                    sha1Checksum=item.sha1,
                    sha256Checksum=item.sha256,
                    headRevisionId=f"0B{item.md5[:20]}{item.content_version}",
                    originalFilename=item.original_filename or item.name,
                )
                if "." in item.name.lstrip("."):
                    r["fileExtension"] = item.name.rsplit(".", 1)[1]
                    r["fullFileExtension"] = item.name.lstrip(".").split(".", 1)[1]
            else:
                r["quotaBytesUsed"] = "0"
            if item.is_doc:
                r["exportLinks"] = {
                    fmt: f"{self.base_url}export-link/{item.id}?mimeType={quote(fmt, safe='')}"
                    for fmt in item.export_sizes
                }
            if item.shortcut_target:
                details: dict[str, str] = {"targetId": item.shortcut_target}
                target = self.items.get(item.shortcut_target)
                if target:
                    details["targetMimeType"] = target.mime_type
                r["shortcutDetails"] = details
            if item.description is not None:
                r["description"] = item.description
            if item.properties:
                r["properties"] = dict(item.properties)
            if item.app_properties:
                r["appProperties"] = dict(item.app_properties)
            return r

    @staticmethod
    def _view_link(item: Item) -> str:
        if item.is_folder:
            return f"https://drive.google.com/drive/folders/{item.id}"
        return f"https://drive.google.com/file/d/{item.id}/view?usp=drivesdk"

    @staticmethod
    def _capabilities(item: Item) -> dict[str, bool]:
        return {
            "canDownload": not item.is_folder and not item.is_shortcut,
            "canEdit": True,
            "canCopy": not item.is_folder,
            "canRename": not item.is_root,
            "canDelete": not item.is_root,
            "canTrash": not item.is_root,
            "canListChildren": item.is_folder,
            "canAddChildren": item.is_folder,
            "canRemoveChildren": item.is_folder,
            "canMoveItemWithinDrive": not item.is_root,
            "canReadRevisions": item.is_blob,
        }

    # -- search ------------------------------------------------------------------------

    @staticmethod
    def visible(item: Item, corpora: str, drive_id: str | None, all_drives: bool) -> bool:
        """Whether files.list / changes.list may return `item` for these parameters."""
        if item.is_root:
            return False
        if item.drive_id:
            return all_drives and (corpora != "drive" or item.drive_id == drive_id)
        return corpora != "drive"

    @staticmethod
    def sort(items: list[Item], order_by: str | None) -> list[Item]:
        keys: list[tuple[str, bool]] = []
        for part in (order_by or "name").split(","):
            words = part.split()
            if not words:
                continue
            if words[0] not in _ORDER_KEYS or len(words) > 2 or words[1:] not in ([], ["desc"]):
                raise QueryError(f"Invalid Value: unsupported orderBy {part.strip()!r}")
            keys.append((words[0], words[1:] == ["desc"]))
        items.sort(key=lambda it: it.id)
        if not any(k == "name" for k, _ in keys):
            items.sort(key=_ORDER_KEYS["name"])
        for key, desc in reversed(keys):
            items.sort(key=_ORDER_KEYS[key], reverse=desc)
        return items

    def list_page(
        self,
        pred: Predicate,
        *,
        corpora: str,
        drive_id: str | None,
        all_drives: bool,
        order_by: str | None,
        page_size: int,
        page_token: str | None,
        signature: tuple[object, ...],
    ) -> tuple[list[Item], str | None]:
        """One files.list page; the token remembers the sorted snapshot of matching ids."""
        with self.lock:
            if page_token:
                cursor = self._cursors.get(page_token)
                if cursor is None or cursor.signature != signature:
                    raise invalid("Invalid Value", "pageToken")
            else:
                matches = [
                    it
                    for it in self.items.values()
                    if self.visible(it, corpora, drive_id, all_drives) and pred(it)
                ]
                ids = [it.id for it in self.sort(matches, order_by)]
                cursor = _Cursor(ids, 0, signature, pred)
            page: list[Item] = []
            pos = cursor.pos
            while pos < len(cursor.ids) and len(page) < page_size:
                item = self.items.get(cursor.ids[pos])
                pos += 1
                if item is not None and cursor.pred(item):  # skip what changed since
                    page.append(item)
            if pos >= len(cursor.ids):
                return page, None
            token = "~!!~" + self.random_string(40)
            self._cursors[token] = _Cursor(cursor.ids, pos, signature, cursor.pred)
            while len(self._cursors) > _MAX_CURSORS:
                self._cursors.popitem(last=False)
            return page, token

    def changes_page(
        self,
        start: int,
        page_size: int,
        include: Callable[[Change, Item | None], bool],
    ) -> tuple[list[tuple[Change, Item | None]], int | None]:
        """Changes from `start` on, one entry per file (its latest), in log order.

        Returns the entries and the next page token, or None on the last page.
        """
        with self.lock:
            latest: dict[str, Change] = {}
            for change in self.changes[max(start, 1) - 1 :]:
                latest[change.file_id] = change
            entries: list[tuple[Change, Item | None]] = []
            for change in sorted(latest.values(), key=lambda c: c.seq):
                item = None if change.removed else self.items.get(change.file_id)
                if not include(change, item):
                    continue
                if len(entries) == page_size:
                    return entries, entries[-1][0].seq + 1
                entries.append((change, item))
            return entries, None

    # -- inspection --------------------------------------------------------------------

    def usage(self) -> int:
        with self.lock:
            return sum(it.size for it in self.items.values() if it.owned_by_me and it.is_blob)

    def tree(self, root_id: str = "root", include_trashed: bool = False) -> dict[str, int | str]:
        """Path -> size (blobs), MIME type (Docs), 'folder' or '-> target id' (shortcuts).

        Folder paths end with '/'; a duplicate name gets ' #2', ' #3'... in (name, id) order.
        """
        out: dict[str, int | str] = {}
        with self.lock:
            self._walk(self.resolve(root_id), "", include_trashed, out)
        return out

    def _walk(self, folder_id: str, prefix: str, trashed: bool, out: dict[str, int | str]) -> None:
        for child in self.children(folder_id):
            if child.trashed and not trashed:
                continue
            path = prefix + child.name
            n = 2
            while path + ("/" if child.is_folder else "") in out:
                path = f"{prefix}{child.name} #{n}"
                n += 1
            if child.is_folder:
                out[path + "/"] = "folder"
                self._walk(child.id, path + "/", trashed, out)
            elif child.is_shortcut:
                out[path] = f"-> {child.shortcut_target}"
            elif child.is_doc:
                out[path] = child.mime_type
            else:
                out[path] = child.size
