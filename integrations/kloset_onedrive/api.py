"""Graph wire shapes the connectors read: a driveItem reduced to what a backup needs.

Keeping the parsing here means the importer, delta and storage agree on what a folder, a
OneNote package or the Personal Vault looks like, and `$select` names exactly those fields
(smaller pages, fewer bytes per listing).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from kloset_sdk.records import parse_rfc3339_ns

#: Fields every listing asks for; `@microsoft.graph.downloadUrl` saves one request per file.
SELECT = (
    "id,name,size,file,folder,package,specialFolder,fileSystemInfo,parentReference,root,deleted,"
    "@microsoft.graph.downloadUrl"
)
DOWNLOAD_URL = "@microsoft.graph.downloadUrl"
#: Download URLs are pre-authenticated for about an hour; refetch well before that.
URL_TTL = 45 * 60.0
#: Hash names in `file.hashes` -> the xattr each is kept under. quickXorHash is on every drive
#: type, sha256Hash on some business ones; sha1/crc32 (legacy, personal) add records, no value.
HASH_XATTRS = {
    "quickXorHash": "user.onedrive.quickxorhash",
    "sha256Hash": "user.onedrive.sha256",
}


@dataclass
class DriveItem:
    id: str
    name: str
    parent_id: str | None
    kind: str  # root, folder, file, package (OneNote notebook), deleted
    size: int = 0
    mtime_ns: int = 0
    hashes: dict[str, str] = field(default_factory=dict)
    special: str = ""  # specialFolder.name, "vault" for the Personal Vault
    package_type: str = ""
    download_url: str | None = field(default=None, compare=False)
    url_time: float = field(default=0.0, compare=False)
    drive_type: str = field(default="", compare=False)  # parentReference.driveType, if given

    @property
    def is_container(self) -> bool:
        return self.kind in ("root", "folder")

    @property
    def skipped_reason(self) -> str:
        """Why this item is not backed up, or "" (OneNote and the vault cannot be read)."""
        if self.kind == "package":
            kind = "OneNote notebook" if self.package_type == "oneNote" else "package"
            return f"{kind} (Graph cannot download {self.package_type or 'package'} items)"
        if self.special == "vault":
            return "Personal Vault (locked: Graph refuses access to its content)"
        return ""

    def fresh_url(self) -> str | None:
        if self.download_url and time.monotonic() - self.url_time < URL_TTL:
            return self.download_url
        return None

    def to_state(self) -> list[Any]:
        """Compact form for the delta state file (URLs are short-lived: not kept)."""
        return [
            self.name,
            self.parent_id,
            self.kind,
            self.size,
            self.mtime_ns,
            self.hashes,
            self.special,
            self.package_type,
        ]

    @classmethod
    def from_state(cls, item_id: str, row: list[Any]) -> DriveItem:
        name, parent, kind, size, mtime, hashes, special, package = row
        return cls(item_id, name, parent, kind, size, mtime, dict(hashes), special, package)


def parse_item(obj: dict[str, Any]) -> DriveItem:
    """One driveItem JSON (listing, delta page, item GET, upload answer) -> DriveItem."""
    parent = obj.get("parentReference") or {}
    if "deleted" in obj and obj["deleted"] is not None:
        kind = "deleted"
    elif "root" in obj:
        kind = "root"
    elif "package" in obj:
        kind = "package"
    elif "folder" in obj:
        kind = "folder"
    else:
        kind = "file"
    fsi = obj.get("fileSystemInfo") or {}
    stamp = fsi.get("lastModifiedDateTime") or obj.get("lastModifiedDateTime")
    url = obj.get(DOWNLOAD_URL)
    return DriveItem(
        id=str(obj["id"]),
        name=str(obj.get("name", "")),
        parent_id=parent.get("id"),
        kind=kind,
        size=int(obj.get("size") or 0) if kind == "file" else 0,
        mtime_ns=parse_rfc3339_ns(stamp) if stamp else 0,
        hashes=dict((obj.get("file") or {}).get("hashes") or {}),
        special=str((obj.get("specialFolder") or {}).get("name", "")),
        package_type=str((obj.get("package") or {}).get("type", "")),
        download_url=url,
        url_time=time.monotonic() if url else 0.0,
        drive_type=str(parent.get("driveType") or ""),
    )


def path_address(path: str) -> str:
    """`/a/b c` -> `/root:/a/b%20c:` (Graph's path addressing); `/` -> `/root`."""
    clean = "/".join(p for p in path.split("/") if p)
    if not clean:
        return "/root"
    return "/root:/" + quote(clean, safe="/") + ":"


def child_address(parent_id: str, name: str) -> str:
    """`/items/{parent}:/{name}:`: address a child by name without knowing its id."""
    return f"/items/{parent_id}:/{quote(name, safe='')}:"


def join(parent: str, name: str) -> str:
    return (parent.rstrip("/") + "/" + name) if parent != "/" else "/" + name
