"""A Plakar repository in a OneDrive / SharePoint folder.

Layout as the Go fs/s3 stores (kloset_sdk.layout): `CONFIG`, `packfiles/<2hex>/<64hex>`,
`states/<2hex>/<64hex>`, `locks/<64hex>`; shard folders are created on first use, not the 512
of them at Create. Names are lowercase hex (CONFIG is fixed), so OneDrive's case-insensitive
names cannot collide.

Put spools the incoming stream (memory up to 4 MiB, then a temporary file) because Graph wants
the total size in every fragment's Content-Range, and a repository object arrives without one.
Nothing reaches the drive before the host's end of stream, and then the object is written
under its final name by a single PUT (<= 4 MiB) or an upload session, whose item exists only
once the last fragment is in: both atomic, with no temporary name to rename or to leak if the
process is killed (an unfinished session just expires).

Reads use the item's pre-authenticated download URL with a Range header, cached per object
from listings and uploads (about an hour), so a ranged Get is one request.
"""

from __future__ import annotations

import io
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import IO

from kloset_sdk import (
    AlreadyExists,
    ChunkStream,
    InitContext,
    NotFound,
    Resource,
    Storage,
)
from kloset_sdk.chunks import copy_stream
from kloset_sdk.layout import CONFIG, DIRS, SHARDED, object_key, parse_key

from .api import DriveItem, join, parse_item, path_address
from .client import ItemNotFound
from .connection import OneDriveConnection
from .download import download
from .options import OneDriveOptions
from .upload import SIMPLE_MAX, upload

SPOOL_MEMORY = SIMPLE_MAX  # larger objects spill to a temporary file: bounded memory per Put


class OneDriveStorage(OneDriveConnection, Storage[OneDriveOptions]):
    type_name = "onedrive"

    def __init__(self, opts: OneDriveOptions, ctx: InitContext) -> None:
        super().__init__(opts, ctx)
        self._items: dict[str, DriveItem] = {}  # object key -> item (id, size, download URL)
        self._lock = threading.Lock()

    # -- repository ---------------------------------------------------------------------------
    def create(self, config: bytes) -> None:
        existing = self.folders.lookup(self.root)
        if existing is not None:
            if not existing.is_container:
                raise AlreadyExists(f"onedrive:{self.root} exists and is a file")
            if next(self.client.children(f"/items/{existing.id}"), None) is not None:
                raise AlreadyExists(f"onedrive:{self.root} is not empty: refusing to create")
        for res in (Resource.PACKFILE, Resource.STATE, Resource.LOCK):
            self.folders.ensure(join(self.root, DIRS[res]))
        self._write(CONFIG, io.BytesIO(config))

    def open(self) -> bytes:
        try:
            return b"".join(self._read(CONFIG, None, None))
        except NotFound:
            raise NotFound(f"no repository at onedrive:{self.root} (CONFIG not found)") from None

    def size(self) -> int:
        try:
            return int(self.client.item(path_address(self.root)).get("size", -1))
        except ItemNotFound:
            return -1

    def list(self, res: Resource) -> Iterable[bytes]:
        top = join(self.root, DIRS[res])
        folder = self.folders.known(top) or self._lookup_folder(top)
        if folder is None:
            return []
        dirs = [(top, folder)]
        if res in SHARDED:
            dirs = [
                (join(top, it.name), it.id)
                for it in map(parse_item, self.client.children(f"/items/{folder}"))
                if it.is_container and len(it.name) == 2
            ]
        with ThreadPoolExecutor(self.opts.concurrency, thread_name_prefix="onedrive-list") as pool:
            found = pool.map(lambda d: self._list_dir(res, *d), dirs)
            return [mac for macs in found for mac in macs]

    def _list_dir(self, res: Resource, path: str, folder_id: str) -> Sequence[bytes]:
        self.folders.remember(path, folder_id)
        out: list[bytes] = []
        for obj in self.client.children(f"/items/{folder_id}"):
            item = parse_item(obj)
            mac = parse_key(res, item.name.lower()) if item.kind == "file" else None
            if mac is not None:
                with self._lock:
                    self._items[object_key(res, mac)] = item
                out.append(mac)
        return out

    def put(self, res: Resource, mac: bytes, data: ChunkStream, flags: int) -> int:
        return self._write(object_key(res, mac), data)

    def get(
        self, res: Resource, mac: bytes, offset: int | None, length: int | None
    ) -> Iterator[bytes]:
        return self._read(object_key(res, mac), offset, length)

    def delete(self, res: Resource, mac: bytes) -> None:
        key = object_key(res, mac)
        item = self._item(key)
        try:
            self.client.call("DELETE", f"/items/{item.id}").close()
        except ItemNotFound:
            raise NotFound(f"{key}: not found") from None
        finally:
            with self._lock:
                self._items.pop(key, None)

    # -- objects ------------------------------------------------------------------------------
    def _write(self, key: str, data: IO[bytes] | ChunkStream) -> int:
        directory, _, name = key.rpartition("/")
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY) as spool:
            size = copy_stream(data, spool)  # raises if the host abandons the stream: no write
            spool.seek(0)
            parent = join(self.root, directory) if directory else self.root
            parent_id = self.folders.ensure(parent)
            item = upload(self.client, parent_id, name, spool, size, self.opts.part_size)
        with self._lock:
            self._items[key] = item
        return size

    def _read(self, key: str, offset: int | None, length: int | None) -> Iterator[bytes]:
        item = self._item(key)
        if length == 0:
            return iter(())
        if offset is None:
            return iter(()) if item.size == 0 else download(self.client, item, verify=True)
        return download(self.client, item, offset, length)

    def _item(self, key: str) -> DriveItem:
        with self._lock:
            cached = self._items.get(key)
        if cached is not None:
            return cached
        try:
            item = parse_item(self.client.item(path_address(join(self.root, key))))
        except ItemNotFound:
            raise NotFound(f"{key}: not found") from None
        if item.kind != "file":
            raise NotFound(f"{key}: not a file")
        with self._lock:
            self._items[key] = item
        return item

    def _lookup_folder(self, path: str) -> str | None:
        item = self.folders.lookup(path)
        return item.id if item is not None and item.is_container else None
