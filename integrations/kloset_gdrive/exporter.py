"""GdriveExporter: restore a snapshot tree into a Drive folder (created if missing).

Folders are created on the fly (ids cached by path, modifiedTime set at creation); files go up
as one multipart request when they fit in a chunk, in a background pool, or through a resumable
session otherwise (upload.py); modifiedTime is part of the create metadata, so no second
request is needed. Restoring over an existing tree replaces the content of same-named files
(a new revision) instead of adding twins. A symlink to a restored folder becomes a shortcut;
other symlinks, devices and the like cannot exist on Drive and fail that record.

Drive metadata kept by a backup (importer.py) comes back: the exporter asks for xattr
records (EXPORTXATTR), which the host sends after the whole tree (docs/PROTOCOL.md: Exporter).
A file is uploaded with the MIME type its name suggests; when its `user.gdrive.mime_type`
says otherwise, a new revision with that type is uploaded from the bytes just restored (Drive
changes a MIME type only with a new revision). Google Docs, restored as their export
(`Budget.xlsx`), keep the export's type: uploading them as a Doc would convert, i.e. change,
the backed-up bytes. `user.gdrive.md5_checksum` (a backup with `checksums=true`) is checked
against what Drive stored.
modifiedTime is restored at creation; sizes and checksums are Drive's to compute, so nothing
else can be set.
"""

from __future__ import annotations

import io
import logging
import posixpath
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from kloset_sdk import ChunkStream, Exporter, Fatal, Flag, InitContext, Record
from kloset_sdk.records import format_rfc3339
from kloset_sdk.uploads import UploadPool

from . import download
from . import export_formats as fmt
from .client import escape
from .connection import GdriveConnection
from .importer import XATTR_MD5, XATTR_MIME
from .options import GdriveOptions
from .upload import read_full, upload

log = logging.getLogger(__name__)
UPLOAD_WORKERS = 8
LIST_FIELDS = "id,name,mimeType,createdTime"
UPLOAD_FIELDS = "id,name,size,md5Checksum,mimeType"


@dataclass
class _Restored:
    """A file this process uploaded: where, what Drive answered, what we sent."""

    parent: str
    name: str
    meta: dict[str, Any]  # the create/update metadata (mimeType, modifiedTime)
    upload: Future[None] | None  # None: uploaded in the foreground, already done
    result: dict[str, Any] | None = None
    fix: Future[None] | None = None  # a MIME type revision in flight


class _Stream(io.RawIOBase):
    """An iterator of byte chunks as a readable file (a download fed to an upload)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._buf = b""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while not self._buf:
            nxt = next(self._chunks, None)
            if nxt is None:
                return b""
            self._buf = nxt
        n = len(self._buf) if size < 0 else min(size, len(self._buf))
        out, self._buf = self._buf[:n], self._buf[n:]
        return out


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


class GdriveExporter(GdriveConnection, Exporter[GdriveOptions]):
    type_name = "gdrive"
    flags = Flag.EXPORTXATTR  # the backed-up MIME types come back as xattr records

    def __init__(self, opts: GdriveOptions, ctx: InitContext) -> None:
        super().__init__(opts, ctx)
        self._folders: dict[str, str] = {}  # restore path -> folder id
        self._known: dict[str, dict[str, dict[str, Any]]] = {}  # folder id -> name -> child
        workers = max(1, min(UPLOAD_WORKERS, ctx.maxconcurrency or UPLOAD_WORKERS))
        self._uploads = UploadPool(workers, name="gdrive-upload")
        self._reset()
        # Sign in at Init, as the s3 and sftp exporters do: Plakar's restore fails as a whole
        # only when the exporter cannot be created; later errors are per-file events.
        self.ping()

    def _reset(self) -> None:
        """Per Export stream: what it restored, for the xattr records at its end."""
        self._files: dict[str, _Restored] = {}  # restore path -> file
        self._failed: set[str] = set()  # files of this stream whose record failed
        self._root_name = ""
        self._prefix: tuple[str, ...] | None = None

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
            return self._xattr(record, content)
        raw = record.pathname
        if not raw or ".." in raw.split("/"):
            raise Fatal(f"{raw!r}: refusing a path outside the target")
        if "\x00" in raw:
            raise Fatal(f"{raw!r}: a path with a NUL byte cannot be restored")
        path = posixpath.normpath("/" + raw.lstrip("/"))
        info = record.info
        mtime = info.mtime_ns if info is not None and info.mtime_ns > 0 else None
        if record.is_dir:
            if path == "/" and info is not None and info.name not in ("", "/"):
                # xattr paths keep the snapshot prefix up to this name
                self._root_name = info.name
            self._folder(path, mtime)
            return None
        if record.is_symlink:
            self._shortcut(path, record.target)
            return None
        if content is None or not record.is_regular:
            raise Fatal(f"{path}: only files, folders and symlinks to folders can go to Drive")
        self._failed.add(path)  # until its upload succeeded
        self._files.pop(path, None)
        parent = self._folder(posixpath.dirname(path))
        name = posixpath.basename(path)
        existing = self._children(parent).get(name)
        meta: dict[str, Any] = {"name": name, "mimeType": fmt.guess_type(name)}
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
        chunk = self.opts.part_size
        try:
            head = read_full(content, chunk)
            if len(head) == chunk:  # big: stream it now, the content cannot wait
                made = upload(
                    self.client, meta, _Chain(head, content), chunk, file_id, UPLOAD_FIELDS
                )
                self._uploaded(parent, name, made)
                self._files[path] = _Restored(parent, name, meta, None, made)
                self._failed.discard(path)
                return None
        except BaseException:
            if file_id is None:
                self._known[parent].pop(name, None)  # nothing was created
            raise
        fut = self._uploads.submit(
            upload, self.client, meta, io.BytesIO(head), chunk, file_id, UPLOAD_FIELDS
        )
        done: Future[None] = Future()
        restored = _Restored(parent, name, meta, done)
        self._files[path] = restored
        self._failed.discard(path)
        fut.add_done_callback(lambda f: self._settle(done, f, restored, file_id))
        return done

    def _settle(
        self, done: Future[None], fut: Future[Any], restored: _Restored, file_id: str | None
    ) -> None:
        parent, name = restored.parent, restored.name
        exc = fut.exception()
        if exc is None:
            restored.result = fut.result()
            self._uploaded(parent, name, restored.result)
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

    # -- xattr records: the backed-up Drive metadata --------------------------------------------
    def _xattr(self, record: Record, content: ChunkStream | None) -> Future[None] | None:
        value = (content.readall() if content is not None else b"").decode("utf-8", "replace")
        if record.xattr_name not in (XATTR_MIME, XATTR_MD5):
            return None  # nothing else of ours; Drive has no place for arbitrary xattrs
        path = self._xattr_target(record.pathname)
        if path is None:
            log.debug("xattr %s of %s: not restored here", record.xattr_name, record.pathname)
            return None
        if path in self._failed:
            raise Fatal(f"{path}: not restored, so its {record.xattr_name} cannot be applied")
        restored = self._files[path]
        if record.xattr_name == XATTR_MD5:
            return self._after(restored, lambda: self._check_md5(path, restored, value))
        if not value or fmt.is_google_apps(value) or value in (fmt.FOLDER, fmt.SHORTCUT):
            return None  # an exported Doc keeps its export's type (a Doc would convert it)
        if value == restored.meta.get("mimeType"):
            return None
        restored.meta = {**restored.meta, "mimeType": value}
        fix = self._after(restored, lambda: self._set_mime(path, restored))
        restored.fix = fix
        return fix

    def _after(self, restored: _Restored, step: Any) -> Future[None]:
        """Run `step` in the pool once the file's upload (and MIME revision) is done."""
        before = [f for f in (restored.upload, restored.fix) if f is not None]

        def run() -> None:
            for f in before:
                f.result()  # its failure is the upload's record's error; ours says why
            step()

        return self._uploads.follow(run)

    def _set_mime(self, path: str, restored: _Restored) -> None:
        """A new revision with the recorded MIME type, from the bytes Drive holds now."""
        assert restored.result is not None
        file_id = str(restored.result["id"])
        chunks = download.stream(
            self.client,
            self.client.media_url(file_id),
            path,
            md5=restored.result.get("md5Checksum"),
        )
        meta = {k: v for k, v in restored.meta.items() if k in ("mimeType", "modifiedTime")}
        restored.result = upload(
            self.client, meta, _Stream(chunks), self.opts.part_size, file_id, UPLOAD_FIELDS
        )

    def _check_md5(self, path: str, restored: _Restored, want: str) -> None:
        got = (restored.result or {}).get("md5Checksum")
        if got and want and got != want:
            raise Fatal(f"{path}: Drive stored md5 {got}, the backup recorded {want}")

    def _xattr_target(self, pathname: str) -> str | None:
        """The restore path of the file an xattr record names, or None when this stream did
        not restore it. Xattr records keep the snapshot prefix above the exported path, and
        the host sends xattrs beyond the exported subtree too (PROTOCOL.md: Exporter): the
        prefix is learned once, ending with the exported folder's name when the root record
        had one; a path restored as is (an export of `/`) is taken directly. Only files are
        ever named."""
        parts = tuple(p for p in pathname.split("/") if p)
        known = self._files.keys() | self._failed

        def rest(k: int) -> str:
            return "/" + "/".join(parts[k:])

        if self._prefix is not None:
            k = len(self._prefix)
            ok = parts[:k] == self._prefix and len(parts) > k and rest(k) in known
            return rest(k) if ok else None
        for k in range(len(parts)):
            if self._root_name and (k == 0 or parts[k - 1] != self._root_name):
                continue
            if rest(k) in known:
                self._prefix = parts[:k]
                return rest(k)
        return None

    def finish(self) -> list[tuple[Record, str]]:
        self._reset()
        return []

    def close(self) -> None:
        self._uploads.close()
