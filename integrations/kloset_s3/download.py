"""Reading an object: a GET body streamed in chunks, resumed where it stopped if cut.

Storage Get (whole or ranged) and importer Open both read through ObjectStream, so a
packfile or a 5 GiB object is never held in memory and a dropped connection costs one Range
request instead of the whole read (the Go store does the same with its RetryReader).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from .client import S3Client, should_retry, translate

log = logging.getLogger(__name__)


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
        self._body: Any = self._open()

    def _open(self) -> Any:
        params: dict[str, Any] = {"Key": self._key, **self._s3.sse_read()}
        if self._pos or self._end is not None:
            params["Range"] = f"bytes={self._pos}-{'' if self._end is None else self._end}"
        if self._etag:
            params["IfMatch"] = self._etag
        elif self._verify:
            params["ChecksumMode"] = "ENABLED"
        resp = self._s3.call(f"get {self._key}", "get_object", **params)
        self._etag = self._etag or str(resp.get("ETag", ""))
        return resp["Body"]

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
