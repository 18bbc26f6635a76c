"""GdriveExporter: restore a snapshot tree into a Drive folder (created if missing).

Folders are created on the fly (ids cached by path, modifiedTime set at creation); files go up
as one multipart request when they fit in a chunk, in a background pool, or through a resumable
session otherwise (upload.py); modifiedTime is part of the create metadata, so no second
request is needed. Restoring over an existing tree replaces the content of same-named files
(a new revision) instead of adding twins. A symlink to a restored folder becomes a shortcut;
other symlinks, devices and the like cannot exist on Drive and fail that record.
"""

from __future__ import annotations

import io
import logging
import posixpath
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from kloset_sdk import ChunkStream, Exporter, Fatal, Identity, InitContext, Record
from kloset_sdk.records import format_rfc3339

from . import export_formats as fmt
from .client import DriveClient, escape
from .options import GdriveOptions, check
from .upload import read_full, upload

log = logging.getLogger(__name__)
UPLOAD_WORKERS = 8
LIST_FIELDS = "id,name,mimeType,createdTime"
UPLOAD_FIELDS = "id,name,size,md5Checksum"


class _Chain(io.RawIOBase):
    """The first chunk, already read, then the rest of the stream."""

    def __init__(self, head: bytes, rest: ChunkStream) -> None:
        super().__init__()
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._head:
            n = len(self._head) if size < 0 else min(size, len(self._head))
            out, self._head = self._head[:n].tobytes(), self._head[n:]
            return out
        return self._rest.read(size)


class GdriveExporter(Exporter[GdriveOptions]):
    options_class = GdriveOptions
    type_name = "gdrive"

    def __init__(self, opts: GdriveOptions, ctx: InitContext) -> None:
        super().__init__(opts, ctx)
        check(opts)
        self._client: DriveClient | None = None
        self._folders: dict[str, str] = {}  # restore path -> folder id
        self._known: dict[str, dict[str, dict[str, Any]]] = {}  # folder id -> name -> child
        workers = max(1, min(UPLOAD_WORKERS, ctx.maxconcurrency or UPLOAD_WORKERS))
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="gdrive-upload")
        self._slots = threading.BoundedSemaphore(workers * 2)

    def identity(self) -> Identity:
        return Identity(self.opts.origin, self.type_name, self.opts.path)

    @property
    def client(self) -> DriveClient:
        if self._client is None:
            self._client = DriveClient(self.opts)
        return self._client

    def ping(self) -> None:
        self.client.get("root", "id")

    # -- folders -----------------------------------------------------------------------------
    def _children(self, folder_id: str) -> dict[str, dict[str, Any]]:
        """Children of a folder that existed before us, listed once (oldest wins a name)."""
        if folder_id not in self._known:
            q = f"{escape(folder_id)} in parents and trashed = false"
            found: dict[str, dict[str, Any]] = {}
            metas = self.client.list(q, drive_id=self.client.drive_id, fields=LIST_FIELDS)
            for meta in sorted(metas, key=lambda m: (m.get("createdTime") or "", m["id"])):
                found.setdefault(meta["name"], meta)
            self._known[folder_id] = found
        return self._known[folder_id]

    def _folder(self, path: str, mtime_ns: int | None = None) -> str:
        """The id of the folder restored at `path` ("/" is the target), made if missing."""
        if path in self._folders:
            return self._folders[path]
        if path == "/":
            base = self.opts.root_folder_id or self.opts.shared_drive_id or "root"
            folder_id = str(self.client.get(base, "id")["id"])
            for part in self.opts.path_parts:
                folder_id = self._target_part(folder_id, part)
        else:
            parent = self._folder(posixpath.dirname(path))
            folder_id = self._mkdir(parent, posixpath.basename(path), mtime_ns)
        self._folders[path] = folder_id
        return folder_id

    def _target_part(self, parent: str, name: str) -> str:
        """One folder of the location's path: found by a name query (no listing of, say, the
        whole My Drive root), or made."""
        q = (
            f"name = {escape(name)} and {escape(parent)} in parents and"
            f" mimeType = '{fmt.FOLDER}' and trashed = false"
        )
        found = self.client.list(q, drive_id=self.client.drive_id, fields=LIST_FIELDS)
        oldest = min(found, key=lambda m: (m.get("createdTime") or "", m["id"]), default=None)
        if oldest is not None:
            return str(oldest["id"])
        body = {"name": name, "mimeType": fmt.FOLDER, "parents": [parent]}
        made = self.client.create(body, LIST_FIELDS)
        self._known[made["id"]] = {}  # new: nothing to list
        return str(made["id"])

    def _mkdir(self, parent: str, name: str, mtime_ns: int | None) -> str:
        existing = self._children(parent).get(name)
        if existing is not None:
            if existing.get("mimeType") != fmt.FOLDER:
                raise Fatal(f"{name}: a file of that name is in the way of a folder")
            return str(existing["id"])
        body: dict[str, Any] = {"name": name, "mimeType": fmt.FOLDER, "parents": [parent]}
        if mtime_ns is not None:
            body["modifiedTime"] = format_rfc3339(mtime_ns)
        made = self.client.create(body, LIST_FIELDS)
        self._known[parent][name] = made
        self._known[made["id"]] = {}  # new: nothing to list
        return str(made["id"])

    # -- records -----------------------------------------------------------------------------
    def export(self, record: Record, content: ChunkStream | None) -> Future[None] | None:
        if record.is_xattr:
            return None  # not asked for (no EXPORTXATTR); Drive has no place for them
        raw = record.pathname
        if not raw or ".." in raw.split("/"):
            raise Fatal(f"{raw!r}: refusing a path outside the target")
        if "\x00" in raw:
            raise Fatal(f"{raw!r}: a path with a NUL byte cannot be restored")
        path = posixpath.normpath("/" + raw.lstrip("/"))
        info = record.info
        mtime = info.mtime_ns if info is not None and info.mtime_ns > 0 else None
        if record.is_dir:
            self._folder(path, mtime)
            return None
        if record.is_symlink:
            self._shortcut(path, record.target)
            return None
        if content is None or not record.is_regular:
            raise Fatal(f"{path}: only files, folders and symlinks to folders can go to Drive")
        parent = self._folder(posixpath.dirname(path))
        name = posixpath.basename(path)
        existing = self._children(parent).get(name)
        meta: dict[str, Any] = {"name": name}
        if mtime is not None:
            meta["modifiedTime"] = format_rfc3339(mtime)
        file_id = None
        if existing is not None and existing.get("mimeType") == fmt.FOLDER:
            raise Fatal(f"{path}: a folder of that name is in the way")
        if (
            existing is not None
            and existing.get("id")
            and not fmt.is_google_apps(existing.get("mimeType", ""))
        ):
            file_id = str(existing["id"])  # a new revision, not a twin
        else:  # nothing there, or a Google Doc (whose content bytes cannot replace): a new file
            meta["parents"] = [parent]
            new_id = self.client.new_id()  # None without generateIds: known once uploaded
            if new_id:
                meta["id"] = new_id
            self._known[parent][name] = {"id": new_id, "name": name, "mimeType": ""}
        chunk = self.opts.chunk_bytes
        try:
            head = read_full(content, chunk)
            if len(head) == chunk:  # big: stream it now, the content cannot wait
                made = upload(
                    self.client, meta, _Chain(head, content), chunk, file_id, UPLOAD_FIELDS
                )
                self._uploaded(parent, name, made)
                return None
        except BaseException:
            if file_id is None:
                self._known[parent].pop(name, None)  # nothing was created
            raise
        self._slots.acquire()
        fut = self._pool.submit(
            upload, self.client, meta, io.BytesIO(head), chunk, file_id, UPLOAD_FIELDS
        )
        done: Future[None] = Future()
        fut.add_done_callback(lambda f: self._settle(done, f, parent, name, file_id))
        return done

    def _settle(
        self, done: Future[None], fut: Future[Any], parent: str, name: str, file_id: str | None
    ) -> None:
        self._slots.release()
        exc = fut.exception()
        if exc is None:
            self._uploaded(parent, name, fut.result())
            done.set_result(None)
            return
        if file_id is None:
            self._known[parent].pop(name, None)
        done.set_exception(exc)

    def _uploaded(self, parent: str, name: str, made: dict[str, Any]) -> None:
        """Remember the id of what was just written (not known before without generateIds)."""
        known = self._known.get(parent, {}).get(name)
        if known is not None and not known.get("id"):
            known["id"] = made.get("id")

    def _shortcut(self, path: str, target: str) -> None:
        where = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
        folder_id = self._folders.get(where)
        if folder_id is None:
            raise Fatal(f"{path}: Drive has no symlinks, and {target} is not a restored folder")
        parent = self._folder(posixpath.dirname(path))
        name = posixpath.basename(path)
        if name in self._children(parent):
            return
        body = {
            "name": name,
            "mimeType": fmt.SHORTCUT,
            "parents": [parent],
            "shortcutDetails": {"targetId": folder_id},
        }
        self._known[parent][name] = self.client.create(body, LIST_FIELDS)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
