"""A Plakar repository in a OneDrive / SharePoint folder.

Layout as the Go fs/s3 stores (kloset_sdk.objectstore over the primitives below): `CONFIG`,
`packfiles/<2hex>/<64hex>`, `states/<2hex>/<64hex>`, `locks/<64hex>`; shard folders are
created on first use, not the 512 of them at Create. Names are lowercase hex (CONFIG is
fixed), so OneDrive's case-insensitive names cannot collide.

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

import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from kloset_sdk import AlreadyExists, ChunkStream, InitContext, NotFound, Resource
from kloset_sdk.chunks import copy_stream
from kloset_sdk.layout import DIRS, SHARDED
from kloset_sdk.objectstore import ObjectStore

from .api import DriveItem, join, parse_item, path_address
from .client import ItemNotFound
from .connection import OneDriveConnection
from .download import download
from .options import OneDriveOptions
from .upload import SIMPLE_MAX, upload

T = TypeVar("T")
R = TypeVar("R")
SPOOL_MEMORY = SIMPLE_MAX  # larger objects spill to a temporary file: bounded memory per Put


class OneDriveStorage(OneDriveConnection, ObjectStore[OneDriveOptions]):
    type_name = "onedrive"

    def __init__(self, opts: OneDriveOptions, ctx: InitContext) -> None:
        super().__init__(opts, ctx)
        self._items: dict[str, DriveItem] = {}  # object key -> item (id, size, download URL)
        self._lock = threading.Lock()

    # -- repository ---------------------------------------------------------------------------
    def claim(self) -> None:
        existing = self.folders.lookup(self.root)
        if existing is not None:
            if not existing.is_container:
                raise AlreadyExists(f"onedrive:{self.root} exists and is a file")
            if next(self.client.children(f"/items/{existing.id}"), None) is not None:
                raise AlreadyExists(f"onedrive:{self.root} is not empty: refusing to create")

    def make_dirs(self, dirs: Sequence[str]) -> None:
        for d in dirs:
            if "/" not in d:  # the top folders only: shard folders are made on first use
                self.folders.ensure(join(self.root, d))

    def no_repository(self, exc: NotFound) -> NotFound:
        return NotFound(f"no repository at onedrive:{self.root} (CONFIG not found)")

    def size(self) -> int:
        try:
            return int(self.client.item(path_address(self.root)).get("size", -1))
        except ItemNotFound:
            return -1

    def listed_dirs(self, res: Resource) -> Sequence[str]:
        """The resource's folder, or its shard folders that exist (ids remembered)."""
        top = DIRS[res]
        path = join(self.root, top)
        folder = self.folders.known(path) or self._lookup_folder(path)
        if folder is None:
            return []
        self.folders.remember(path, folder)
        if res not in SHARDED:
            return [top]
        dirs = []
        for it in map(parse_item, self.client.children(f"/items/{folder}")):
            if it.is_container and len(it.name) == 2:
                self.folders.remember(join(path, it.name), it.id)
                dirs.append(f"{top}/{it.name}")
        return dirs

    def fan_out(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        with ThreadPoolExecutor(self.opts.concurrency, thread_name_prefix="onedrive-list") as pool:
            return list(pool.map(fn, items))

    def names(self, directory: str) -> Iterable[str]:
        """File names (lowercased) in one folder; their items are cached for Get and Delete."""
        path = join(self.root, directory)
        folder_id = self.folders.known(path) or self._lookup_folder(path)
        if folder_id is None:
            return []
        out: list[str] = []
        for obj in self.client.children(f"/items/{folder_id}"):
            item = parse_item(obj)
            if item.kind == "file":
                name = item.name.lower()
                with self._lock:
                    self._items[f"{directory}/{name}"] = item
                out.append(name)
        return out

    def remove(self, key: str) -> None:
        item = self._item(key)
        try:
            self.client.call("DELETE", f"/items/{item.id}").close()
        except ItemNotFound:
            raise NotFound(f"{key}: not found") from None
        finally:
            with self._lock:
                self._items.pop(key, None)

    # -- objects ------------------------------------------------------------------------------
    def write(self, key: str, data: ChunkStream) -> int:
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

    def read(self, key: str, offset: int | None, length: int | None) -> Iterator[bytes]:
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
