"""A Plakar repository in an S3 bucket, with the Go s3 store's layout (docs/PROTOCOL.md: Reference
store layouts).

`<prefix>/CONFIG`, `packfiles/<2hex>/<64hex>`, `states/<2hex>/<64hex>`, `locks/<64hex>`, so a
repository written by the Go integration opens here and the other way round.

GLACIER and DEEP_ARCHIVE work as in the Go store, so such repositories stay interchangeable
too: CONFIG and locks stay in STANDARD (and CONFIG.frozen is written in the cold class),
packfiles go straight to the cold class as `<hex>.frozen` unless the host marks them HOT (then
STANDARD plus a `.frozen` copy), states are STANDARD plus a `.frozen` copy. Mode is then
write-only (2): kloset never tries to read packfiles it could not get back without a restore.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

from kloset_sdk import AlreadyExists, ChunkStream, Identity, NotFound, Resource
from kloset_sdk.connector import InitContext
from kloset_sdk.layout import CONFIG, DIRS, HOT, LISTED, object_key
from kloset_sdk.objectstore import ObjectStore
from kloset_sdk.records import Content
from kloset_sdk.storage import MODE_READ, MODE_WRITE

from .client import NoSuchBucket
from .connection import S3Connection
from .download import open_object
from .options import FROZEN_CLASSES, S3Options
from .upload import put_stream

log = logging.getLogger(__name__)
FROZEN = ".frozen"


class S3Storage(S3Connection, ObjectStore[S3Options]):
    type_name = "s3"
    resources = frozenset(LISTED)

    def __init__(self, opts: S3Options, ctx: InitContext) -> None:
        super().__init__(opts, ctx)
        self.frozen = opts.storage_class in FROZEN_CLASSES

    def identity(self) -> Identity:
        root = "/" + "/".join(p for p in (self.target.bucket, self.target.prefix) if p)
        return Identity(origin=self.target.host, type=self.type_name, root=root)

    def _key(self, name: str) -> str:
        return self.target.key(name)

    def _location(self) -> str:
        return f"s3://{self.target.host}{self.identity().root}"

    # -- repository ---------------------------------------------------------------------------
    def claim(self) -> None:
        self.s3.ensure_bucket()
        if self.s3.head(self._key(CONFIG)) is not None:
            raise AlreadyExists(f"{self._location()}: a repository already exists here (CONFIG)")

    def no_repository(self, exc: NotFound) -> NotFound:
        if isinstance(exc, NoSuchBucket):
            return NotFound(f"{self._location()}: the bucket does not exist")
        return NotFound(f"{self._location()}: no repository here (no CONFIG)")

    def mode(self) -> int:
        return MODE_WRITE if self.frozen else MODE_READ | MODE_WRITE

    def size(self) -> int:
        """Sum of the sizes of every object under the prefix (-1 if listing is refused)."""
        total = 0
        try:
            for page in self.s3.pages(self._key("")):
                total += sum(int(o.get("Size", 0)) for o in page.get("Contents", []))
        except NotFound:
            raise
        except Exception as exc:  # statistics only: unknown, not fatal
            log.warning("size: %s", exc)
            return -1
        return total

    # -- objects ------------------------------------------------------------------------------
    def listed_dirs(self, res: Resource) -> Sequence[str]:
        return [DIRS[res]]  # one listing of the whole prefix: S3 has no directories

    def names(self, directory: str) -> Iterator[str]:
        for page in self.s3.pages(self._key(directory + "/")):
            for obj in page.get("Contents", []):
                yield obj["Key"]  # `.frozen` copies and stray names do not parse as a MAC

    def write(self, key: str, data: ChunkStream) -> int:
        if key != CONFIG:
            return self._upload(key, data, "STANDARD" if self.frozen else self.opts.storage_class)
        config = data.readall()
        if self.frozen:
            self.s3.put_bytes(
                self._key(CONFIG + FROZEN), config, StorageClass=self.opts.storage_class
            )
        self.s3.put_bytes(self._key(CONFIG), config, StorageClass="STANDARD")
        return len(config)

    def put(self, res: Resource, mac: bytes, data: ChunkStream, flags: int) -> int:
        if not self.frozen:
            return super().put(res, mac, data, flags)
        key = self.key(res, mac, "put")
        if res == Resource.PACKFILE and not flags & HOT:
            return self._upload(key + FROZEN, data, self.opts.storage_class)
        written = self.write(key, data)
        if res != Resource.LOCK:
            self._copy_frozen(self._key(key))
        return written

    def read(self, key: str, offset: int | None, length: int | None) -> Content:
        key = self._key(key)
        window = self.opts.concurrency
        if offset is None:
            return open_object(self.s3, key, verify=self.opts.checksum == "sha256", window=window)
        if not length:
            self.s3.call(f"stat {key}", "head_object", Key=key, **self.s3.sse_read())
            return b""
        return open_object(self.s3, key, offset, offset + length - 1, window=window)

    def remove(self, key: str) -> None:
        key = self._key(key)
        self.s3.call(f"delete {key}", "delete_object", Key=key)

    def delete(self, res: Resource, mac: bytes) -> None:
        super().delete(res, mac)
        if self.frozen and res != Resource.LOCK:
            self.remove(object_key(res, mac) + FROZEN)

    # -- helpers ------------------------------------------------------------------------------
    def _upload(self, key: str, data: ChunkStream, storage_class: str) -> int:
        return put_stream(
            self.s3,
            self._key(key),
            data,
            self.opts.part_size,
            self.opts.concurrency,
            {"StorageClass": storage_class},
        )

    def _copy_frozen(self, key: str) -> None:
        args: dict[str, Any] = {**self.s3.sse_write()}
        if self.s3.ssec_key is not None:
            args.update(
                CopySourceSSECustomerAlgorithm="AES256",
                CopySourceSSECustomerKey=self.s3.ssec_key,
            )
        self.s3.call(
            f"copy {key} to {key}{FROZEN}",
            "copy_object",
            Key=key + FROZEN,
            CopySource={"Bucket": self.target.bucket, "Key": key},
            StorageClass=self.opts.storage_class,
            **args,
        )
