"""Data model of the Drive emulator: items, shared drives, MIME constants and time helpers.

Kept free of HTTP and locking so the state and the query engine can share it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

FOLDER = "application/vnd.google-apps.folder"
SHORTCUT = "application/vnd.google-apps.shortcut"
GOOGLE_APPS_PREFIX = "application/vnd.google-apps."

DOC_KINDS: dict[str, str] = {
    "document": "application/vnd.google-apps.document",
    "spreadsheet": "application/vnd.google-apps.spreadsheet",
    "presentation": "application/vnd.google-apps.presentation",
    "drawing": "application/vnd.google-apps.drawing",
}

_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"

# The export formats Google lists in `exportLinks` for each Docs Editors type.
EXPORT_FORMATS: dict[str, tuple[str, ...]] = {
    DOC_KINDS["document"]: (
        _DOCX,
        "application/vnd.oasis.opendocument.text",
        "application/rtf",
        "application/pdf",
        "text/plain",
        "text/html",
        "text/markdown",
        "application/zip",
        "application/epub+zip",
    ),
    DOC_KINDS["spreadsheet"]: (
        _XLSX,
        "application/x-vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/pdf",
        "text/csv",
        "text/tab-separated-values",
        "application/zip",
    ),
    DOC_KINDS["presentation"]: (
        _PPTX,
        "application/vnd.oasis.opendocument.presentation",
        "application/pdf",
        "text/plain",
    ),
    DOC_KINDS["drawing"]: ("image/svg+xml", "image/png", "image/jpeg", "application/pdf"),
}

EXPORT_LIMIT = 10 * 1024 * 1024  # files.export refuses larger results (exportSizeLimitExceeded)
CHUNK_GRANULARITY = 256 * 1024  # resumable chunks must be multiples of this, except the last

USER = {
    "kind": "drive#user",
    "displayName": "Emulated User",
    "emailAddress": "user@example.com",
    "me": True,
    "permissionId": "00112233445566778899",
}
OTHER_USER = {
    "kind": "drive#user",
    "displayName": "Someone Else",
    "emailAddress": "someone@example.org",
    "me": False,
    "permissionId": "99887766554433221100",
}


def now() -> datetime:
    """The current UTC time at the millisecond precision Drive keeps."""
    return trim_ms(datetime.now(timezone.utc))


def trim_ms(dt: datetime) -> datetime:
    return dt.replace(microsecond=dt.microsecond // 1000 * 1000)


def format_time(dt: datetime) -> str:
    """RFC 3339 with milliseconds and a 'Z', exactly as Drive prints it."""
    dt = dt.astimezone(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:?\d{2})?$"
)


def parse_time(value: str | datetime | float) -> datetime:
    """Accept RFC 3339 (any fraction length, 'Z' or offset), a datetime or a POSIX time."""
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return trim_ms(dt.astimezone(timezone.utc))
    if isinstance(value, (int, float)):
        return trim_ms(datetime.fromtimestamp(value, timezone.utc))
    m = _RFC3339.match(value.strip())
    if not m:
        raise ValueError(f"invalid RFC 3339 time: {value!r}")
    date, clock, frac, tz = m.groups()
    micro = (frac or "0")[:6].ljust(6, "0")
    offset = "+00:00" if tz in (None, "Z", "z") else tz
    if len(offset) == 5:
        offset = offset[:3] + ":" + offset[3:]
    dt = datetime.fromisoformat(f"{date}T{clock}.{micro}{offset}")
    return trim_ms(dt.astimezone(timezone.utc))


@dataclass
class Item:
    """One Drive file, folder, Google Doc or shortcut."""

    id: str
    name: str
    mime_type: str
    parents: list[str]
    created: datetime
    modified: datetime
    content: bytes | None = None  # blobs only
    drive_id: str | None = None  # set for every item of a shared drive (and its root)
    trashed: bool = False
    explicitly_trashed: bool = False
    trashed_time: datetime | None = None
    shared_with_me: bool = False
    shared_time: datetime | None = None
    owned_by_me: bool = True
    shortcut_target: str | None = None
    export_sizes: dict[str, int] = field(default_factory=dict)  # Docs: bytes per export MIME
    content_version: int = 1
    version: int = 1
    description: str | None = None
    starred: bool = False
    properties: dict[str, str] = field(default_factory=dict)
    app_properties: dict[str, str] = field(default_factory=dict)
    original_filename: str | None = None
    is_root: bool = False
    md5: str = ""
    sha1: str = ""
    sha256: str = ""

    @property
    def is_folder(self) -> bool:
        return self.mime_type == FOLDER

    @property
    def is_shortcut(self) -> bool:
        return self.mime_type == SHORTCUT

    @property
    def is_doc(self) -> bool:
        return self.mime_type in EXPORT_FORMATS

    @property
    def is_blob(self) -> bool:
        return not self.mime_type.startswith(GOOGLE_APPS_PREFIX)

    @property
    def size(self) -> int:
        return len(self.content) if self.content is not None else 0

    def set_content(self, data: bytes) -> None:
        """Store bytes and the checksums Drive computes on upload."""
        self.content = bytes(data)
        self.md5 = hashlib.md5(self.content).hexdigest()
        self.sha1 = hashlib.sha1(self.content).hexdigest()
        self.sha256 = hashlib.sha256(self.content).hexdigest()
        self.content_version += 1


@dataclass
class SharedDrive:
    """A shared drive; its root folder is an Item whose id is the drive id."""

    id: str
    name: str
    created: datetime
    hidden: bool = False

    def resource(self) -> dict[str, object]:
        return {
            "kind": "drive#drive",
            "id": self.id,
            "name": self.name,
            "createdTime": format_time(self.created),
            "hidden": self.hidden,
            "capabilities": {
                "canAddChildren": True,
                "canListChildren": True,
                "canDownload": True,
                "canEdit": True,
                "canRename": True,
                "canDeleteDrive": True,
            },
            "restrictions": {
                "adminManagedRestrictions": False,
                "copyRequiresWriterPermission": False,
                "domainUsersOnly": False,
                "driveMembersOnly": False,
            },
        }


@dataclass
class Change:
    """One entry of the change log; `removed` items keep the drive they were in."""

    seq: int
    file_id: str
    time: datetime
    removed: bool
    drive_id: str | None
