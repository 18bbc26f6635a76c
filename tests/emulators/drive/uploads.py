"""Media uploads: uploadType=media, multipart (multipart/related) and resumable sessions.

Resumable sessions follow Google's protocol: 200 + Location, then PUT chunks with
Content-Range; 308 + `Range: bytes=0-N` until the last byte, then 200 + the file. Non-final
chunks must be multiples of 256 KiB.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from email.message import Message
from typing import TYPE_CHECKING

from .errors import DriveError, bad_request, invalid
from .files_api import FILE_FIELDS, apply_update, check_quota, create_from_metadata, lookup
from .model import CHUNK_GRANULARITY, Item
from .wire import Request, Response, projected

if TYPE_CHECKING:
    from .api import Api

_CONTENT_RANGE = re.compile(r"^bytes\s+(?:\*|(\d+)-(\d+))/(\*|\d+)$")


@dataclass
class UploadSession:
    """A resumable upload in progress (file_id is set when it updates an existing file)."""

    id: str
    file_id: str | None
    metadata: dict[str, object]
    mime_type: str | None
    declared_size: int | None
    query: dict[str, str]
    data: bytearray = field(default_factory=bytearray)
    result_id: str | None = None  # the file, once complete


def parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, object], bytes, str | None]:
    """Split a multipart/related body into (metadata, media, media MIME type).

    googleapiclient writes LF line ends, other clients CRLF: the style after the first
    boundary decides, so binary media that happens to end in CR survives.
    """
    msg = Message()
    msg["Content-Type"] = content_type
    boundary = msg.get_param("boundary")
    if msg.get_content_type() != "multipart/related" or not isinstance(boundary, str):
        raise bad_request("Bad content type. Please use multipart.")
    dash = b"--" + boundary.encode()
    pos = body.find(dash)
    if pos < 0:
        raise bad_request("Malformed multipart body.")
    pos += len(dash)
    nl = b"\r\n" if body[pos : pos + 2] == b"\r\n" else b"\n"
    pos += len(nl)
    delimiter = nl + dash
    parts: list[bytes] = []
    while True:
        end = body.find(delimiter, pos)
        if end < 0:
            raise bad_request("Malformed multipart body.")
        parts.append(body[pos:end])
        pos = end + len(delimiter)
        if body[pos : pos + 2] == b"--":
            break
        pos = body.find(b"\n", pos) + 1
        if pos == 0:
            raise bad_request("Malformed multipart body.")
    if len(parts) != 2:
        raise bad_request(f"Multipart upload needs 2 parts (metadata, media), got {len(parts)}.")
    meta_headers, meta_raw = _split_part(parts[0], nl)
    media_headers, media = _split_part(parts[1], nl)
    try:
        metadata = json.loads(meta_raw) if meta_raw.strip() else {}
    except ValueError:
        raise DriveError(400, "parseError", "Parse Error") from None
    if not isinstance(metadata, dict):
        raise DriveError(400, "parseError", "Parse Error")
    if media_headers.get("content-transfer-encoding", "").lower() == "base64":
        media = base64.b64decode(media)
    return metadata, media, media_headers.get("content-type")


def _split_part(part: bytes, nl: bytes) -> tuple[dict[str, str], bytes]:
    if part.startswith(nl):
        return {}, part[len(nl) :]
    head, sep, content = part.partition(nl + nl)
    if not sep:
        return {}, part
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").splitlines():
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return headers, content


def _media_type(req: Request) -> str | None:
    value = req.header("Content-Type").split(";")[0].strip()
    return value or None


def _result(api: Api, req: Request, item: Item) -> Response:
    return projected(req, api.state.resource(item), FILE_FIELDS)


def upload(api: Api, req: Request, file_id: str | None = None) -> Response:
    """POST /upload/drive/v3/files (create) or PATCH /upload/drive/v3/files/{id} (update)."""
    kind = req.query.get("uploadType", "")
    if kind == "resumable":
        return start_session(api, req, file_id)
    if kind == "media":
        meta: dict[str, object] = {}
        content, mime = req.body, _media_type(req)
    elif kind == "multipart":
        meta, content, mime = parse_multipart(req.body, req.header("Content-Type"))
    else:
        raise invalid(f"Invalid upload type: {kind!r}", "uploadType")
    api.count("bytes_received", len(content))
    if file_id is None:
        item = create_from_metadata(api, req, meta, content, mime)
    else:
        item = apply_update(api, req, file_id, meta, content, mime)
    return _result(api, req, item)


def start_session(api: Api, req: Request, file_id: str | None) -> Response:
    """Open a resumable session; parents and the target are checked now, as Drive does."""
    meta = req.json_body()
    declared = req.header("X-Upload-Content-Length")
    if declared and not declared.isdigit():
        raise invalid("Invalid X-Upload-Content-Length", "X-Upload-Content-Length")
    size = int(declared) if declared else None
    if file_id is not None:
        file_id = lookup(api, req, file_id).id
    else:
        parents = meta.get("parents") or ["root"]
        if isinstance(parents, list) and parents:
            lookup(api, req, str(parents[0]), "parents")
    check_quota(api, size or 0)
    session = UploadSession(
        api.state.random_string(64),
        file_id,
        meta,
        req.header("X-Upload-Content-Type") or None,
        size,
        dict(req.query),
    )
    with api.state.lock:
        api.sessions[session.id] = session
    path = "upload/drive/v3/files" + (f"/{file_id}" if file_id else "")
    location = f"{api.state.base_url}{path}?uploadType=resumable&upload_id={session.id}"
    return Response(200, b"", {"Location": location, "X-GUploader-UploadID": session.id})


def _incomplete(session: UploadSession) -> Response:
    received = len(session.data)
    headers = {"Range": f"bytes=0-{received - 1}"} if received else {}
    headers["X-GUploader-UploadID"] = session.id
    return Response(308, b"", headers)


def _finish(api: Api, req: Request, session: UploadSession) -> Response:
    content = bytes(session.data)
    origin = Request(req.method, req.path, session.query, req.headers)
    if session.file_id is None:
        item = create_from_metadata(api, origin, session.metadata, content, session.mime_type)
    else:
        item = apply_update(
            api, origin, session.file_id, session.metadata, content, session.mime_type
        )
    session.result_id = item.id
    return _result(api, origin, item)


def upload_chunk(api: Api, req: Request, *_: str) -> Response:
    """PUT <session url>: a chunk, the last chunk, or a status query (`bytes */N`)."""
    with api.state.lock:
        session = api.sessions.get(req.query.get("upload_id", ""))
        if session is None:
            raise DriveError(404, "notFound", "Upload session not found or expired.")
        if session.result_id is not None:
            origin = Request(req.method, req.path, session.query, req.headers)
            return _result(api, origin, api.state.get(session.result_id))
        received = len(session.data)
        header = req.header("Content-Range").strip()
        if not header:  # no range: the body is the whole remaining content
            if session.declared_size not in (None, received + len(req.body)):
                raise bad_request("Upload size does not match X-Upload-Content-Length.")
            session.data += req.body
            api.count("bytes_received", len(req.body))
            return _finish(api, req, session)
        m = _CONTENT_RANGE.match(header)
        if not m:
            raise bad_request(f"Failed to parse Content-Range header: {header!r}")
        total = None if m.group(3) == "*" else int(m.group(3))
        if total is not None and session.declared_size not in (None, total):
            raise bad_request("Content-Range total does not match X-Upload-Content-Length.")
        if m.group(1) is None:  # status query
            if req.body:
                raise bad_request("A status query must have an empty body.")
            if total is not None and total == received:
                return _finish(api, req, session)
            return _incomplete(session)
        start, end = int(m.group(1)), int(m.group(2))
        if end < start or len(req.body) != end - start + 1:
            raise bad_request("Content-Range does not match the length of the body.")
        if start > received:
            raise bad_request(
                f"Content-Range starts at {start} but only {received} bytes were received."
            )
        if total is not None and end >= total:
            raise bad_request("Content-Range ends past the total size.")
        final = total is not None and end + 1 == total
        if not final and len(req.body) % CHUNK_GRANULARITY:
            raise bad_request(
                f"Invalid request. Every chunk but the last must be a multiple of "
                f"{CHUNK_GRANULARITY} bytes; the received request contained {len(req.body)} bytes."
            )
        fresh = req.body[received - start :]
        check_quota(api, received + len(fresh))
        session.data += fresh
        api.count("bytes_received", len(fresh))
        if final:
            return _finish(api, req, session)
        return _incomplete(session)
