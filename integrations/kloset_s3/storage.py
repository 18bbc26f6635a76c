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
from collections.abc import Iterator
from typing import Any

from kloset_sdk import AlreadyExists, ChunkStream, Fatal, Identity, NotFound, Resource, Storage
from kloset_sdk.connector import InitContext
from kloset_sdk.layout import CONFIG, HOT, LISTED, object_key, parse_key
from kloset_sdk.records import Content
from kloset_sdk.storage import MODE_READ, MODE_WRITE

from .connection import S3Connection
from .download import ObjectStream, open_object
from .options import FROZEN_CLASSES, S3Options
from .upload import put_stream

log = logging.getLogger(__name__)
FROZEN = ".frozen"
_DIRS = {Resource.PACKFILE: "packfiles/", Resource.STATE: "states/", Resource.LOCK: "locks/"}


class S3Storage(S3Connection, Storage[S3Options]):
    type_name = "s3"

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
    def create(self, config: bytes) -> None:
        self.s3.ensure_bucket()
        if self.s3.head(self._key(CONFIG)) is not None:
            raise AlreadyExists(f"{self._location()}: a repository already exists here (CONFIG)")
        if self.frozen:
            self.s3.put_bytes(
                self._key(CONFIG + FROZEN), config, StorageClass=self.opts.storage_class
            )
        self.s3.put_bytes(self._key(CONFIG), config, StorageClass="STANDARD")

    def open(self) -> bytes:
        try:
            return b"".join(ObjectStream(self.s3, self._key(CONFIG)))
        except NotFound as exc:
            if "bucket" in str(exc):
                raise NotFound(f"{self._location()}: the bucket does not exist") from None
            raise NotFound(f"{self._location()}: no repository here (no CONFIG)") from None

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
    def list(self, res: Resource) -> Iterator[bytes]:
        if res not in LISTED:
            raise Fatal(f"list: resource {res.name} is not supported by the s3 store")
        prefix = self._key(_DIRS[res])
        for page in self.s3.pages(prefix):
            for obj in page.get("Contents", []):
                mac = parse_key(res, obj["Key"])  # skips `.frozen` copies and stray names
                if mac is not None:
                    yield mac

    def put(self, res: Resource, mac: bytes, data: ChunkStream, flags: int) -> int:
        key = self._object(res, mac)
        cls = self.opts.storage_class
        copy_to_frozen = False
        if self.frozen:
            if res == Resource.PACKFILE and not flags & HOT:
                key += FROZEN
            else:
                copy_to_frozen = res != Resource.LOCK
                cls = "STANDARD"
        written = put_stream(
            self.s3,
            key,
            data,
            self.opts.part_size,
            self.opts.concurrency,
            {"StorageClass": cls},
        )
        if copy_to_frozen:
            self._copy_frozen(key)
        return written

    def get(self, res: Resource, mac: bytes, offset: int | None, length: int | None) -> Content:
        key = self._object(res, mac)
        window = self.opts.concurrency
        if offset is None:
            return open_object(self.s3, key, verify=self.opts.checksum == "sha256", window=window)
        if not length:
            self.s3.call(f"stat {key}", "head_object", Key=key, **self.s3.sse_read())
            return b""
        return open_object(self.s3, key, offset, offset + length - 1, window=window)

    def delete(self, res: Resource, mac: bytes) -> None:
        key = self._object(res, mac)
        self.s3.call(f"delete {key}", "delete_object", Key=key)
        if self.frozen and res != Resource.LOCK:
            self.s3.call(f"delete {key}{FROZEN}", "delete_object", Key=key + FROZEN)

    # -- helpers ------------------------------------------------------------------------------
    def _object(self, res: Resource, mac: bytes) -> str:
        if res not in LISTED:
            raise Fatal(f"resource {res.name} is not supported by the s3 store")
        return self._key(object_key(res, mac))

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
