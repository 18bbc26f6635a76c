"""GdriveStorage: a Plakar repository in a Drive folder.

Layout as every other store (kloset_sdk.objectstore over the primitives below): `CONFIG`,
`packfiles/<2hex>/<64hex>`, `states/<2hex>/<64hex>`, `locks/<64hex>`. Shard folders are made
when first needed, not the 512 of them at Create (Drive takes a few folder creations a second).
Names map to ids through a cache filled by listing each folder once (50 folders a query); a miss
in a listed folder costs one targeted query, for objects another process wrote since.

Put uploads under a temporary name (`<hex>.tmp-<random>`, never parsed as a MAC) and renames
only once the host's stream reached its end, so a partial object never has its final name; the
upload itself is committed only by its final request anyway (upload.py). If the object is
already there (same MAC, hence same bytes) the new copy is dropped instead. Two files with one
name in one folder (two processes racing) are fine when their md5 agree; otherwise Get refuses
with both ids. Get with a range sends `Range: bytes=a-b` and downloads only those bytes.
"""

from __future__ import annotations

import os
import posixpath
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from kloset_sdk import AlreadyExists, Fatal, InitContext, NotFound, Resource
from kloset_sdk.chunks import ChunkStream
from kloset_sdk.layout import CONFIG, DIRS, SHARDED
from kloset_sdk.objectstore import ObjectStore
from kloset_sdk.records import Content

from . import download
from . import export_formats as fmt
from .client import escape
from .connection import GdriveConnection
from .options import GdriveOptions
from .upload import upload
from .walk import PARENTS_PER_QUERY

FIELDS = "id,name,mimeType,size,md5Checksum,createdTime,parents"
Meta = dict[str, Any]


def _oldest(metas: Iterable[Meta]) -> list[Meta]:
    return sorted(metas, key=lambda m: (m.get("createdTime") or "", m["id"]))


class _NoFolder(NotFound):
    """A folder of the repository's path is missing (not an object in it)."""


class GdriveStorage(GdriveConnection, ObjectStore[GdriveOptions]):
    type_name = "gdrive"

    def __init__(self, opts: GdriveOptions, ctx: InitContext) -> None:
        super().__init__(opts, ctx)
        self._lock = threading.Lock()
        self._dirs: dict[str, list[Meta]] = {}  # repo-relative folder path -> its folder(s)
        self._kids: dict[str, dict[str, list[Meta]]] = {}  # listed folder -> name -> items
        self._making: dict[str, threading.Lock] = {}
        self._repo_lock = threading.Lock()

    # -- the id cache ------------------------------------------------------------------------
    def _repo(self, create: bool) -> str:
        """The repository folder's id (made, with its parents, when `create`)."""
        with self._repo_lock:
            with self._lock:
                known = self._dirs.get("")
            return str(known[0]["id"]) if known else self._resolve_repo(create)

    def _resolve_repo(self, create: bool) -> str:
        base = self.opts.root_folder_id or self.opts.shared_drive_id or "root"
        folder: Meta = self.client.get(base, FIELDS)
        for part in self.opts.path_parts:
            q = (
                f"name = {escape(part)} and {escape(folder['id'])} in parents and"
                f" mimeType = '{fmt.FOLDER}' and trashed = false"
            )
            found = _oldest(self.client.list(q, self.client.drive_id, FIELDS))
            if found:
                folder = found[0]
            elif create:
                body = {"name": part, "mimeType": fmt.FOLDER, "parents": [folder["id"]]}
                folder = self.client.create(body, FIELDS)
            else:
                raise _NoFolder(f"no repository at {self.opts.location} (no folder {part})")
        with self._lock:
            self._dirs[""] = [folder]
        return str(folder["id"])

    def _list(self, paths: list[str]) -> None:
        """(Re)list the children of these folders, 50 folder ids a query."""
        with self._lock:
            owner = {m["id"]: p for p in paths for m in self._dirs.get(p, ())}
        fresh: dict[str, dict[str, list[Meta]]] = {p: {} for p in paths}
        ids = sorted(owner)
        for i in range(0, len(ids), PARENTS_PER_QUERY):
            chunk = ids[i : i + PARENTS_PER_QUERY]
            q = (
                "("
                + " or ".join(f"{escape(x)} in parents" for x in chunk)
                + ") and trashed = false"
            )
            for meta in self.client.list(q, self.client.drive_id, FIELDS):
                for parent in meta.get("parents") or ():
                    if parent in owner:
                        fresh[owner[parent]].setdefault(meta["name"], []).append(meta)
        with self._lock:
            for path, kids in fresh.items():
                self._kids[path] = {k: _oldest(v) for k, v in kids.items()}
                for name, metas in kids.items():
                    folders = [m for m in metas if m.get("mimeType") == fmt.FOLDER]
                    if folders:
                        self._dirs[posixpath.join(path, name)] = _oldest(folders)

    def _dir(self, path: str, create: bool) -> str | None:
        """Folder id for a repo-relative path; listed on the way, made if `create`."""
        with self._lock:
            metas = self._dirs.get(path)
        if metas:
            return str(metas[0]["id"])
        if path == "":
            return self._repo(create)
        parent = posixpath.dirname(path)
        parent_id = self._dir(parent, create)
        if parent_id is None:
            return None
        if parent not in self._kids:
            self._list([parent])
        with self._lock:
            metas = self._dirs.get(path)
            making = self._making.setdefault(path, threading.Lock())
        if metas:
            return str(metas[0]["id"])
        if not create:
            return None
        with making:
            with self._lock:
                metas = self._dirs.get(path)
            if metas:
                return str(metas[0]["id"])
            name = posixpath.basename(path)
            body = {"name": name, "mimeType": fmt.FOLDER, "parents": [parent_id]}
            made = self.client.create(body, FIELDS)
            with self._lock:
                self._dirs[path] = [made]
                self._kids.setdefault(parent, {}).setdefault(name, []).append(made)
                self._kids[path] = {}
            return str(made["id"])

    def _lookup(self, key: str) -> list[Meta]:
        """Every file named `key` (usually one), from the cache or Drive."""
        folder, name = posixpath.split(key)
        folder_id = self._dir(folder, create=False)
        if folder_id is None:
            return []
        if folder not in self._kids:
            self._list([folder])
        with self._lock:
            metas = list(self._kids.get(folder, {}).get(name, ()))
        if metas:
            return metas
        q = f"name = {escape(name)} and {escape(folder_id)} in parents and trashed = false"
        metas = _oldest(self.client.list(q, self.client.drive_id, FIELDS))
        if metas:
            with self._lock:
                self._kids.setdefault(folder, {})[name] = metas
        return metas

    # -- the ObjectStore primitives ----------------------------------------------------------
    def claim(self) -> None:
        self._repo(create=True)
        self._list([""])
        if self._kids.get(""):
            raise AlreadyExists(f"{self.opts.location} is not empty: refusing to create there")

    def no_repository(self, exc: NotFound) -> NotFound:
        if isinstance(exc, _NoFolder):
            return exc  # the repository folder itself is missing: _resolve_repo says which
        return NotFound(f"no repository at {self.opts.location} (no {CONFIG})")

    def size(self) -> int:
        self._dir("", create=False)
        todo = [""]
        total = 0
        while todo:
            self._list(todo)
            with self._lock:
                kids = [(p, n, m) for p in todo for n, ms in self._kids[p].items() for m in ms]
            todo = [posixpath.join(p, n) for p, n, m in kids if m.get("mimeType") == fmt.FOLDER]
            total += sum(int(m.get("size") or 0) for _, _, m in kids)
        return total

    def listed_dirs(self, res: Resource) -> Sequence[str]:
        """The resource's folder or its shard folders, each (re)listed here, 50 a query: names()
        then reads that listing from the cache."""
        top = DIRS[res]
        if self._dir(top, create=False) is None:
            return []
        self._list([top])
        if res not in SHARDED:
            return [top]
        with self._lock:
            folders = [f"{top}/{n}" for n in self._kids[top] if f"{top}/{n}" in self._dirs]
        self._list(folders)
        return folders

    def names(self, directory: str) -> Iterable[str]:
        with self._lock:
            return list(self._kids.get(directory, {}))

    def write(self, key: str, data: ChunkStream) -> int:
        folder, name = posixpath.split(key)
        folder_id = self._dir(folder, create=True)
        tmp = f"{name}.tmp-{os.urandom(6).hex()}"
        body = {"name": tmp, "parents": [folder_id]}
        meta = upload(self.client, body, data, self.opts.part_size, fields=FIELDS)
        size = int(meta.get("size") or 0)
        if self._lookup(key):
            self.client.delete(meta["id"])  # same MAC, same bytes: keep the one already there
            return size
        try:
            meta = self.client.update(meta["id"], {"name": name}, FIELDS)
        except BaseException:
            self.client.delete(meta["id"])
            raise
        with self._lock:
            self._kids.setdefault(folder, {}).setdefault(name, []).append(meta)
        return size

    def read(self, key: str, offset: int | None, length: int | None) -> Content:
        metas = self._lookup(key)
        if not metas:
            raise NotFound(f"{key}: no such object")
        if key != CONFIG and len({m.get("md5Checksum") for m in metas}) > 1:
            ids = ", ".join(m["id"] for m in metas)
            raise Fatal(f"{key}: {len(metas)} files of that name with different bytes ({ids})")
        meta = metas[0]  # the oldest (CONFIG: Open always took that one)
        url = self.client.media_url(meta["id"])
        size = int(meta.get("size") or 0)
        if offset is None:
            return download.stream(self.client, url, key, size=size, md5=meta.get("md5Checksum"))
        return download.stream(self.client, url, key, offset=offset, length=length or 0)

    def remove(self, key: str) -> None:
        metas = self._lookup(key)
        if not metas:
            raise NotFound(f"{key}: no such object")
        for meta in metas:
            self.client.delete(meta["id"])
        folder, name = posixpath.split(key)
        with self._lock:
            self._kids.get(folder, {}).pop(name, None)
