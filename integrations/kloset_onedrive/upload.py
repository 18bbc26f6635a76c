"""Uploads: one PUT up to 4 MiB, resumable upload sessions above, hash-checked either way.

Why sessions also carry the modification time: `fileSystemInfo` in the createUploadSession
body sets it in the same commit. Setting it afterwards with a PATCH creates a second version of
the file, which on OneDrive for Business doubles the storage the file uses (rclone's
upload_cutoff note). So a file whose mtime matters goes through a session even when small; only
an empty file (a session cannot carry zero bytes) takes PUT + PATCH, and its extra version is
empty.

Why this is atomic: a session's item does not exist until its last fragment is accepted, and a
simple PUT is a single request. A reader never sees a partial file, and an abandoned session
simply expires on the server (we also cancel it with DELETE).

Resuming: the content stream (host chunks) cannot be rewound, so the current fragment stays in
memory until Graph acknowledges it (bounded: one fragment per upload). After a dropped
connection or a 416, the session's `nextExpectedRanges` says what is missing and only that part
of the fragment is sent again; finished fragments are never re-sent.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from kloset_sdk import Fatal, ProtocolError
from kloset_sdk.records import format_rfc3339

from .api import DriveItem, child_address, parse_item
from .client import Dropped, GraphClient, ItemNotFound, RangeRejected
from .quickxor import QuickXor

log = logging.getLogger(__name__)
SIMPLE_MAX = 4 * 1024 * 1024
MAX_RESUMES = 10


class Readable(Protocol):
    """What uploads read from: a ChunkStream from the host, a spool file, BytesIO."""

    def read(self, size: int = -1, /) -> bytes: ...


def read_exact(stream: Readable, n: int) -> bytes:
    """Up to n bytes, fewer only at EOF (ChunkStream.read may return a short chunk)."""
    parts: list[bytes] = []
    got = 0
    while got < n:
        data = stream.read(n - got)
        if not data:
            break
        parts.append(data)
        got += len(data)
    return b"".join(parts)


def upload(
    client: GraphClient,
    parent_id: str,
    name: str,
    stream: Readable,
    size: int,
    fragment: int,
    mtime_ns: int | None = None,
) -> DriveItem:
    """Write `size` bytes of `stream` as `name` in folder `parent_id` (replacing any)."""
    if size == 0:
        _expect_eof(stream, 0, name)
        item = simple_put(client, parent_id, name, b"")
        if mtime_ns is not None:
            body = {"fileSystemInfo": {"lastModifiedDateTime": format_rfc3339(mtime_ns)}}
            item = parse_item(client.json("PATCH", f"/items/{item.id}", json=body))
        return item
    if size <= SIMPLE_MAX and mtime_ns is None:
        data = read_exact(stream, size)
        if len(data) != size:
            raise ProtocolError(f"{name}: content ended after {len(data)} of {size} bytes")
        _expect_eof(stream, size, name)
        return simple_put(client, parent_id, name, data)
    return Session(client, parent_id, name, size, fragment, mtime_ns).run(stream)


def simple_put(client: GraphClient, parent_id: str, name: str, data: bytes) -> DriveItem:
    """PUT .../content: one request, so it is retried as a whole (replace is idempotent)."""
    obj = client.json(
        "PUT",
        child_address(parent_id, name) + "/content",
        params={"@microsoft.graph.conflictBehavior": "replace"},
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    item = parse_item(obj)
    _verify(client, item, QuickXor.of(data), name)
    return item


class Session:
    def __init__(
        self,
        client: GraphClient,
        parent_id: str,
        name: str,
        size: int,
        fragment: int,
        mtime_ns: int | None,
    ) -> None:
        self.client = client
        self.parent_id = parent_id
        self.name = name
        self.size = size
        self.fragment = fragment
        self.mtime_ns = mtime_ns
        self.url = ""
        self.resumes = 0

    def run(self, stream: Readable) -> DriveItem:
        self.url = self._create()
        try:
            item = self._send_all(stream)
        except BaseException:
            self.cancel()
            raise
        return item

    def _create(self) -> str:
        spec: dict[str, Any] = {"@microsoft.graph.conflictBehavior": "replace"}
        if self.mtime_ns is not None:
            stamp = format_rfc3339(self.mtime_ns)
            spec["fileSystemInfo"] = {"lastModifiedDateTime": stamp}
        path = child_address(self.parent_id, self.name) + "/createUploadSession"
        return str(self.client.json("POST", path, json={"item": spec})["uploadUrl"])

    def _send_all(self, stream: Readable) -> DriveItem:
        hasher = QuickXor()
        start = 0
        while True:
            want = min(self.fragment, self.size - start)
            buf = read_exact(stream, want)
            if len(buf) != want:
                raise ProtocolError(
                    f"{self.name}: content ended after {start + len(buf)} of {self.size} bytes"
                )
            hasher.update(buf)
            if start + want == self.size:
                _expect_eof(stream, self.size, self.name)
            done = self._send(buf, start)
            start += want
            if done is not None:
                _verify(self.client, done, hasher, self.name)
                return done
            if start >= self.size:
                raise Fatal(f"{self.name}: Graph did not complete the upload after the last byte")

    def _send(self, buf: bytes, start: int) -> DriveItem | None:
        """Deliver buf (bytes start..); the item when the upload completed, else None."""
        end = start + len(buf)
        pos = start
        while True:
            headers = {
                "Content-Range": f"bytes {pos}-{end - 1}/{self.size}",
                "Content-Type": "application/octet-stream",
            }
            body = buf if pos == start else buf[pos - start :]
            try:
                resp = self.client.call(
                    "PUT", self.url, auth=False, data=body, headers=headers, retry_drops=False
                )
                answer = resp.json() if resp.content else {}
                if resp.status_code in (200, 201):
                    return parse_item(answer)
                expected = _next_expected(answer.get("nextExpectedRanges"))
            except (Dropped, RangeRejected) as exc:
                self._count_resume(exc)
                status = self._status()
                if status is None:
                    if end < self.size:
                        raise Fatal(f"{self.name}: the upload session expired") from exc
                    return self._completed_elsewhere()
                expected = status
            if expected >= end:
                return None
            if expected < start:
                raise Fatal(
                    f"{self.name}: the upload session lost bytes {expected}-{start - 1}, which"
                    " were already acknowledged and cannot be sent again"
                )
            if expected != pos:
                log.info("%s: resending bytes %d-%d", self.name, expected, end - 1)
            pos = expected

    def _count_resume(self, exc: BaseException) -> None:
        self.resumes += 1
        if self.resumes > MAX_RESUMES:
            raise Fatal(f"{self.name}: upload kept failing: {exc}") from exc
        log.info("%s: fragment interrupted (%s); asking the session what it has", self.name, exc)

    def _status(self) -> int | None:
        """First byte the session still expects; None if the session is gone (completed?)."""
        try:
            answer = self.client.json("GET", self.url, auth=False)
        except ItemNotFound:
            return None
        return _next_expected(answer.get("nextExpectedRanges"))

    def _completed_elsewhere(self) -> DriveItem:
        """The last fragment may have landed before the connection broke: look for the file."""
        try:
            item = parse_item(self.client.item(child_address(self.parent_id, self.name)))
        except ItemNotFound:
            raise Fatal(f"{self.name}: the upload session expired before completion") from None
        if item.size != self.size:
            raise Fatal(f"{self.name}: the upload session vanished before completion")
        return item

    def cancel(self) -> None:
        """DELETE the session so Graph frees what it holds (best effort)."""
        if not self.url:
            return
        try:
            self.client.call("DELETE", self.url, auth=False).close()
        except Exception as exc:  # the original error matters more
            log.debug("cancelling upload session of %s failed: %s", self.name, exc)


def _next_expected(ranges: Any) -> int:
    if not ranges:
        raise Fatal("upload session answered without nextExpectedRanges")
    return min(int(str(r).split("-", 1)[0]) for r in ranges)


def _expect_eof(stream: Readable, size: int, name: str) -> None:
    if stream.read(1):
        raise ProtocolError(f"{name}: more content than the {size} bytes announced")


def _verify(client: GraphClient, item: DriveItem, hasher: QuickXor, name: str) -> None:
    want = hasher.b64()
    got = item.hashes.get("quickXorHash")
    if got is None:
        log.debug("%s: Graph returned no quickXorHash; not verified", name)
        return
    if got == want:
        return
    try:
        client.call("DELETE", f"/items/{item.id}").close()
    except Exception as exc:  # the mismatch is the error to report
        log.warning("%s: could not remove the corrupt upload: %s", name, exc)
    raise Fatal(f"{name}: stored content hashes to {got}, sent {want}; removed it")
