"""Streamed downloads that survive a broken connection, and never fetch more than asked.

One GET per file (or per requested range), read in 1 MiB pieces as the host consumes them, so
memory stays flat for any size. When the body breaks off (reset, truncated answer), the rest is
asked for with `Range: bytes=<received>-` (kloset_sdk.http.ranged_download), so a retry never
downloads again what was already delivered. md5 (when Drive knows it) and the length are checked
at the end: a mismatch fails the read rather than storing silently wrong bytes.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator

from kloset_sdk import Fatal
from kloset_sdk.http import Answer, ranged_download

from .client import DriveClient
from .errors import ApiError, should_retry

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
    whole = offset == 0 and length is None
    digest = hashlib.md5() if (whole and md5) else None

    def open_range(pos: int, end: int | None) -> Answer | None:
        headers = {}
        if pos or end is not None:
            headers["Range"] = f"bytes={pos}-{'' if end is None else end - 1}"
        try:
            return client.run(lambda: client.rest.stream(url, headers=headers), what)
        except Fatal as exc:
            if isinstance(exc.__cause__, ApiError) and exc.__cause__.status == 416:
                return None
            raise

    got = 0
    for chunk in ranged_download(open_range, what, client.pacer, _broken, offset, length):
        got += len(chunk)
        if digest is not None:
            digest.update(chunk)
        yield chunk
    if size is not None and whole and got != size:
        raise Fatal(f"{what}: got {got} bytes, Drive says the file has {size}")
    if digest is not None and md5 and digest.hexdigest() != md5:
        raise Fatal(f"{what}: md5 mismatch (got {digest.hexdigest()}, Drive says {md5})")


def _broken(exc: BaseException) -> bool:
    import requests

    return isinstance(exc, (requests.RequestException, OSError)) and should_retry(exc) is not None
