"""Restore a snapshot into a bucket (or a prefix of it), with the metadata our importer kept.

Each file becomes the object `<prefix>/<pathname>` (mapping.path_to_key undoes the importer's
escapes), uploaded by boto3's transfer manager: multipart above `part_size`, at most
`concurrency` parts of a stream buffered. S3 needs no temporary name: an object
appears only when its PUT or CompleteMultipartUpload succeeds, which happens only after the
content stream ended cleanly; a stream cut short fails the upload and s3transfer aborts it.

Files under `part_size` are read whole (the SDK's UploadPool keeps at most concurrency x
part_size of them in memory) and uploaded in the background, 4 x concurrency at once, so a tree of
small files does not go up one round trip at a time; bigger ones stream through while
export() waits. Every object is checked after
upload: size by HEAD, and the ETag against the MD5 of single-part, unencrypted ones.

Metadata: the host sends xattr records after the whole tree (EXPORTXATTR, docs/PROTOCOL.md: Newer
kloset versions),
when the objects already exist, so finish() applies them to each object in place: one
CopyObject onto itself with MetadataDirective=REPLACE (content-type, cache-control...,
user metadata), skipped when only the content-type was kept and it already matches, and
PutObjectTagging for tags. S3 has no directories (nothing to create) and no symlinks (those
records fail with a message).
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from concurrent.futures import Future, wait
from typing import Any

from kloset_sdk import ChunkStream, Exporter, Fatal, FileInfo, Flag, Record
from kloset_sdk.connector import InitContext
from kloset_sdk.lazy import OnFirstUse
from kloset_sdk.uploads import UploadPool

from .client import translate
from .connection import S3Connection
from .mapping import XATTR_PREFIX, path_to_key, restore_args
from .options import MAX_PARTS, MIN_PART, S3Options
from .upload import fill

log = logging.getLogger(__name__)
COPY_LIMIT = 5 << 30  # CopyObject's limit; above it the transfer manager copies in parts


class S3Exporter(S3Connection, Exporter[S3Options]):
    type_name = "s3"
    flags = Flag.EXPORTXATTR

    def __init__(self, opts: S3Options, ctx: InitContext) -> None:
        super().__init__(opts, ctx)
        self.s3.ensure_bucket()
        # The transfer manager needs a second botocore client (~40 ms): made at the first
        # upload, not in Init (nor in a thread during Init, whose GIL share delays the answer).
        self._tm = OnFirstUse(self._transfer_manager)
        self.uploads = UploadPool(
            4 * opts.concurrency, max_bytes=opts.concurrency * opts.part_size, name="s3-upload"
        )
        self._lock = threading.Lock()
        self._reset()

    def _transfer_manager(self) -> Any:
        from boto3.s3.transfer import TransferConfig, create_transfer_manager

        opts = self.opts
        cfg = TransferConfig(
            multipart_threshold=opts.part_size,
            multipart_chunksize=opts.part_size,
            max_concurrency=4 * opts.concurrency,  # requests: many small files at once
        )
        cfg.max_in_memory_upload_chunks = opts.concurrency  # memory: parts of one stream
        return create_transfer_manager(self.s3.transfer_client(), cfg)

    @property
    def tm(self) -> Any:
        return self._tm.get()

    def _reset(self) -> None:
        self._keys: dict[str, str] = {}  # pathname -> key, as soon as an upload starts
        self._written: dict[str, tuple[int, str]] = {}  # pathname -> size, type, once verified
        self._xattrs: dict[str, dict[str, bytes]] = {}
        self._base: str | None = None
        self._pending: list[Future[None]] = []  # small uploads not yet verified

    def ping(self) -> None:
        """Nothing to check: Init made the bucket, or found it."""

    def export(self, record: Record, content: ChunkStream | None) -> Future[None] | None:
        if record.is_xattr:
            self._xattr(record, content)
            return None
        if record.is_dir:
            return None
        if record.info is None or record.target or not record.info.is_regular:
            raise Fatal(f"{record.pathname}: S3 has no symlinks or special files; not restored")
        key = self.target.key(path_to_key(record.pathname))
        self._keys[record.pathname] = key
        if content is None:
            content = ChunkStream(lambda: None)
        head, carry = fill(content, self.opts.part_size, b"")
        if not carry:
            return self._small(record.pathname, key, head)
        self._big(record.pathname, key, _Joined(head + carry, content), record.info.size)
        return None

    def _extra(self) -> dict[str, Any]:
        args = self.s3.sse_write()
        if self.opts.checksum == "sha256":
            args["ChecksumAlgorithm"] = "SHA256"
        return args

    def _small(self, path: str, key: str, body: bytes | bytearray) -> Future[None]:
        fut = self.uploads.submit(self._put_small, path, key, body, size=len(body))
        if len(self._pending) >= 1024:
            self._pending = [f for f in self._pending if not f.done()]
        self._pending.append(fut)
        return fut

    def _put_small(self, path: str, key: str, body: bytes | bytearray) -> None:
        md5 = hashlib.md5(body, usedforsecurity=False).hexdigest()
        up = self.tm.upload(io.BytesIO(body), self.target.bucket, key, self._extra())
        self._wait(up, key)
        self._verify(path, key, len(body), md5)

    def _big(self, path: str, key: str, reader: _Joined, size: int) -> None:
        subs = [_size_hint(size)] if size > self.opts.part_size * MAX_PARTS else []
        up = self.tm.upload(reader, self.target.bucket, key, self._extra(), subscribers=subs)
        self._wait(up, key)
        self._verify(path, key, reader.count, "")

    def _wait(self, up: Any, key: str) -> None:
        try:
            up.result()
        except Exception as exc:  # s3transfer re-raises botocore errors
            raise translate(exc, f"put {key}", self.target.endpoint_url) from None

    def _verify(self, path: str, key: str, size: int, md5: str) -> None:
        head = self.s3.head(key)
        if head is None:
            raise Fatal(f"put {key}: the object is missing after its upload")
        got = int(head.get("ContentLength", -1))
        if got != size:
            raise Fatal(f"put {key}: {got} bytes stored, {size} sent")
        etag = str(head.get("ETag", "")).strip('"')
        encrypted = self.s3.ssec_key is not None or self.opts.sse_kms_key_id
        if md5 and not encrypted and "-" not in etag and etag != md5:
            raise Fatal(f"put {key}: ETag {etag} is not the MD5 of the bytes sent ({md5})")
        with self._lock:
            self._written[path] = (size, str(head.get("ContentType", "")))

    # -- metadata -----------------------------------------------------------------------------
    def _xattr(self, record: Record, content: ChunkStream | None) -> None:
        value = content.readall() if content is not None else b""
        if not record.xattr_name.startswith(XATTR_PREFIX):
            return  # POSIX xattrs of other sources have no place on an S3 object
        path = self._match(record.pathname)
        if path is None:
            log.debug("xattr %s of %s: no such restored object", record.xattr_name, record.pathname)
            return
        self._xattrs.setdefault(path, {})[record.xattr_name] = value

    def _match(self, pathname: str) -> str | None:
        """The restored pathname an xattr belongs to: xattr records carry the snapshot's full
        path, not the one relative to the restored directory (docs/PROTOCOL.md: Newer kloset
        versions)."""
        if self._base is not None and pathname.startswith(self._base + "/"):
            pathname = pathname[len(self._base) :]
        if pathname in self._keys:
            return pathname
        segs = pathname.split("/")
        for i in range(2, len(segs)):
            candidate = "/" + "/".join(segs[i:])
            if candidate in self._keys:
                self._base = "/".join(segs[:i])
                return candidate
        return None

    def finish(self) -> list[tuple[Record, str]]:
        # Metadata can only be applied to objects that exist: wait for the uploads still in
        # flight (their own results, errors included, reach the host through their futures).
        wait(self._pending)
        jobs = {
            path: self.uploads.follow(self._apply, path, xa) for path, xa in self._xattrs.items()
        }
        failures = []
        for path, job in jobs.items():
            try:
                job.result()
            except Exception as exc:  # reported per object
                failures.append((Record(path, FileInfo(path.rsplit("/", 1)[-1])), str(exc)))
        self._reset()
        return failures

    def _apply(self, path: str, xattrs: dict[str, bytes]) -> None:
        if path not in self._written:
            return  # its upload failed, and was reported then
        key = self._keys[path]
        size, content_type = self._written[path]
        args, tags = restore_args(xattrs)
        if set(args) - {"ContentType"} or args.get("ContentType", content_type) != content_type:
            self._replace_metadata(key, size, args)
        if tags:
            self.s3.call(f"tag {key}", "put_object_tagging", Key=key, Tagging={"TagSet": tags})

    def _replace_metadata(self, key: str, size: int, args: dict[str, Any]) -> None:
        args = {**args, **self.s3.sse_write(), "MetadataDirective": "REPLACE"}
        if self.s3.ssec_key is not None:
            args.update(
                CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=self.s3.ssec_key
            )
        source = {"Bucket": self.target.bucket, "Key": key}
        if size < COPY_LIMIT:
            self.s3.call(
                f"set metadata of {key}", "copy_object", Key=key, CopySource=source, **args
            )
        else:
            self._wait(self.tm.copy(source, self.target.bucket, key, args), key)

    def close(self) -> None:
        self.uploads.close()
        if self._tm.built:
            self._tm.get().shutdown()


class _Joined(io.RawIOBase):
    """The bytes already read, then the rest of the content; read(n) returns n bytes unless at
    EOF, as s3transfer expects of a non-seekable file (a short read would make a short part)."""

    def __init__(self, head: bytes | bytearray, rest: ChunkStream) -> None:
        super().__init__()
        self._head = memoryview(head)
        self._rest = rest
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        parts: list[bytes] = []
        want = size if size >= 0 else 1 << 62
        while want > 0:
            if self._head:
                piece = bytes(self._head[:want])
                self._head = self._head[len(piece) :]
            else:
                piece = self._rest.read(want)
                if not piece:
                    break
            parts.append(piece)
            want -= len(piece)
        data = b"".join(parts)
        self.count += len(data)
        return data


def _size_hint(size: int) -> Any:
    """A subscriber telling s3transfer the size of a huge non-seekable upload, so it grows the
    part size to stay within 10,000 parts (it cannot know the size of a stream otherwise)."""
    from s3transfer.subscribers import BaseSubscriber

    class SizeHint(BaseSubscriber):  # type: ignore[misc]
        def on_queued(self, future: Any, **kwargs: Any) -> None:
            future.meta.provide_transfer_size(max(size, MIN_PART))

    return SizeHint()
