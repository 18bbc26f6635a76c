"""In-memory OneDrive/SharePoint drives: items, the delta change feed and upload sessions.

Everything here runs under one re-entrant lock owned by :class:`GraphState`; the HTTP layer
only turns requests into calls on it and the results into Graph-shaped JSON.
"""

from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .quickxor import quickxor_b64

SIMPLE_UPLOAD_MAX = 4 * 1024 * 1024
FRAGMENT_UNIT = 327_680  # 320 KiB: every fragment but the last is a multiple of this
FRAGMENT_MAX = 60 * 1024 * 1024
MAX_PATH = 400
DEFAULT_QUOTA = 1024**4  # 1 TiB
_INVALID_CHARS = set('"*:<>?/\\|')
_RESERVED = {"con", "prn", "aux", "nul", ".lock", "desktop.ini"} | {
    f"{p}{n}" for p in ("com", "lpt") for n in range(10)
}
USER_OID = "5c6c0b8e-2d7a-4e6b-9a43-3f1d2b9a7c10"
USER_NAME = "Alice Emulator"
USER_UPN = "alice@contoso.example"


class GraphError(Exception):
    """A Graph error response: ``{"error": {"code", "message", "innerError"}}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        inner_code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.inner_code = inner_code
        self.headers = headers or {}

    def body(self, request_id: str) -> dict[str, Any]:
        """The JSON body, with the innerError block Graph always adds."""
        inner: dict[str, Any] = {
            "date": iso(time.time()),
            "request-id": request_id,
            "client-request-id": request_id,
        }
        if self.inner_code:
            inner["code"] = self.inner_code
        return {"error": {"code": self.code, "message": self.message, "innerError": inner}}


def iso(ts: float) -> str:
    """Graph timestamps: UTC, whole seconds, trailing Z."""
    return datetime.fromtimestamp(int(ts), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> float:
    """Parse an ISO 8601 timestamp as clients send it (Z or offset, any fraction)."""
    m = re.fullmatch(
        r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?", value.strip()
    )
    if not m:
        raise GraphError(400, "invalidRequest", f"Invalid date/time value: {value!r}")
    tz = m.group(3) or "Z"
    tz = "+00:00" if tz == "Z" else tz if ":" in tz else tz[:3] + ":" + tz[3:]
    dt = datetime.fromisoformat(m.group(1) + tz)
    return dt.timestamp() + (float(m.group(2)) if m.group(2) else 0.0)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def validate_name(name: str) -> None:
    """OneDrive's name rules: no ``" * : < > ? / \\ |``, no reserved names, no edge spaces."""
    if not name or name in (".", "..") or name != name.strip():
        raise GraphError(400, "invalidRequest", f"Invalid name: {name!r}", "invalidName")
    if any(c in _INVALID_CHARS or ord(c) < 32 for c in name):
        raise GraphError(
            400,
            "invalidRequest",
            f"The name {name!r} contains invalid characters",
            "fileNameContainsInvalidCharacters",
        )
    if name.lower() in _RESERVED or "_vti_" in name.lower():
        raise GraphError(400, "invalidRequest", f"The name {name!r} is reserved", "invalidName")


@dataclass
class Item:
    """A driveItem. ``kind`` is root, folder, file or package (a OneNote notebook)."""

    id: str
    name: str
    parent_id: str | None
    kind: str
    created: float
    modified: float
    fs_created: float
    fs_modified: float
    data: bytes = b""
    special: str | None = None
    etag_v: int = 1
    ctag_v: int = 1
    seq: int = 0
    versions: list[tuple[float, int]] = field(default_factory=list)  # earlier (mtime, size)
    children: dict[str, str] = field(default_factory=dict)  # casefolded name -> id
    hashes: dict[str, str] = field(default_factory=dict)

    @property
    def is_container(self) -> bool:
        return self.kind in ("root", "folder", "package")


@dataclass
class Tombstone:
    """What delta still says about a deleted item."""

    id: str
    name: str
    parent_id: str | None
    kind: str
    seq: int


@dataclass
class Drive:
    """One drive (personal, business or a SharePoint document library)."""

    id: str
    drive_type: str
    name: str
    site_id: str | None
    root_id: str
    items: dict[str, Item] = field(default_factory=dict)
    tombstones: dict[str, Tombstone] = field(default_factory=dict)
    seq: int = 0
    delta_generation: int = 0
    quota_total: int = DEFAULT_QUOTA
    hash_kinds: tuple[str, ...] = ("quickXorHash",)
    counter: int = 100
    created: float = field(default_factory=time.time)
    used_bytes: int = 0  # current content plus older versions, kept up to date


@dataclass
class FragmentRecord:
    """One PUT to an upload URL, kept so tests can see what was (re)sent."""

    start: int
    end: int
    status: int


@dataclass
class UploadSession:
    """A resumable upload: fragments are kept until the last byte arrives."""

    id: str
    drive_id: str
    parent_id: str
    name: str
    target_id: str | None
    conflict: str
    fs_created: float | None
    fs_modified: float | None
    expires: float
    total: int | None = None
    chunks: dict[int, bytes] = field(default_factory=dict)
    received: list[tuple[int, int]] = field(default_factory=list)  # merged, inclusive
    fragments: list[FragmentRecord] = field(default_factory=list)
    bytes_received: int = 0
    state: str = "active"  # active, completed, cancelled
    item_id: str | None = None

    def next_expected_ranges(self) -> list[str]:
        """Graph's ``nextExpectedRanges``: holes as ``a-b``, the open tail as ``a-``."""
        out: list[str] = []
        pos = 0
        for start, end in self.received:
            if start > pos:
                out.append(f"{pos}-{start - 1}")
            pos = end + 1
        if self.total is None or pos < self.total:
            out.append(f"{pos}-")
        return out

    def overlaps(self, start: int, end: int) -> bool:
        return any(not (end < s or start > e) for s, e in self.received)

    def add_range(self, start: int, end: int) -> None:
        ranges = sorted([*self.received, (start, end)])
        merged: list[tuple[int, int]] = []
        for s, e in ranges:
            if merged and s <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
            else:
                merged.append((s, e))
        self.received = merged

    def info(self) -> dict[str, Any]:
        """Plain summary for tests (what was received, what was resent)."""
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "total": self.total,
            "received": list(self.received),
            "bytes_received": self.bytes_received,
            "fragments": [(f.start, f.end, f.status) for f in self.fragments],
            "item_id": self.item_id,
        }


class GraphState:
    """All drives of one emulated tenant; every public method takes the lock."""

    def __init__(self, stats: Counter[str], default_drive_type: str = "personal") -> None:
        self.lock = threading.RLock()
        self.stats = stats
        self.drives: dict[str, Drive] = {}
        self.sites: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, UploadSession] = {}
        self.delta_cursors: dict[str, tuple[str, list[str], int]] = {}  # nextLink pages
        self.upload_session_lifetime = 3600.0
        # Graph lists the changed item's ancestor folders in delta too (their size/cTag
        # changed); turn off to get only the items that were touched themselves.
        self.delta_include_ancestors = True
        self.default_drive_id = self.add_drive(default_drive_type)

    # ----------------------------------------------------------------- drives and ids
    def add_drive(
        self,
        drive_type: str = "business",
        site_id: str | None = None,
        name: str | None = None,
        quota_total: int = DEFAULT_QUOTA,
    ) -> str:
        """Create a drive; a documentLibrary gets (or joins) a SharePoint site."""
        if drive_type not in ("personal", "business", "documentLibrary"):
            raise ValueError(f"unknown drive type {drive_type!r}")
        with self.lock:
            n = len(self.drives)
            seed = hashlib.sha256(f"drive:{n}:{drive_type}".encode()).digest()
            if drive_type == "personal":
                drive_id = seed[:8].hex()
                kinds: tuple[str, ...] = ("quickXorHash", "sha1Hash", "sha256Hash")
            else:
                drive_id = "b!" + _b64url(seed + seed[:16])
                kinds = ("quickXorHash",)
            if drive_type == "documentLibrary":
                if site_id is None:
                    g1 = uuid.UUID(bytes=seed[:16])
                    g2 = uuid.UUID(bytes=seed[16:32])
                    site_id = f"contoso.sharepoint.com,{g1},{g2}"
                self.sites.setdefault(
                    site_id, {"id": site_id, "displayName": f"Site {len(self.sites) + 1}"}
                )
            default_name = {"personal": "OneDrive", "business": "OneDrive"}.get(
                drive_type, "Documents"
            )
            now = time.time()
            root = Item(
                id="",
                name="root",
                parent_id=None,
                kind="root",
                created=now,
                modified=now,
                fs_created=now,
                fs_modified=now,
            )
            drive = Drive(
                id=drive_id,
                drive_type=drive_type,
                name=name or default_name,
                site_id=site_id,
                root_id="",
                quota_total=quota_total,
                hash_kinds=kinds,
            )
            root.id = self._new_id(drive)
            drive.root_id = root.id
            drive.items[root.id] = root
            self.drives[drive_id] = drive
            self._touch(drive, root)
            return drive_id

    def _new_id(self, drive: Drive) -> str:
        drive.counter += 1
        if drive.drive_type == "personal":
            return f"{drive.id.upper()}!{drive.counter}"
        digest = hashlib.sha1(f"{drive.id}:{drive.counter}".encode()).digest()
        return "01" + base64.b32encode(digest).decode("ascii")[:32]

    def drive(self, drive_id: str | None) -> Drive:
        """Look a drive up by id (None: the signed-in user's default drive)."""
        drive = self.drives.get(drive_id or self.default_drive_id)
        if drive is None:
            raise GraphError(404, "itemNotFound", "The drive was not found")
        return drive

    def site_drive(self, site_id: str) -> Drive:
        for drive in self.drives.values():
            if drive.site_id == site_id:
                return drive
        raise GraphError(404, "itemNotFound", f"Site {site_id!r} not found")

    # ------------------------------------------------------------------ lookups
    def item(self, drive: Drive, item_id: str) -> Item:
        """An item by id; deleted ids are gone (404), as in Graph."""
        if item_id == "root":
            return drive.items[drive.root_id]
        found = drive.items.get(item_id)
        if found is None:
            raise GraphError(404, "itemNotFound", "The resource could not be found.")
        return found

    def lookup(self, drive: Drive, base: Item, rel: str) -> Item | None:
        """Case-insensitive path lookup relative to ``base``."""
        cur = base
        for part in [p for p in rel.split("/") if p]:
            if not cur.is_container:
                return None
            child = cur.children.get(part.casefold())
            if child is None:
                return None
            cur = drive.items[child]
        return cur

    def resolve(self, drive: Drive, base: Item, rel: str) -> Item:
        """Like :meth:`lookup` but 404 when missing."""
        found = self.lookup(drive, base, rel)
        if found is None:
            raise GraphError(404, "itemNotFound", "The resource could not be found.")
        return found

    def path_of(self, drive: Drive, item: Item) -> str:
        """``/a/b`` for an item (``""`` for the root)."""
        parts: list[str] = []
        cur: Item | None = item
        while cur is not None and cur.kind != "root":
            parts.append(cur.name)
            cur = drive.items.get(cur.parent_id) if cur.parent_id else None
        return "/" + "/".join(reversed(parts)) if parts else ""

    def in_vault(self, drive: Drive, item: Item) -> bool:
        """True for items inside the (locked) Personal Vault."""
        cur = drive.items.get(item.parent_id) if item.parent_id else None
        while cur is not None:
            if cur.special == "vault":
                return True
            cur = drive.items.get(cur.parent_id) if cur.parent_id else None
        return False

    def folder_size(self, drive: Drive, item: Item) -> int:
        if item.kind == "file":
            return len(item.data)
        return sum(self.folder_size(drive, drive.items[c]) for c in item.children.values())

    def used(self, drive: Drive) -> int:
        """Bytes used, older versions included (that is what Business bills)."""
        return drive.used_bytes

    # ------------------------------------------------------------------ change feed
    def _touch(self, drive: Drive, item: Item, content: bool = False) -> None:
        """Record a change: the item and its ancestors move to the head of the feed."""
        chain: list[Item] = []
        cur = drive.items.get(item.parent_id) if item.parent_id else None
        while cur is not None:
            chain.append(cur)
            cur = drive.items.get(cur.parent_id) if cur.parent_id else None
        for anc in reversed(chain):  # ancestors first: delta lists parents before children
            anc.ctag_v += 1
            if self.delta_include_ancestors:
                drive.seq += 1
                anc.seq = drive.seq
        drive.seq += 1
        item.seq = drive.seq
        item.etag_v += 1
        if content:
            item.ctag_v += 1

    def _touch_container(self, drive: Drive, folder: Item) -> None:
        """A folder whose children changed: new cTag; listed in delta like an ancestor."""
        if self.delta_include_ancestors:
            self._touch(drive, folder, content=True)
        else:
            folder.ctag_v += 1

    def _check_path(self, drive: Drive, parent: Item, name: str) -> None:
        validate_name(name)
        if len(self.path_of(drive, parent)) + 1 + len(name) >= MAX_PATH:
            raise GraphError(
                400, "invalidRequest", "The path is too long (400 characters)", "pathIsTooLong"
            )

    def _free_name(self, parent: Item, name: str) -> str:
        """OneDrive's ``rename`` conflict behaviour: ``name 1.ext``, ``name 2.ext``..."""
        stem, dot, ext = name.rpartition(".")
        if not dot or not stem:
            stem, ext = name, ""
        n = 1
        while True:
            candidate = f"{stem} {n}.{ext}" if ext else f"{stem} {n}"
            if candidate.casefold() not in parent.children:
                return candidate
            n += 1

    def _resolve_conflict(
        self, drive: Drive, parent: Item, name: str, conflict: str, keep_id: str | None = None
    ) -> tuple[str, Item | None]:
        """Apply ``@microsoft.graph.conflictBehavior``; returns (name, existing-to-replace)."""
        existing_id = parent.children.get(name.casefold())
        if existing_id is None or existing_id == keep_id:
            return name, None
        if conflict == "rename":
            return self._free_name(parent, name), None
        if conflict == "replace":
            return name, drive.items[existing_id]
        raise GraphError(
            409,
            "nameAlreadyExists",
            "The specified item name already exists. Name: " + drive.items[existing_id].name,
        )

    def _new_item(self, drive: Drive, parent: Item, name: str, kind: str, ts: float) -> Item:
        item = Item(
            id=self._new_id(drive),
            name=name,
            parent_id=parent.id,
            kind=kind,
            created=ts,
            modified=ts,
            fs_created=float(int(ts)),
            fs_modified=float(int(ts)),
        )
        drive.items[item.id] = item
        parent.children[name.casefold()] = item.id
        return item

    def _add_version(self, drive: Drive, item: Item) -> None:
        """Keep the current state as an older version (counted in ``stats["versions"]``)."""
        item.versions.append((item.fs_modified, len(item.data)))
        drive.used_bytes += len(item.data)
        self.stats["versions"] += 1

    def _set_content(self, drive: Drive, item: Item, data: bytes) -> None:
        drive.used_bytes += len(data) - len(item.data)
        item.data = bytes(data)
        hashes = {"quickXorHash": quickxor_b64(item.data)}
        if "sha1Hash" in drive.hash_kinds:
            hashes["sha1Hash"] = hashlib.sha1(item.data).hexdigest().upper()
        if "sha256Hash" in drive.hash_kinds:
            hashes["sha256Hash"] = hashlib.sha256(item.data).hexdigest().upper()
        item.hashes = hashes

    def _remove(self, drive: Drive, item: Item) -> None:
        """Delete a subtree, leaving tombstones for delta (children first)."""
        for child_id in list(item.children.values()):
            self._remove(drive, drive.items[child_id])
        parent = drive.items.get(item.parent_id) if item.parent_id else None
        if parent is not None:
            parent.children.pop(item.name.casefold(), None)
        del drive.items[item.id]
        drive.used_bytes -= len(item.data) + sum(size for _, size in item.versions)
        drive.seq += 1
        drive.tombstones[item.id] = Tombstone(
            item.id, item.name, item.parent_id, item.kind, drive.seq
        )

    # ------------------------------------------------------------------ mutations
    def ensure_folder(self, drive: Drive, base: Item, rel: str) -> Item:
        """Walk ``rel`` from ``base``, creating missing folders (path-based uploads do)."""
        cur = base
        for part in [p for p in rel.split("/") if p]:
            child_id = cur.children.get(part.casefold())
            if child_id is None:
                self._check_path(drive, cur, part)
                child = self._new_item(drive, cur, part, "folder", time.time())
                self._touch(drive, child)
                cur = child
            else:
                cur = drive.items[child_id]
                if not cur.is_container:
                    raise GraphError(409, "nameAlreadyExists", f"{part!r} is a file")
        return cur

    def create_folder(self, drive: Drive, parent: Item, name: str, conflict: str = "fail") -> Item:
        """POST .../children with a ``folder`` facet."""
        if not parent.is_container:
            raise GraphError(400, "invalidRequest", "The parent is not a folder")
        self._check_path(drive, parent, name)
        name, existing = self._resolve_conflict(drive, parent, name, conflict)
        if existing is not None:
            self._remove(drive, existing)
        item = self._new_item(drive, parent, name, "folder", time.time())
        self._touch(drive, item)
        return item

    def put_file(
        self,
        drive: Drive,
        parent: Item,
        name: str,
        data: bytes,
        conflict: str = "replace",
        fs_modified: float | None = None,
        fs_created: float | None = None,
        target: Item | None = None,
        check_quota: bool = True,
    ) -> tuple[Item, bool]:
        """Write a file; returns (item, created). Replacing content makes a new version."""
        if check_quota:  # replacing keeps the old version, so it frees nothing
            if self.used(drive) + len(data) > drive.quota_total:
                raise GraphError(507, "quotaLimitReached", "Insufficient Space Available")
        now = time.time()
        if target is None:
            if not parent.is_container:
                raise GraphError(400, "invalidRequest", "The parent is not a folder")
            self._check_path(drive, parent, name)
            name, existing = self._resolve_conflict(drive, parent, name, conflict)
            if existing is not None and existing.kind != "file":
                raise GraphError(409, "nameAlreadyExists", f"{name!r} is a folder")
            target = existing
        created = target is None
        if target is None:
            target = self._new_item(drive, parent, name, "file", now)
        else:
            self._add_version(drive, target)
            target.modified = now
            target.fs_modified = float(int(now))
        self._set_content(drive, target, data)
        if fs_modified is not None:
            target.fs_modified = float(int(fs_modified))
        if fs_created is not None:
            target.fs_created = float(int(fs_created))
        self._touch(drive, target, content=True)
        return target, created

    def patch(self, drive: Drive, item: Item, body: dict[str, Any], conflict: str) -> Item:
        """PATCH: rename, move (parentReference), fileSystemInfo (a new version on files)."""
        if item.kind == "root":
            raise GraphError(403, "accessDenied", "The root cannot be modified")
        parent = drive.items[item.parent_id or drive.root_id]
        new_parent = parent
        ref = body.get("parentReference")
        if isinstance(ref, dict):
            if ref.get("driveId") and ref["driveId"] != drive.id:
                raise GraphError(400, "invalidRequest", "Cannot move items between drives")
            if ref.get("id"):
                new_parent = self.item(drive, str(ref["id"]))
            elif ref.get("path"):
                rel = str(ref["path"]).split("root:", 1)[-1]
                new_parent = self.resolve(drive, drive.items[drive.root_id], rel)
            if not new_parent.is_container:
                raise GraphError(400, "invalidRequest", "The destination is not a folder")
            anc: Item | None = new_parent
            while anc is not None:
                if anc.id == item.id:
                    raise GraphError(400, "invalidRequest", "Cannot move a folder into itself")
                anc = drive.items.get(anc.parent_id) if anc.parent_id else None
        new_name = str(body.get("name") or item.name)
        if new_parent.id != parent.id or new_name != item.name:
            self._check_path(drive, new_parent, new_name)
            new_name, existing = self._resolve_conflict(
                drive, new_parent, new_name, conflict, keep_id=item.id
            )
            if existing is not None:
                self._remove(drive, existing)
            parent.children.pop(item.name.casefold(), None)
            if parent.id != new_parent.id:
                self._touch_container(drive, parent)
            item.name = new_name
            item.parent_id = new_parent.id
            new_parent.children[new_name.casefold()] = item.id
        fsi = body.get("fileSystemInfo")
        if isinstance(fsi, dict):
            if "lastModifiedDateTime" in fsi:
                mtime = float(int(parse_iso(str(fsi["lastModifiedDateTime"]))))
                if item.kind == "file" and mtime != item.fs_modified:
                    self._add_version(drive, item)
                item.fs_modified = mtime
            if "createdDateTime" in fsi:
                item.fs_created = float(int(parse_iso(str(fsi["createdDateTime"]))))
        item.modified = time.time()
        self._touch(drive, item)
        return item

    def delete(self, drive: Drive, item: Item) -> None:
        if item.kind == "root":
            raise GraphError(403, "accessDenied", "The root cannot be deleted")
        parent = drive.items[item.parent_id or drive.root_id]
        self._remove(drive, item)
        self._touch_container(drive, parent)

    # ------------------------------------------------------------------ JSON views
    def drive_json(self, drive: Drive, base: str) -> dict[str, Any]:
        used = self.used(drive)
        owner: dict[str, Any] = {"user": {"displayName": USER_NAME, "id": USER_OID}}
        if drive.drive_type == "documentLibrary":
            owner = {
                "group": {
                    "displayName": "Site Members",
                    "id": str(uuid.uuid5(uuid.NAMESPACE_URL, drive.id)),
                }
            }
        out: dict[str, Any] = {
            "id": drive.id,
            "driveType": drive.drive_type,
            "name": drive.name,
            "createdDateTime": iso(drive.created),
            "lastModifiedDateTime": iso(time.time()),
            "webUrl": f"{base}/web/{drive.id}",
            "owner": owner,
            "quota": {
                "deleted": 0,
                "remaining": max(0, drive.quota_total - used),
                "state": "normal" if used < drive.quota_total * 0.9 else "nearing",
                "total": drive.quota_total,
                "used": used,
            },
        }
        return out

    def item_json(
        self,
        drive: Drive,
        item: Item,
        base: str,
        *,
        download_url: str | None = None,
        in_delta: bool = False,
    ) -> dict[str, Any]:
        """A driveItem as Graph shows it (delta omits ``parentReference.path``)."""
        path = self.path_of(drive, item)
        out: dict[str, Any] = {
            "createdDateTime": iso(item.created),
            "eTag": f'"{{{item.id}}},{item.etag_v}"',
            "id": item.id,
            "lastModifiedDateTime": iso(item.modified),
            "name": item.name,
            "webUrl": f"{base}/web/{drive.id}{path}",
            "cTag": f'"c:{{{item.id}}},{item.ctag_v}"',
            "size": self.folder_size(drive, item),
            "createdBy": {"user": {"displayName": USER_NAME, "id": USER_OID}},
            "lastModifiedBy": {"user": {"displayName": USER_NAME, "id": USER_OID}},
            "fileSystemInfo": {
                "createdDateTime": iso(item.fs_created),
                "lastModifiedDateTime": iso(item.fs_modified),
            },
        }
        ref: dict[str, Any] = {"driveType": drive.drive_type, "driveId": drive.id}
        if drive.site_id:
            ref["siteId"] = drive.site_id
        if item.parent_id is not None:
            parent = drive.items[item.parent_id]
            ref["id"] = parent.id
            if not in_delta:
                prefix = (
                    "/drive/root:"
                    if drive.id == self.default_drive_id
                    else (f"/drives/{drive.id}/root:")
                )
                ref["name"] = parent.name if parent.kind != "root" else "root"
                ref["path"] = prefix + self.path_of(drive, parent)
        out["parentReference"] = ref
        if item.kind == "root":
            out["root"] = {}
            out["folder"] = {"childCount": len(item.children)}
        elif item.kind == "folder":
            out["folder"] = {"childCount": len(item.children)}
        elif item.kind == "package":
            out["package"] = {"type": "oneNote"}
        else:
            mime = mimetypes.guess_type(item.name)[0] or "application/octet-stream"
            out["file"] = {"mimeType": mime, "hashes": dict(item.hashes)}
            if download_url:
                out["@microsoft.graph.downloadUrl"] = download_url
        if item.special:
            out["specialFolder"] = {"name": item.special}
        return out

    def tombstone_json(self, drive: Drive, tomb: Tombstone) -> dict[str, Any]:
        ref: dict[str, Any] = {"driveType": drive.drive_type, "driveId": drive.id}
        if tomb.parent_id:
            ref["id"] = tomb.parent_id
        out: dict[str, Any] = {
            "id": tomb.id,
            "name": tomb.name,
            "parentReference": ref,
            "deleted": {"state": "deleted"},
        }
        out["file" if tomb.kind == "file" else "folder"] = {}
        return out

    # ------------------------------------------------------------------ delta
    def delta_token(self, drive: Drive, seq: int) -> str:
        payload = json.dumps([drive.id, drive.delta_generation, seq]).encode()
        return _b64url(b"\x01" + payload)

    def _parse_delta_token(self, drive: Drive, token: str) -> int:
        try:
            raw = _unb64url(token)
            drive_id, gen, seq = json.loads(raw[1:])
            valid = raw[:1] == b"\x01" and drive_id == drive.id and gen == drive.delta_generation
        except (ValueError, TypeError):
            valid = False
        if not valid or not isinstance(seq, int) or seq > drive.seq:
            raise GraphError(
                410,
                "resyncRequired",
                "Resync required. Replace any local items with the server's version (including"
                " deletes) if you're sure that the service was up to date with your local"
                " changes when you last sync'd. Upload any local changes that the server"
                " doesn't know about.",
                "resyncChangesApplyDifferences",
            )
        return seq

    def delta_start(self, drive: Drive, token: str | None) -> tuple[list[str], int]:
        """Ids changed since ``token`` (all live items when None) and the current head."""
        if token == "latest":
            return [], drive.seq
        if token is None:
            ids: list[str] = []
            stack = [drive.items[drive.root_id]]
            while stack:  # depth-first, parents before children, vault contents hidden
                cur = stack.pop()
                ids.append(cur.id)
                if cur.special == "vault":
                    continue
                kids = sorted(cur.children.items(), reverse=True)
                stack.extend(drive.items[i] for _, i in kids)
            return ids, drive.seq
        since = self._parse_delta_token(drive, token)
        changed: list[tuple[int, str]] = [
            (i.seq, i.id)
            for i in drive.items.values()
            if i.seq > since and not self.in_vault(drive, i)
        ]
        changed += [(t.seq, t.id) for t in drive.tombstones.values() if t.seq > since]
        return [i for _, i in sorted(changed)], drive.seq

    def invalidate_delta_tokens(self) -> None:
        """Every delta token issued so far now answers 410 resyncRequired."""
        with self.lock:
            for drive in self.drives.values():
                drive.delta_generation += 1
            self.delta_cursors.clear()

    # ------------------------------------------------------------------ upload sessions
    def create_session(
        self,
        drive: Drive,
        parent: Item,
        name: str,
        target: Item | None,
        conflict: str,
        fs_created: float | None,
        fs_modified: float | None,
    ) -> UploadSession:
        if target is None:
            self._check_path(drive, parent, name)
            if conflict == "fail" and name.casefold() in parent.children:
                self._resolve_conflict(drive, parent, name, "fail")
        session = UploadSession(
            id=_b64url(uuid.uuid4().bytes + uuid.uuid4().bytes),
            drive_id=drive.id,
            parent_id=parent.id,
            name=name,
            target_id=target.id if target else None,
            conflict=conflict,
            fs_created=fs_created,
            fs_modified=fs_modified,
            expires=time.time() + self.upload_session_lifetime,
        )
        self.sessions[session.id] = session
        return session

    def session(self, session_id: str) -> UploadSession:
        session = self.sessions.get(session_id)
        if session is None or session.state != "active" or session.expires < time.time():
            raise GraphError(404, "itemNotFound", "The upload session was not found")
        return session

    def finish_session(self, session: UploadSession) -> tuple[Item, bool]:
        """Assemble the fragments and commit the file (conflicts re-checked now)."""
        drive = self.drive(session.drive_id)
        data = b"".join(session.chunks[k] for k in sorted(session.chunks))
        target = drive.items.get(session.target_id) if session.target_id else None
        parent = drive.items.get(session.parent_id)
        if parent is None:
            raise GraphError(404, "itemNotFound", "The parent folder was deleted")
        item, created = self.put_file(
            drive,
            parent,
            session.name,
            data,
            conflict=session.conflict,
            fs_modified=session.fs_modified,
            fs_created=session.fs_created,
            target=target,
        )
        session.state = "completed"
        session.item_id = item.id
        session.chunks.clear()
        return item, created
