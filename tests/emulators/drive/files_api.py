"""The files resource: list, get, media download, export, create, update, delete."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .errors import DriveError, bad_request, invalid, not_found, quota_exceeded
from .model import EXPORT_FORMATS, EXPORT_LIMIT, FOLDER, SHORTCUT, Item, parse_time
from .query import QueryError, compile_query
from .wire import Request, Response, projected

if TYPE_CHECKING:
    from .api import Api

FILE_FIELDS = "kind,id,name,mimeType"
LIST_FIELDS = f"kind,incompleteSearch,nextPageToken,files({FILE_FIELDS})"
_READ_ONLY = frozenset(
    "size md5Checksum sha1Checksum sha256Checksum driveId teamDriveId exportLinks capabilities "
    "owners version headRevisionId quotaBytesUsed webViewLink webContentLink iconLink "
    "fileExtension fullFileExtension ownedByMe shared trashedTime explicitlyTrashed spaces "
    "hasThumbnail thumbnailLink sharingUser lastModifyingUser permissions".split()
)
_CORPORA = {"user": "user", "domain": "user", "drive": "drive", "allDrives": "allDrives"}


def all_drives_ok(req: Request) -> bool:
    return req.flag("supportsAllDrives") or req.flag("supportsTeamDrives")


def lookup(api: Api, req: Request, file_id: str, location: str = "fileId") -> Item:
    """An item, hidden (404) when it is in a shared drive and the client did not opt in."""
    item = api.state.get(file_id, location)
    if item.drive_id and not all_drives_ok(req):
        raise not_found(file_id, location)
    return item


# -- reads ---------------------------------------------------------------------------------


def list_files(api: Api, req: Request) -> Response:
    q = req.query
    page_size = req.int_param("pageSize", 100, 1, 1000)
    if api.faults.max_page_size:
        page_size = max(1, min(page_size, api.faults.max_page_size))
    corpora = _CORPORA.get(q.get("corpora") or "user")
    if corpora is None:
        raise invalid(f"Invalid Value: corpora={q.get('corpora')}", "corpora")
    drive_id = q.get("driveId") or None
    all_drives = req.flag("includeItemsFromAllDrives") or req.flag("includeTeamDriveItems")
    if (drive_id is None) != (corpora != "drive"):
        raise invalid(
            "The driveId parameter must be specified if and only if corpora is set to drive.",
            "driveId",
        )
    if corpora != "user" and not all_drives:
        raise invalid(
            "The includeItemsFromAllDrives parameter must be set to true when corpora is set "
            "to drive or allDrives.",
            "includeItemsFromAllDrives",
        )
    if all_drives and not all_drives_ok(req):
        raise invalid(
            "The includeItemsFromAllDrives parameter can only be set to true if "
            "supportsAllDrives is also set to true.",
            "includeItemsFromAllDrives",
        )
    if drive_id and drive_id not in api.state.drives:
        raise DriveError(404, "notFound", f"Shared drive not found: {drive_id}", location="driveId")
    spaces = {s.strip() for s in (q.get("spaces") or "drive").split(",")}
    try:
        pred = compile_query(q.get("q"), api.state.resolve)
        if "drive" not in spaces:  # no appDataFolder or photos content is emulated
            pred = _nothing
        items, token = api.state.list_page(
            pred,
            corpora=corpora,
            drive_id=drive_id,
            all_drives=all_drives,
            order_by=q.get("orderBy"),
            page_size=page_size,
            page_token=q.get("pageToken"),
            signature=(q.get("q"), q.get("orderBy"), corpora, drive_id, all_drives, str(spaces)),
        )
    except QueryError as exc:
        raise invalid(str(exc), "orderBy" if "orderBy" in str(exc) else "q") from None
    body: dict[str, object] = {
        "kind": "drive#fileList",
        "incompleteSearch": False,
        "files": [api.state.resource(it) for it in items],
    }
    if token:
        body["nextPageToken"] = token
    return projected(req, body, LIST_FIELDS)


def _nothing(item: Item) -> bool:
    return False


def get_file(api: Api, req: Request, file_id: str) -> Response:
    item = lookup(api, req, file_id)
    if req.query.get("alt") == "media":
        if not item.is_blob:
            raise DriveError(
                403,
                "fileNotDownloadable",
                "Only files with binary content can be downloaded. Use Export with Docs "
                "Editors files.",
                location="alt",
            )
        return ranged(req, item.content or b"", item.mime_type)
    return projected(req, api.state.resource(item), FILE_FIELDS)


_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")


def ranged(req: Request, data: bytes, mime_type: str) -> Response:
    """200, or 206 + Content-Range for one `Range: bytes=..` (416 when past the end)."""
    headers = {"Content-Type": mime_type}
    m = _RANGE.match(req.header("Range"))
    if not m or m.group(1) == m.group(2) == "":
        return Response(200, data, headers, media=True)
    size = len(data)
    if m.group(1) == "":  # suffix: the last N bytes
        start, end = max(0, size - int(m.group(2))), size - 1
        if int(m.group(2)) == 0:
            start = size
    else:
        start = int(m.group(1))
        end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
        if m.group(2) and int(m.group(2)) < start:
            return Response(200, data, headers, media=True)  # invalid range: ignored
    if start >= size:
        return Response(
            416,
            b"Request range not satisfiable",
            {"Content-Type": "text/plain", "Content-Range": f"bytes */{size}"},
        )
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return Response(206, data[start : end + 1], headers, media=True)


def export_file(api: Api, req: Request, file_id: str) -> Response:
    """files.export: refuses results above 10 MB, as Drive does."""
    item = lookup(api, req, file_id)
    mime = req.query.get("mimeType")
    if not mime:
        raise DriveError(400, "required", "Required parameter: mimeType", location="mimeType")
    if not item.is_doc:
        raise DriveError(403, "fileNotExportable", "Export only supports Docs Editors files.")
    if mime not in item.export_sizes:
        raise DriveError(
            400, "badRequest", "The requested conversion is not supported.", location="mimeType"
        )
    if item.export_sizes[mime] > EXPORT_LIMIT:
        raise DriveError(403, "exportSizeLimitExceeded", "This file is too large to be exported.")
    return Response(200, api.state.export_bytes(item, mime), {"Content-Type": mime}, media=True)


def export_link(api: Api, req: Request, file_id: str) -> Response:
    """The target of `exportLinks`: authenticated, and without the 10 MB limit."""
    item = api.state.get(file_id)
    mime = req.query.get("mimeType", "")
    if not item.is_doc or mime not in item.export_sizes:
        raise not_found(file_id)
    data = api.state.export_bytes(item, mime)
    return Response(200, data, {"Content-Type": mime}, media=True)


# -- writes --------------------------------------------------------------------------------


def _check_writable(meta: dict[str, object]) -> None:
    bad = sorted(set(meta) & _READ_ONLY)
    if bad:
        raise DriveError(
            403,
            "fieldNotWritable",
            f"The resource body includes fields which are not directly writable: {bad}.",
        )


def _time(meta: dict[str, object], key: str) -> object:
    value = meta.get(key)
    if value is None:
        return None
    try:
        return parse_time(str(value))
    except ValueError:
        raise invalid(f"Invalid value for {key}: {value}", key) from None


def _props(value: object, key: str) -> dict[str, str | None]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid(f"Invalid value for {key}", key)
    return {str(k): None if v is None else str(v) for k, v in value.items()}


def check_quota(api: Api, extra: int) -> None:
    limit = api.storage_limit
    if limit is not None and api.state.usage() + extra > limit:
        raise quota_exceeded("storageQuotaExceeded")


def create_from_metadata(
    api: Api, req: Request, meta: dict[str, object], content: bytes | None, media_mime: str | None
) -> Item:
    """files.create with or without media; shared by the metadata and upload endpoints."""
    _check_writable(meta)
    mime = str(meta.get("mimeType") or media_mime or "application/octet-stream")
    parents = meta.get("parents") or ["root"]
    if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
        raise invalid("Invalid value for parents", "parents")
    if len(parents) > 1:
        raise DriveError(403, "cannotAddParent", "A file can only have one parent folder.")
    parent = lookup(api, req, parents[0], "parents")
    target = None
    if mime == SHORTCUT:
        details = meta.get("shortcutDetails")
        target = details.get("targetId") if isinstance(details, dict) else None
        if not target:
            raise DriveError(
                400, "required", "Required: shortcutDetails.targetId", location="shortcutDetails"
            )
    if content and mime == FOLDER:
        raise bad_request("Folders cannot have content.")
    export_size = len(content) if content is not None and mime in EXPORT_FORMATS else None
    file_id = meta.get("id")
    if file_id is not None and not re.fullmatch(r"[A-Za-z0-9_-]{10,}", str(file_id)):
        raise invalid("The provided file ID is not usable.", "id")
    check_quota(api, len(content or b""))
    properties = {k: v for k, v in _props(meta.get("properties"), "properties").items() if v}
    app_props = {k: v for k, v in _props(meta.get("appProperties"), "appProperties").items() if v}
    return api.state.create(
        str(meta.get("name") or "Untitled"),
        mime,
        parent.id,
        content=content,
        modified=_time(meta, "modifiedTime"),  # type: ignore[arg-type]
        created=_time(meta, "createdTime"),  # type: ignore[arg-type]
        shortcut_target=str(target) if target else None,
        export_size=export_size,
        file_id=str(file_id) if file_id else None,
        description=str(meta["description"]) if meta.get("description") is not None else None,
        properties=properties,
        app_properties=app_props,
        original_filename=str(meta.get("originalFilename") or meta.get("name") or "") or None,
        starred=bool(meta.get("starred", False)),
    )


def apply_update(
    api: Api,
    req: Request,
    file_id: str,
    meta: dict[str, object],
    content: bytes | None,
    media_mime: str | None,
) -> Item:
    """files.update: metadata, parents (addParents/removeParents) and optional new content."""
    _check_writable(meta)
    if "parents" in meta:
        raise DriveError(
            403,
            "fieldNotWritable",
            "The parents field is not directly writable in update requests. Use the addParents "
            "and removeParents parameters instead.",
        )
    state = api.state
    with state.lock:
        item = lookup(api, req, file_id)
        if content is not None:
            check_quota(api, len(content) - item.size)
            state.set_content(item.id, content, str(meta.get("mimeType") or media_mime or ""))
        changed = False
        if meta.get("name") is not None:
            item.name, changed = str(meta["name"]), True
        if meta.get("mimeType") and meta["mimeType"] != item.mime_type:
            # Drive: "The value cannot be changed unless a new revision is uploaded."
            if not item.is_blob or str(meta["mimeType"]).startswith("application/vnd.google-apps"):
                raise DriveError(403, "fieldNotWritable", "The mimeType cannot be changed.")
            if content is None:
                raise DriveError(
                    403,
                    "fieldNotWritable",
                    "The mimeType cannot be changed unless a new revision is uploaded.",
                )
            item.mime_type, changed = str(meta["mimeType"]), True
        if "description" in meta:
            desc = meta["description"]
            item.description, changed = None if desc is None else str(desc), True
        if "starred" in meta:
            item.starred, changed = bool(meta["starred"]), True
        for key, attr in (("properties", "properties"), ("appProperties", "app_properties")):
            if key in meta:
                props: dict[str, str] = getattr(item, attr)
                for k, v in _props(meta[key], key).items():
                    if v is None:
                        props.pop(k, None)
                    else:
                        props[k] = v
                changed = True
        when = _time(meta, "modifiedTime")
        if when is not None:
            item.modified, changed = when, True  # type: ignore[assignment]
        if changed:
            state.touch(item)
        if "trashed" in meta and bool(meta["trashed"]) != item.trashed:
            state.set_trashed(item.id, bool(meta["trashed"]))
        add = [p for p in req.query.get("addParents", "").split(",") if p]
        remove = [p for p in req.query.get("removeParents", "").split(",") if p]
        for parent_id in add:
            lookup(api, req, parent_id, "addParents")
        if add or remove:
            state.move(item.id, add, remove)
        return item


def create_file(api: Api, req: Request) -> Response:
    """POST /drive/v3/files: folders, shortcuts, empty Docs and metadata-only files."""
    item = create_from_metadata(api, req, req.json_body(), None, None)
    return projected(req, api.state.resource(item), FILE_FIELDS)


def update_file(api: Api, req: Request, file_id: str) -> Response:
    item = apply_update(api, req, file_id, req.json_body(), None, None)
    return projected(req, api.state.resource(item), FILE_FIELDS)


def delete_file(api: Api, req: Request, file_id: str) -> Response:
    item = lookup(api, req, file_id)
    api.state.delete(item.id)
    return Response(204)


def empty_trash(api: Api, req: Request) -> Response:
    state = api.state
    drive_id = req.query.get("driveId") or None
    with state.lock:
        doomed = [
            it.id
            for it in state.items.values()
            if it.explicitly_trashed and it.drive_id == drive_id
        ]
        for file_id in doomed:
            if file_id in state.items:
                state.delete(file_id)
    return Response(204)


def generate_ids(api: Api, req: Request) -> Response:
    if api.generate_ids_status == 404:  # no such route: the path reads as a file id
        raise DriveError(404, "notFound", "File not found: generateIds.", location="fileId")
    if api.generate_ids_status is not None:
        raise DriveError(api.generate_ids_status, "notImplemented", "Not Implemented")
    count = req.int_param("count", 10, 1, 1000)
    ids = [api.state.new_id() for _ in range(count)]
    space = req.query.get("space", "drive")
    return projected(req, {"kind": "drive#generatedIds", "space": space, "ids": ids}, "*")
