"""Uploads: simple ``PUT content`` (up to 4 MB), ``createUploadSession``, and the session URL
(fragments with ``Content-Range``, status, cancel), with the vault, quota and drop faults."""

from __future__ import annotations

import posixpath
import re
from typing import TYPE_CHECKING

from .items_api import check_if_match, guard_vault, item_json
from .state import (
    FRAGMENT_MAX,
    FRAGMENT_UNIT,
    SIMPLE_UPLOAD_MAX,
    FragmentRecord,
    GraphError,
    Item,
    iso,
    parse_iso,
)
from .wire import Addr, Drop, Response, Route, json_body, json_response

if TYPE_CHECKING:
    from .emulator import GraphEmulator
    from .server import Handler


def write_target(emu: GraphEmulator, addr: Addr) -> tuple[Item, str, Item | None]:
    """(parent, name, existing) for PUT content / createUploadSession."""
    st = emu.state
    base_item = st.item(addr.drive, addr.base_id)
    if not addr.rel:
        if base_item.kind != "file":
            raise GraphError(400, "invalidRequest", "Cannot write content to a folder")
        parent = addr.drive.items[base_item.parent_id or addr.drive.root_id]
        guard_vault(emu, addr.drive, base_item)
        return parent, base_item.name, base_item
    parent_rel, name = posixpath.split(addr.rel)
    existing = st.lookup(addr.drive, base_item, addr.rel)
    parent_item = st.lookup(addr.drive, base_item, parent_rel)
    if parent_item is None:
        parent_item = st.ensure_folder(addr.drive, base_item, parent_rel)
    probe = existing or parent_item
    guard_vault(emu, addr.drive, probe)
    if parent_item.special == "vault" and not emu.vault_unlocked:
        raise GraphError(403, "accessDenied", "The Personal Vault is locked.", "vaultLocked")
    if existing is not None and existing.kind != "file":
        raise GraphError(409, "nameAlreadyExists", f"{name!r} is a folder")
    return parent_item, name, existing


def storage_check(emu: GraphEmulator) -> None:
    if emu.faults.insufficient_storage:
        emu.count("faults_507")
        raise GraphError(507, "quotaLimitReached", "Insufficient Space Available")


def put_simple(
    emu: GraphEmulator, h: Handler, addr: Addr, query: dict[str, str], body: bytes, base: str
) -> Response:
    if len(body) > SIMPLE_UPLOAD_MAX:
        raise GraphError(
            413,
            "requestTooLarge",
            "Simple upload is limited to 4 MB; use an upload session.",
        )
    storage_check(
        emu,
    )
    parent, name, existing = write_target(emu, addr)
    conflict = query.get("@microsoft.graph.conflictBehavior", "replace")
    if existing is not None:
        check_if_match(h, existing, item_json(emu, addr.drive, existing, base))
        if conflict == "fail":
            raise GraphError(409, "nameAlreadyExists", f"{existing.name} already exists")
        if conflict == "replace":
            existing_target: Item | None = existing
        else:
            existing_target = None
    else:
        existing_target = None
    item, created = emu.state.put_file(
        addr.drive, parent, name, body, conflict, target=existing_target
    )
    return json_response(201 if created else 200, item_json(emu, addr.drive, item, base))


def create_session(
    emu: GraphEmulator, addr: Addr, query: dict[str, str], body: bytes, base: str
) -> Response:
    storage_check(
        emu,
    )
    req = json_body(body).get("item") or {}
    if not isinstance(req, dict):
        raise GraphError(400, "invalidRequest", "item must be an object")
    conflict = str(
        req.get("@microsoft.graph.conflictBehavior")
        or query.get("@microsoft.graph.conflictBehavior")
        or "replace"
    )
    fsi = req.get("fileSystemInfo") or {}
    mtime = parse_iso(fsi["lastModifiedDateTime"]) if "lastModifiedDateTime" in fsi else None
    ctime = parse_iso(fsi["createdDateTime"]) if "createdDateTime" in fsi else None
    parent, name, existing = write_target(emu, addr)
    if existing is not None and conflict == "fail":
        raise GraphError(409, "nameAlreadyExists", f"{existing.name} already exists")
    target = existing if conflict == "replace" else None
    session = emu.state.create_session(addr.drive, parent, name, target, conflict, ctime, mtime)
    return json_response(
        200,
        {
            "@odata.context": f"{base}/v1.0/$metadata#microsoft.graph.uploadSession",
            "uploadUrl": f"{base}/up/{session.id}",
            "expirationDateTime": iso(session.expires),
            "nextExpectedRanges": ["0-"],
        },
    )


def route_upload(
    emu: GraphEmulator, h: Handler, method: str, session_id: str, base: str
) -> tuple[str, Route]:
    st = emu.state

    def status(body: bytes) -> Response:
        with st.lock:
            s = st.session(session_id)
            return json_response(
                200,
                {
                    "expirationDateTime": iso(s.expires),
                    "nextExpectedRanges": s.next_expected_ranges(),
                },
            )

    def cancel(body: bytes) -> Response:
        with st.lock:
            st.session(session_id).state = "cancelled"
        return Response(204)

    if method == "GET":
        return "upload_status", status
    if method == "DELETE":
        return "upload_cancel", cancel
    if method == "PUT":
        return "upload_fragment", lambda body: fragment(emu, h, session_id, base)
    raise GraphError(405, "notSupported", "Method not allowed on an upload session")


def fragment(emu: GraphEmulator, h: Handler, session_id: str, base: str) -> Response:
    """One ``PUT uploadUrl`` with ``Content-Range``; the body is read here (streamed)."""
    st = emu.state
    length = int(h.headers.get("Content-Length") or -1)
    m = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", (h.headers.get("Content-Range") or "").strip())
    if emu.strict_upload_auth and h.headers.get("Authorization"):
        raise GraphError(
            401,
            "unauthenticated",
            "Do not send an Authorization header to an upload URL",
        )
    if m is None or length < 0:
        raise GraphError(400, "invalidRequest", "Missing or malformed Content-Range")
    start, end, total = (int(g) for g in m.groups())
    size = end - start + 1
    if end < start or end >= total or size != length:
        raise GraphError(400, "invalidRange", "The Content-Range does not match the request body")
    with st.lock:
        session = st.session(session_id)
        if session.total is not None and session.total != total:
            raise GraphError(400, "invalidRange", "The total size changed")
        if size >= FRAGMENT_MAX:
            raise GraphError(400, "invalidRequest", "Fragments must be smaller than 60 MiB")
        if end != total - 1 and size % FRAGMENT_UNIT:
            raise GraphError(400, "invalidRequest", "Fragment size must be a multiple of 320 KiB")
        overlap = session.overlaps(start, end)
    cut = None if overlap else emu.faults.upload_drop_point(size)
    if cut is not None:
        h.body_read = True
        partial = h.read_exact(cut) if cut else b""
        with st.lock:
            session.bytes_received += len(partial)
            session.fragments.append(FragmentRecord(start, end, 0))
        emu.count("faults_upload_drop")
        raise Drop()
    data = h.read_body()
    with st.lock:
        session = st.session(session_id)
        session.bytes_received += len(data)
        if session.overlaps(start, end):
            session.fragments.append(FragmentRecord(start, end, 416))
            raise GraphError(
                416,
                "invalidRange",
                "The uploaded fragment overlaps with data that has already been received.",
            )
        if emu.faults.insufficient_storage:
            session.fragments.append(FragmentRecord(start, end, 507))
            storage_check(
                emu,
            )
        session.total = total
        session.chunks[start] = data
        session.add_range(start, end)
        if session.received == [(0, total - 1)]:
            try:
                item, created = st.finish_session(session)
            except GraphError as err:
                session.fragments.append(FragmentRecord(start, end, err.status))
                raise
            code = 201 if created else 200
            session.fragments.append(FragmentRecord(start, end, code))
            drive = st.drive(session.drive_id)
            return json_response(code, item_json(emu, drive, item, base))
        session.fragments.append(FragmentRecord(start, end, 202))
        return json_response(
            202,
            {
                "expirationDateTime": iso(session.expires),
                "nextExpectedRanges": session.next_expected_ranges(),
            },
        )
