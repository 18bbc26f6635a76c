"""Restore into a OneDrive / SharePoint folder: folders first, files through upload.py.

Records arrive parents first (docs/PROTOCOL.md: Exporter), so a directory record creates its folder
(with its mtime in `fileSystemInfo`, which Graph accepts at creation) and caches the id its children
need. A file is uploaded under its final name: OneDrive has no rename-over, and both upload
kinds are atomic already (upload.py), so no temporary name is needed.

Small files (<= 4 MiB) are read into memory and uploaded by a pool while the next records
stream in (bounded: 2 x concurrency files in flight); larger ones stream through an upload session
fragment by fragment, holding one fragment. Symlinks and devices cannot exist on OneDrive and
are reported as per-record errors.
"""

from __future__ import annotations

import io
import logging
from concurrent.futures import Future

from kloset_sdk import ChunkStream, Exporter, Fatal, InitContext, ProtocolError, Record
from kloset_sdk.uploads import UploadPool

from .api import join
from .connection import OneDriveConnection
from .options import OneDriveOptions
from .upload import SIMPLE_MAX, read_exact, upload

log = logging.getLogger(__name__)
_NO_TIME_NS = 315532800 * 10**9  # before 1980: kloset's synthetic dirs (Go zero time); keep Graph's


class OneDriveExporter(OneDriveConnection, Exporter[OneDriveOptions]):
    type_name = "onedrive"

    def __init__(self, opts: OneDriveOptions, ctx: InitContext) -> None:
        super().__init__(opts, ctx)
        self._uploads = UploadPool(opts.concurrency, name="onedrive-upload")
        # Sign in at Init, as the s3 and sftp exporters do: Plakar's restore fails as a whole
        # only when the exporter cannot be created; later errors are per-file events.
        self.ping()

    def close(self) -> None:
        self._uploads.close()

    def export(self, record: Record, content: ChunkStream | None) -> Future[None] | None:
        if record.is_xattr:
            return None  # hashes are recomputed by OneDrive; EXPORTXATTR is not requested
        target = self._target(record.pathname)
        info = record.info
        mtime = info.mtime_ns if info is not None and info.mtime_ns > _NO_TIME_NS else None
        if record.is_dir:
            self.folders.ensure(target, mtime)
            return None
        if not record.is_regular or info is None:
            kind = "symlink" if record.is_symlink else "special file"
            raise Fatal(f"{record.pathname}: OneDrive cannot store a {kind}; not restored")
        parent, _, name = target.rpartition("/")
        parent_id = self.folders.ensure(parent or "/")
        stream = content if content is not None else ChunkStream(lambda: None)
        size = info.size
        if size > SIMPLE_MAX:
            upload(self.client, parent_id, name, stream, size, self.opts.part_size, mtime)
            return None
        data = read_exact(stream, size)
        if len(data) != size or stream.read(1):
            raise ProtocolError(f"{record.pathname}: content size differs from {size} bytes")
        return self._uploads.submit(self._put_small, parent_id, name, data, mtime)

    def _put_small(self, parent_id: str, name: str, data: bytes, mtime: int | None) -> None:
        size = len(data)
        upload(self.client, parent_id, name, io.BytesIO(data), size, self.opts.part_size, mtime)

    def _target(self, pathname: str) -> str:
        """The drive path for a record; `..` would escape the destination: refused."""
        parts = [p for p in pathname.split("/") if p and p != "."]
        if ".." in parts:
            raise Fatal(f"{pathname}: refusing a path that leaves the destination")
        target = self.root
        for part in parts:
            target = join(target, part)
        return target
