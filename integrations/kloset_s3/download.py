"""Reading an object: a GET body streamed in chunks, resumed where it stopped if cut, and for
large objects the parts after the first fetched ahead by parallel ranged GETs.

Storage Get (whole or ranged) and importer Open both read through `open_object`, so a
packfile or a 5 GiB object is never held in memory and a dropped connection costs one Range
request instead of the whole read (the Go store does the same with its RetryReader).

One GET streams at the speed of one TCP connection, and the host's gRPC sends alternate with
the socket reads; boto3's download_fileobj was 3x faster on the same server. So past
READ_PART bytes the first response only serves the first part, while up to `window` further
parts of READ_PART bytes are fetched at once (If-Match on the first ETag) and handed on in
order: one Get holds at most window x READ_PART bytes besides the part being sent.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from kloset_sdk import Fatal

from .client import S3Client, should_retry, translate
from .quick import ASK

log = logging.getLogger(__name__)
MiB = 1 << 20
#: Bytes per ranged GET of a large read (boto3's TransferConfig default); smaller reads are one
#: GET, as before.
READ_PART = 8 * MiB
CHUNK = MiB


class ObjectStream:
    """A GET body read in 1 MiB chunks without holding the object in memory.

    The first request is made at construction, so a missing key raises NotFound before any
    byte is streamed. A connection lost mid-body resumes with a Range from the last byte
    received and If-Match on the first ETag, so two versions of an object are never spliced.
    `verify` asks for the stored checksum of a whole object; botocore then checks the body
    against it at the end (single-part objects; multipart ones carry a checksum of checksums).
    """

    def __init__(
        self,
        s3: S3Client,
        key: str,
        start: int = 0,
        end: int | None = None,
        verify: bool = False,
        chunk: int = 1 << 20,
    ) -> None:
        self._s3, self._key, self._pos, self._end = s3, key, start, end
        self._verify = verify and start == 0 and end is None
        self._chunk = chunk
        self._etag = ""
        self._resumes = 0
        self.response: dict[str, Any] = {}
        self._body: Any = self._open()

    def _open(self) -> Any:
        params: dict[str, Any] = {"Key": self._key, **self._s3.sse_read()}
        if self._pos or self._end is not None:
            params["Range"] = f"bytes={self._pos}-{'' if self._end is None else self._end}"
        if self._etag:
            params["IfMatch"] = self._etag
        elif self._verify:
            params["ChecksumMode"] = "ENABLED"
        resp = self._get(params)
        self._etag = self._etag or str(resp.get("ETag", ""))
        self.response = self.response or resp
        return resp["Body"]

    def _get(self, params: dict[str, Any]) -> Any:
        """The quick path (quick.py) where it can answer, else botocore's."""
        quick = None if "ChecksumMode" in params else self._s3.quick
        if quick is not None:
            resp = quick.get(self._key, params.get("Range", ""), params.get("IfMatch", ""))
            if resp is not ASK:
                return resp
        return self._s3.call(f"get {self._key}", "get_object", **params)

    def __iter__(self) -> Iterator[bytes]:
        while True:
            try:
                data: bytes = self._body.read(self._chunk)
            except Exception as exc:  # retry or translate, nothing else
                if should_retry(exc) is None or self._resumes >= self._s3.opts.max_retries:
                    raise translate(exc, f"get {self._key}", self._s3.target.endpoint_url) from None
                self._resumes += 1
                log.info("get %s: connection lost at byte %d, resuming", self._key, self._pos)
                self.close()
                self._verify = False  # a ranged answer carries no whole-object checksum
                self._body = self._open()
                continue
            if not data:
                return
            self._pos += len(data)
            yield data

    def close(self) -> None:
        try:
            self._body.close()
        except Exception:  # closing a dead connection
            pass


def open_object(
    s3: S3Client,
    key: str,
    start: int = 0,
    end: int | None = None,
    verify: bool = False,
    window: int = 4,
) -> ObjectStream | PartStream:
    """The bytes start..end (inclusive; None: to the end) of `key`, as chunks.

    The first GET is sent now (a missing key raises NotFound here). Up to READ_PART bytes,
    or with a window of 1, its body is the whole answer; past that, see PartStream.
    """
    first = ObjectStream(s3, key, start, end, verify=verify, chunk=CHUNK)
    length = int(first.response.get("ContentLength", 0) or 0)
    if length <= READ_PART or window < 2:
        return first
    return PartStream(s3, key, first, start, length, verify, window)


class PartStream:
    """A large read: the first READ_PART bytes from the first GET, the rest by ranged GETs.

    Parts are fetched `window` at a time, each GET retried as a whole by the client's pacer
    (a connection cut mid-part costs that part only), and yielded in order, so memory stays
    bounded by the window. With `verify`, the stored checksum of a single-part object is
    checked here over the bytes sent, since ranged answers carry none (a multipart object's
    checksum is one of part checksums: botocore skips it as well).
    """

    def __init__(
        self,
        s3: S3Client,
        key: str,
        first: ObjectStream,
        start: int,
        length: int,
        verify: bool,
        window: int,
    ) -> None:
        self._s3, self._key, self._first = s3, key, first
        resp = first.response
        self._etag = str(resp.get("ETag", ""))
        stored = str(resp.get("ChecksumSHA256") or "")
        full = (
            verify
            and bool(stored)
            and "-" not in stored
            and resp.get("ChecksumType") != "COMPOSITE"
        )
        self._want = stored if full else ""
        self._hash = hashlib.sha256() if full else None
        end = start + length  # exclusive
        self._ranges = deque(
            (lo, min(lo + READ_PART, end) - 1) for lo in range(start + READ_PART, end, READ_PART)
        )
        self._pool = ThreadPoolExecutor(window, thread_name_prefix="s3-get")
        self._ahead: deque[Future[list[bytes]]] = deque()
        self._window = window
        self._closed = False
        self._fill()

    def _fill(self) -> None:
        while self._ranges and len(self._ahead) < self._window:
            lo, hi = self._ranges.popleft()
            self._ahead.append(self._pool.submit(self._fetch, lo, hi))

    def _fetch(self, lo: int, hi: int) -> list[bytes]:
        params: dict[str, Any] = {
            "Key": self._key,
            "Range": f"bytes={lo}-{hi}",
            **self._s3.sse_read(),
        }
        if self._etag:
            params["IfMatch"] = self._etag

        def once() -> list[bytes]:
            body = self._s3.raw.get_object(Bucket=self._s3.bucket, **params)["Body"]
            try:  # botocore raises IncompleteReadError on a short body: retried with the GET
                return list(iter(lambda: body.read(CHUNK), b""))
            finally:
                body.close()

        return self._s3.run(f"get {self._key}", once)

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._parts()
        finally:
            self.close()

    def _parts(self) -> Iterator[bytes]:
        sent = 0
        for data in self._first:  # the first part streams as it arrives
            room = READ_PART - sent
            if len(data) >= room:
                yield self._seen(data[:room])
                break
            sent += len(data)
            yield self._seen(data)
        self._first.close()
        while self._ahead:
            chunks = self._ahead.popleft().result()
            self._fill()
            for data in chunks:
                yield self._seen(data)
        if self._hash is not None:
            got = base64.b64encode(self._hash.digest()).decode("ascii")
            if got != self._want:
                raise Fatal(f"get {self._key}: the data read does not match its stored checksum")

    def _seen(self, data: bytes) -> bytes:
        if self._hash is not None:
            self._hash.update(data)
        return data

    def close(self) -> None:
        """Stop: parts not started are dropped, running ones finish in the background."""
        if self._closed:
            return
        self._closed = True
        self._first.close()
        self._ranges.clear()
        for f in self._ahead:
            f.cancel()
        self._ahead.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)
