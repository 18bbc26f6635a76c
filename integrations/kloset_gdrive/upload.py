"""Uploads: one multipart request below a chunk, a resumable session above, md5 verified.

The content arrives as a stream (the host's chunks), so we read one chunk ahead: content that
ends within the first chunk goes in one multipart request; otherwise a resumable session gets
chunks of `part_size` (a multiple of 256 KiB, as Drive requires for every chunk but the last)
and the last one carries the total. Either way the file comes into existence only with the final
request, which is sent only after the stream reached its end, so an aborted stream never
leaves a partial file behind (§6.5).

After a failed chunk the session is asked what it holds (`Content-Range: bytes */N`) and the
upload resumes from there, from the chunk still in memory. Creates carry a pre-generated id, so
a create retried after a lost answer fails with 409 instead of making a twin. The md5 Drive
computes is compared with ours; on a mismatch a new file is deleted and the upload fails.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import TYPE_CHECKING, Any, Protocol

from kloset_sdk import Fatal
from kloset_sdk.errors import ProtocolError

from .client import FILE_FIELDS, DriveClient
from .errors import ApiError
from .export_formats import APPS, OCTET

if TYPE_CHECKING:
    import requests


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def read_full(data: Readable, size: int) -> bytes:
    """Up to `size` bytes; fewer only at the end of the stream."""
    parts: list[bytes] = []
    want = size
    while want:
        piece = data.read(want)
        if not piece:
            break
        parts.append(piece)
        want -= len(piece)
    return b"".join(parts)


def upload(
    client: DriveClient,
    meta: dict[str, Any],
    data: Readable,
    chunk_size: int,
    file_id: str | None = None,
    fields: str = FILE_FIELDS,
) -> dict[str, Any]:
    """Create (file_id None) or replace the content of a file; returns its metadata."""
    what = f"upload {meta.get('name') or file_id}"
    if file_id is None:
        fixed = meta.get("id") or client.new_id()
        meta = {**meta, "id": fixed} if fixed else {k: v for k, v in meta.items() if k != "id"}
    digest = hashlib.md5()
    buf = read_full(data, chunk_size)
    digest.update(buf)
    if len(buf) < chunk_size:
        result = _multipart(client, meta, buf, file_id, fields, what)
        size = len(buf)
    else:
        result, size = _resumable(client, meta, data, buf, digest, chunk_size, file_id, fields)
    remote_md5 = result.get("md5Checksum")
    if remote_md5 and remote_md5 != digest.hexdigest():
        if file_id is None:
            client.delete(result["id"])
        raise Fatal(
            f"{what}: Drive stored other bytes (md5 {remote_md5}, sent {digest.hexdigest()})"
            + ("; the upload was deleted" if file_id is None else "")
        )
    if "size" in result and int(result["size"]) != size:
        raise Fatal(f"{what}: Drive stored {result['size']} bytes, {size} were sent")
    return result


def _url(client: DriveClient, kind: str, file_id: str | None, fields: str) -> str:
    path = "upload/drive/v3/files" + (f"/{file_id}" if file_id else "")
    return f"{client.root_url}{path}?uploadType={kind}&supportsAllDrives=true&fields={fields}"


def _create_or_fetch(client: DriveClient, meta: dict[str, Any], fields: str, exc: ApiError) -> Any:
    """After a retried create answered 409 for our own id: the first try went through."""
    if exc.status == 409 and meta.get("id"):
        return client.get(meta["id"], fields)
    raise exc


def _media_type(meta: dict[str, Any]) -> str:
    """The Content-Type of the bytes: the file's own MIME type when the metadata sets one."""
    mime = str(meta.get("mimeType") or "")
    return mime if mime and not mime.startswith(APPS) else OCTET


def _multipart(
    client: DriveClient,
    meta: dict[str, Any],
    content: bytes,
    file_id: str | None,
    fields: str,
    what: str,
) -> dict[str, Any]:
    boundary = "kloset-" + os.urandom(12).hex()
    body = b"".join(
        [
            f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n".encode(),
            json.dumps(meta).encode(),
            f"\r\n--{boundary}\r\nContent-Type: {_media_type(meta)}\r\n\r\n".encode(),
            content,
            f"\r\n--{boundary}--".encode(),
        ]
    )
    headers = {"Content-Type": f"multipart/related; boundary={boundary}"}
    tries = [0]
    md5 = hashlib.md5(content).hexdigest()

    def fn() -> dict[str, Any]:
        tries[0] += 1
        if tries[0] > 1 and file_id is None and not meta.get("id"):
            made = client.find_made(meta, fields, md5)  # no fixed id: did the lost try land?
            if made is not None:
                return made
        method = "PATCH" if file_id else "POST"
        try:
            resp = client.send(
                method, _url(client, "multipart", file_id, fields), what, data=body, headers=headers
            )
        except ApiError as exc:
            if tries[0] > 1 and file_id is None:
                return dict(_create_or_fetch(client, meta, fields, exc))
            raise
        return dict(resp.json())

    return client.run(fn, what)


def _resumable(
    client: DriveClient,
    meta: dict[str, Any],
    data: Readable,
    first: bytes,
    digest: Any,
    chunk_size: int,
    file_id: str | None,
    fields: str,
) -> tuple[dict[str, Any], int]:
    what = f"upload {meta.get('name') or file_id}"

    def start() -> str:
        resp = client.send(
            "PATCH" if file_id else "POST",
            _url(client, "resumable", file_id, fields),
            what,
            json=meta,
            headers={"X-Upload-Content-Type": _media_type(meta)},
        )
        location = resp.headers.get("Location")
        if not location:
            raise Fatal(f"{what}: Drive opened no upload session (no Location header)")
        return location

    session = client.run(start, what)
    offset, buf = 0, first
    while True:
        nxt = read_full(data, chunk_size) if len(buf) == chunk_size else b""
        digest.update(nxt)
        final = not nxt
        total = offset + len(buf) if final else None
        result = _send_chunk(client, session, buf, offset, total, what)
        offset += len(buf)
        if final:
            if result is None:
                raise ProtocolError(f"{what}: Drive did not finish the upload at {offset} bytes")
            return result, offset
        buf = nxt


def _send_chunk(
    client: DriveClient, session: str, buf: bytes, offset: int, total: int | None, what: str
) -> dict[str, Any] | None:
    """PUT one chunk; after any failure ask the session what it holds and send the rest."""
    unsure = [False]
    size = "*" if total is None else str(total)
    end = offset + len(buf)

    def put(start: int) -> requests.Response:
        headers = {"Content-Range": f"bytes {start}-{end - 1}/{size}"}
        return client.send(
            "PUT", session, what, data=buf[start - offset :], headers=headers, allow_redirects=False
        )

    def fn() -> dict[str, Any] | None:
        start = offset
        if unsure[0]:
            status = client.send(
                "PUT",
                session,
                what,
                data=b"",
                headers={"Content-Range": f"bytes */{size}"},
                allow_redirects=False,
            )
            if status.status_code in (200, 201):
                return dict(status.json())
            start = _received(status)
            if start < offset:
                raise Fatal(f"{what}: the session lost data Drive had acknowledged")
        unsure[0] = True
        while start < end:
            resp = put(start)
            if resp.status_code in (200, 201):
                return dict(resp.json())
            if resp.status_code != 308:
                raise Fatal(f"{what}: unexpected answer {resp.status_code} to a chunk")
            received = _received(resp)
            if received <= start:  # nothing taken: let the pacer retry after a status query
                raise ApiError(503, "noProgress", f"the session kept {received} bytes")
            start = received
        unsure[0] = False
        return None

    return client.run(fn, what)


def _received(resp: requests.Response) -> int:
    """Bytes the session holds, from the `Range: bytes=0-N` of a 308 (none: 0)."""
    rng = resp.headers.get("Range", "")
    _, _, last = rng.rpartition("-")
    return int(last) + 1 if last.strip().isdigit() else 0
