"""FsStorage: a Kloset repository in a local directory, laid out like the Go fs store.

The layout (`CONFIG`, `packfiles/<b>/<hex>`, ...) comes from `kloset_sdk.objectstore`, so
either plugin can open a repository the other wrote. Unlike the Go store, every object is
made durable before it becomes visible: temporary file, fsync, rename, fsync of the directory.
A process killed mid-Put (P15) leaves only a hidden temporary file, which List never reports
and a later Open removes once it is an hour old.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
import time
from collections.abc import Iterable, Sequence

from kloset_sdk import AlreadyExists, ChunkStream, Fatal, Flag, NotFound
from kloset_sdk import layout as lay
from kloset_sdk.objectstore import ObjectStore

from .connection import FsConnection
from .fdread import FdChunks
from .options import PROTO, FsOptions

log = logging.getLogger(__name__)
TMP_PREFIX = ".kloset-put-"
STALE_AFTER = 3600.0


class FsStorage(FsConnection, ObjectStore[FsOptions]):
    type_name = PROTO
    flags = Flag.LOCALFS
    read_ahead = False  # a local read costs no round trip, and the page cache reads ahead

    def _origin(self) -> str:
        return "localhost"  # a repository is not tied to the host name

    def _path(self, key: str) -> str:
        return os.path.join(self.root, key)

    # -- repository ---------------------------------------------------------------------------
    def claim(self) -> None:
        try:
            with os.scandir(self.root) as it:
                if next(it, None) is not None:
                    raise AlreadyExists(f"directory {self.root} is not empty")
        except FileNotFoundError:
            os.makedirs(self.root, mode=0o700)

    def make_dirs(self, dirs: Sequence[str]) -> None:
        for d in dirs:
            os.makedirs(self._path(d), mode=0o700, exist_ok=True)

    def no_repository(self, exc: NotFound) -> NotFound:
        return NotFound(f"{self.root}: no repository here (CONFIG is missing)")

    def open(self) -> bytes:
        config = super().open()
        self._clean_stale()
        return config

    def ping(self) -> None:
        if not os.path.isdir(self.root):
            raise NotFound(f"{self.root}: no such directory")

    def size(self) -> int:
        total = 0
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                try:
                    st = os.lstat(os.path.join(dirpath, name))
                except FileNotFoundError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    total += st.st_size
        return total

    # -- objects ------------------------------------------------------------------------------
    def names(self, directory: str) -> Iterable[str]:
        try:
            with os.scandir(self._path(directory)) as it:
                return [e.name for e in it if e.is_file(follow_symlinks=False)]
        except FileNotFoundError:
            return []

    def write(self, key: str, data: ChunkStream) -> int:
        """Temp file in the same directory, fsync, rename: all of it or nothing under `key`."""
        path = self._path(key)
        tmp = os.path.join(os.path.dirname(path), TMP_PREFIX + secrets.token_hex(8))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            n = 0
            for chunk in data:
                view = memoryview(chunk)
                while view:
                    w = os.write(fd, view)
                    view = view[w:]
                n += len(chunk)
            os.fsync(fd)
            os.close(fd)
            fd = -1
            os.rename(tmp, path)
        except BaseException:
            if fd >= 0:
                os.close(fd)
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        _fsync_dir(os.path.dirname(path))
        return n

    def read(self, key: str, offset: int | None, length: int | None) -> FdChunks:
        try:
            fd = os.open(self._path(key), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise NotFound(f"{key}: not found") from None
        if offset is None:
            return FdChunks(fd)
        size = os.fstat(fd).st_size
        if offset + (length or 0) > size:
            os.close(fd)
            raise Fatal(
                f"{key}: range {offset}+{length} goes past the end of the object ({size} bytes)"
            )
        return FdChunks(fd, offset, length or 0)

    def remove(self, key: str) -> None:
        try:
            os.unlink(self._path(key))
        except FileNotFoundError:
            raise NotFound(f"{key}: not found") from None

    # -- helpers ------------------------------------------------------------------------------
    def _clean_stale(self) -> None:
        """Remove temporaries of killed processes; a live Put keeps its file's mtime fresh."""
        cutoff = time.time() - STALE_AFTER
        dirs = [self.root]
        for res in lay.LISTED:
            dirs += [self._path(d) for d in lay.shard_dirs(res)]
        for d in dirs:
            try:
                with os.scandir(d) as it:
                    stale = [e.path for e in it if e.name.startswith(TMP_PREFIX)]
            except FileNotFoundError:
                continue
            for p in stale:
                try:
                    if os.lstat(p).st_mtime < cutoff:
                        os.unlink(p)
                        log.info("removed stale temporary file %s", p)
                except FileNotFoundError:
                    pass


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
