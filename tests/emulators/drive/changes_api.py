"""The changes, drives and about resources."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import DriveError, invalid
from .model import EXPORT_FORMATS, USER, Change, Item, format_time
from .wire import Request, Response, projected

if TYPE_CHECKING:
    from .api import Api

CHANGE_FIELDS = (
    "kind,nextPageToken,newStartPageToken,"
    "changes(kind,changeType,time,removed,fileId,file(kind,id,name,mimeType))"
)


def start_page_token(api: Api, req: Request) -> Response:
    body: dict[str, object] = {
        "kind": "drive#startPageToken",
        "startPageToken": str(api.state.seq + 1),
    }
    return projected(req, body, "*")


def list_changes(api: Api, req: Request) -> Response:
    """One entry per changed file since the token; newStartPageToken on the last page."""
    raw = req.query.get("pageToken")
    if not raw:
        raise DriveError(400, "required", "Required parameter: pageToken", location="pageToken")
    try:
        start = int(raw)
    except ValueError:
        raise invalid(f"Invalid Value: pageToken={raw}", "pageToken") from None
    if start < 1:
        raise invalid(f"Invalid Value: pageToken={raw}", "pageToken")
    page_size = req.int_param("pageSize", 100, 1, 1000)
    if api.faults.max_page_size:
        page_size = max(1, min(page_size, api.faults.max_page_size))
    include_removed = req.query.get("includeRemoved", "true").lower() != "false"
    all_drives = req.flag("includeItemsFromAllDrives") or req.flag("includeTeamDriveItems")
    drive_id = req.query.get("driveId") or None
    my_drive_only = req.flag("restrictToMyDrive")
    spaces = req.query.get("spaces") or "drive"

    def include(change: Change, item: Item | None) -> bool:
        if "drive" not in spaces:
            return False
        if item is None:
            if not include_removed:
                return False
            did = change.drive_id
        else:
            if item.is_root:
                return False
            did = item.drive_id
        if drive_id:
            return did == drive_id
        return did is None or (all_drives and not my_drive_only)

    state = api.state
    with state.lock:  # the new start token must not skip a change made meanwhile
        entries, next_seq = state.changes_page(start, page_size, include)
        changes = []
        for change, item in entries:
            entry: dict[str, object] = {
                "kind": "drive#change",
                "changeType": "file",
                "time": format_time(change.time),
                "removed": item is None,
                "fileId": change.file_id,
            }
            if item is not None:
                entry["file"] = state.resource(item)
            changes.append(entry)
        body: dict[str, object] = {"kind": "drive#changeList", "changes": changes}
        if next_seq is not None:
            body["nextPageToken"] = str(next_seq)
        else:
            body["newStartPageToken"] = str(state.seq + 1)
    return projected(req, body, CHANGE_FIELDS)


def list_drives(api: Api, req: Request) -> Response:
    page_size = req.int_param("pageSize", 10, 1, 100)
    raw = req.query.get("pageToken") or "0"
    if not raw.isdigit():
        raise invalid("Invalid Value", "pageToken")
    offset = int(raw)
    with api.state.lock:
        drives = sorted(api.state.drives.values(), key=lambda d: (d.name, d.id))
    page = drives[offset : offset + page_size]
    body: dict[str, object] = {"kind": "drive#driveList", "drives": [d.resource() for d in page]}
    if offset + page_size < len(drives):
        body["nextPageToken"] = str(offset + page_size)
    return projected(req, body, "kind,nextPageToken,drives(kind,id,name)")


def get_drive(api: Api, req: Request, drive_id: str) -> Response:
    drive = api.state.drives.get(drive_id)
    if drive is None:
        raise DriveError(404, "notFound", f"Shared drive not found: {drive_id}", location="driveId")
    return projected(req, drive.resource(), "kind,id,name")


def about(api: Api, req: Request) -> Response:
    """about.get; like Drive, it insists on a `fields` parameter."""
    if not req.query.get("fields"):
        raise DriveError(
            400,
            "required",
            "The 'fields' parameter is required for this method.",
            location="fields",
        )
    usage = api.state.usage()
    quota: dict[str, str] = {
        "usage": str(usage),
        "usageInDrive": str(usage),
        "usageInDriveTrash": "0",
    }
    if api.storage_limit is not None:
        quota["limit"] = str(api.storage_limit)
    body = {
        "kind": "drive#about",
        "user": dict(USER),
        "storageQuota": quota,
        "maxUploadSize": str(5 * 1024**4),
        "appInstalled": False,
        "canCreateDrives": True,
        "exportFormats": {mime: list(fmts) for mime, fmts in EXPORT_FORMATS.items()},
        "importFormats": {},
        "folderColorPalette": [],
    }
    return projected(req, body, "*")
