"""Storage Put: a stream of unknown length into one S3 object, in bounded memory, all or nothing.

The host sends a packfile as 1 MiB chunks and never says how long it is (§6.5). We read up to
`part_size` (+ one chunk to see whether more follows): if the stream ends there, the object
goes in one PUT. Otherwise a multipart upload starts and at most `concurrency` parts of
`part_size` exist at once, counting the one being filled (the Go store, through minio, could
allocate ~528 MiB per upload of unknown size). Parts double in size every 2,000 parts, so the
10,000-part limit is only reached past ~31 x part_size x 2,000 bytes (about 480 GiB at 8 MiB;
Plakar's packfiles are far smaller).

Nothing is visible before the end: a single PUT is sent only after the stream reached EOF, and
a multipart upload is completed only then. Any failure (a part that keeps failing, or the host
abandoning the stream, which makes ChunkStream raise) aborts the multipart upload, so the
object is either complete or absent, never truncated.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from kloset_sdk import ChunkStream, Fatal

from .client import S3Client
from .options import MAX_PART, MAX_PARTS

log = logging.getLogger(__name__)
GROW_EVERY = 2_000


def put_stream(
    s3: S3Client,
    key: str,
    data: ChunkStream,
    part_size: int,
    concurrency: int,
    extra: dict[str, Any],
) -> int:
    """Store all of `data` under `key`; returns the number of bytes stored."""
    first, carry = fill(data, part_size, b"")
    if not carry:  # the whole object fits in one part: one PUT, sent after EOF
        s3.put_bytes(key, first, **extra)
        return len(first)
    return _Multipart(s3, key, part_size, concurrency, extra).run(data, first, carry)


def fill(data: ChunkStream, size: int, carry: bytes) -> tuple[bytearray, bytes]:
    """Read one part of at least `size` bytes (less at EOF) and the chunk after it (b"" at EOF).

    Parts end on the host's chunk boundaries, so they run up to one chunk over `size`; S3 only
    needs parts >= 5 MiB. Each chunk is appended to the part and dropped at once: joining a
    list of chunks held the part twice, which four concurrent 16 MiB Puts paid in peak RSS.
    """
    part = bytearray(carry)
    while len(part) < size:
        chunk = data.read_chunk()  # raises if the host abandoned the stream
        if not chunk:
            return part, b""
        part += chunk
    return part, data.read_chunk()


def part_size_at(base: int, number: int) -> int:
    return min(MAX_PART, base << ((number - 1) // GROW_EVERY))


class _Multipart:
    def __init__(
        self, s3: S3Client, key: str, part_size: int, concurrency: int, extra: dict[str, Any]
    ) -> None:
        self.s3, self.key, self.part_size, self.extra = s3, key, part_size, extra
        self.slots = threading.BoundedSemaphore(concurrency)
        self.pool = ThreadPoolExecutor(concurrency, thread_name_prefix="s3-part")
        self.futures: list[Future[dict[str, Any]]] = []
        self.failed: BaseException | None = None
        self.upload_id = ""

    def run(self, data: ChunkStream, first: bytearray, carry: bytes) -> int:
        create = {**self.s3.sse_write(), **self.extra}
        if self.s3.opts.checksum == "sha256":
            create["ChecksumAlgorithm"] = "SHA256"
        resp = self.s3.call(f"put {self.key}", "create_multipart_upload", Key=self.key, **create)
        self.upload_id = str(resp["UploadId"])
        try:
            total = self._pump(data, first, carry)
            parts = [f.result() for f in self.futures]
            self.s3.call(
                f"put {self.key}",
                "complete_multipart_upload",
                Key=self.key,
                UploadId=self.upload_id,
                MultipartUpload={"Parts": parts},
                **self.s3.sse_read(),
            )
            return total
        except BaseException:
            self.pool.shutdown(wait=True, cancel_futures=True)  # no part may land after abort
            self._abort()
            raise
        finally:
            self.pool.shutdown(wait=True)

    def _pump(self, data: ChunkStream, part: bytearray, carry: bytes) -> int:
        total = 0
        number = 1
        self.slots.acquire()  # the first part is already in memory
        while True:
            if number > MAX_PARTS:
                raise Fatal(f"put {self.key}: more than {MAX_PARTS} parts; raise part_size")
            total += len(part)
            self.futures.append(self.pool.submit(self._upload, number, part))
            if not carry:
                return total
            del part
            self.slots.acquire()  # wait for a free slot before buffering the next part
            if self.failed is not None:
                self.slots.release()
                raise self.failed
            number += 1
            part, carry = fill(data, part_size_at(self.part_size, number), carry)

    def _upload(self, number: int, body: bytearray) -> dict[str, Any]:
        try:
            sums = self.s3.checksum(body)
            resp = self.s3.call(
                f"put {self.key} (part {number})",
                "upload_part",
                Key=self.key,
                UploadId=self.upload_id,
                PartNumber=number,
                Body=body,
                ContentLength=len(body),
                **sums,
                **self.s3.sse_read(),
            )
            part = {"PartNumber": number, "ETag": resp["ETag"]}
            if "ChecksumSHA256" in sums:
                part["ChecksumSHA256"] = resp.get("ChecksumSHA256") or sums["ChecksumSHA256"]
            return part
        except BaseException as exc:
            self.failed = self.failed or exc
            raise
        finally:
            self.slots.release()

    def _abort(self) -> None:
        try:
            self.s3.call(
                f"abort {self.key}",
                "abort_multipart_upload",
                Key=self.key,
                UploadId=self.upload_id,
            )
        except Exception as exc:  # the original failure is what the host must see
            log.warning(
                "put %s: could not abort multipart upload %s: %s", self.key, self.upload_id, exc
            )
