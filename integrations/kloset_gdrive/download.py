"""Streamed downloads that survive a broken connection, and never fetch more than asked.

One GET per file (or per requested range), read in 1 MiB pieces as the host consumes them, so
memory stays flat for any size. When the body breaks off (reset, truncated answer), the rest is
asked for with `Range: bytes=<received>-`, through the shared Pacer, so a retry never
downloads again what was already delivered. md5 (when Drive knows it) and the length are checked
at the end: a mismatch fails the read rather than storing silently wrong bytes.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from kloset_sdk import Fatal
from kloset_sdk.chunks import CHUNK_SIZE

from .client import DriveClient
from .errors import ApiError, should_retry

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)


def stream(
    client: DriveClient,
    url: str,
    what: str,
    offset: int = 0,
    length: int | None = None,
    size: int | None = None,
    md5: str | None = None,
) -> Iterator[bytes]:
    """Bytes of `url` from `offset` (`length` of them, or to the end), resumed on breaks.

    `size`/`md5` describe the whole object and are checked when it is read in full. An answer
    of 416 (offset at or past the end) yields nothing: the caller sees a short read.
    """
    if length == 0 or (size == 0 and offset == 0):
        if md5 and offset == 0 and length is None and md5 != hashlib.md5(b"").hexdigest():
            raise Fatal(f"{what}: Drive reports md5 {md5} for an empty file")
        return
    import requests

    whole = offset == 0 and length is None
    digest = hashlib.md5() if (whole and md5) else None
    pos = offset
    end = None if length is None else offset + length  # exclusive
    breaks = 0
    while True:
        headers = {}
        if pos or end is not None:
            headers["Range"] = f"bytes={pos}-{'' if end is None else end - 1}"

        def fetch(h: dict[str, str] = headers) -> requests.Response:
            return client.send("GET", url, what, headers=h, stream=True)

        try:
            resp = client.run(fetch, what)
        except Fatal as exc:
            if isinstance(exc.__cause__, ApiError) and exc.__cause__.status == 416:
                return
            raise
        try:
            skip = pos if resp.status_code == 200 else 0  # Range ignored (exports): drop the head
            if end is not None and resp.status_code == 206:
                total = _total(resp.headers.get("Content-Range", ""))
                end = min(end, total) if total is not None else end
            for chunk in resp.iter_content(CHUNK_SIZE):
                if skip:
                    cut = min(skip, len(chunk))
                    chunk, skip = chunk[cut:], skip - cut
                if end is not None and pos + len(chunk) > end:
                    chunk = chunk[: end - pos]
                if not chunk:
                    continue
                pos += len(chunk)
                if digest is not None:
                    digest.update(chunk)
                yield chunk
                if end is not None and pos >= end:
                    break
            if end is not None and pos < end:
                raise requests.exceptions.ChunkedEncodingError("body ended early")
        except (requests.RequestException, OSError) as exc:
            breaks += 1
            decision = should_retry(exc)
            if decision is None or breaks >= client.pacer.policy.attempts:
                raise Fatal(f"{what}: download broke off at byte {pos}: {exc}") from exc
            log.info("%s: download broke off at byte %d (%s); resuming", what, pos, exc)
            continue
        finally:
            resp.close()
        break
    if size is not None and whole and pos != size:
        raise Fatal(f"{what}: got {pos} bytes, Drive says the file has {size}")
    if digest is not None and md5 and digest.hexdigest() != md5:
        raise Fatal(f"{what}: md5 mismatch (got {digest.hexdigest()}, Drive says {md5})")


def _total(content_range: str) -> int | None:
    """The object size from `Content-Range: bytes a-b/total` (None when `*` or absent)."""
    _, _, total = content_range.rpartition("/")
    return int(total) if total.strip().isdigit() else None
