"""FsExporter: restore a snapshot into a local directory with full POSIX fidelity.

Per Export stream: entries are created as their records arrive (parents come first, §5.2);
directories get their final mode, owner and mtime in `finish()`, deepest first, because
creating their children changes them. Hard links are recognised by dev:ino within the stream.
Xattr records arrive last (EXPORTXATTR, §5.3) under the snapshot's *unstripped* path: see
`_xattr_target` for how they are matched to what this stream restored.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from kloset_sdk import ChunkStream, Exporter, Fatal, Flag, Identity, InitContext, Record

from . import restore, xattrs
from .confine import Target, joined, split
from .options import PROTO, FsOptions, root_path

log = logging.getLogger(__name__)


@dataclass
class _Dir:
    parts: tuple[str, ...]
    record: Record


class FsExporter(Exporter[FsOptions]):
    options_class = FsOptions
    type_name = PROTO
    flags = Flag.LOCALFS | Flag.EXPORTXATTR

    def __init__(self, opts: FsOptions, ctx: InitContext) -> None:
        super().__init__(opts, ctx)
        self.root = root_path(opts.location, ctx.proto or PROTO)
        self.owner = os.geteuid() == 0
        self._target: Target | None = None
        self._reset()

    def _reset(self) -> None:
        self._dirs: list[_Dir] = []
        self._links: dict[tuple[int, int], tuple[str, ...]] = {}
        self._restored: set[str] = set()
        self._root_name = ""
        self._xattr_prefix: str | None = None

    def identity(self) -> Identity:
        origin = self.ctx.hostname or "localhost"
        return Identity(origin=origin, type=self.type_name, root=self.root, flags=self.flags)

    @property
    def target(self) -> Target:
        if self._target is None:
            self._target = Target(self.root)
        return self._target

    # -- one record ---------------------------------------------------------------------------
    def export(self, record: Record, content: ChunkStream | None) -> None:
        if record.error:
            return None
        if record.is_xattr:
            self._xattr(record, content)
            return None
        info = record.info
        if info is None:
            raise Fatal(f"{record.pathname}: record without file info")
        parts = split(record.pathname)
        t = self.target  # created (0700) with the first record
        if not parts:
            if not record.is_dir:
                raise Fatal(f"{record.pathname}: the restore root must be a directory")
            self._root_name = info.name if info.name not in ("", "/") else ""
            self._dirs.append(_Dir(parts, record))
            self._restored.add("/")
            return None
        dir_fd, name = t.parent(parts), parts[-1]
        if record.is_dir:
            t.dir(parts)  # mkdir 0700, or check that what exists is a real directory
            self._dirs.append(_Dir(parts, record))
        elif record.is_symlink:
            restore.symlink(dir_fd, name, record.target, info, self.owner)
        elif info.is_regular:
            self._file(parts, dir_fd, content, record)
        else:
            restore.special(dir_fd, name, info, self.owner)
        self._restored.add(joined(parts))
        return None

    def _file(
        self, parts: tuple[str, ...], dir_fd: int, content: ChunkStream | None, record: Record
    ) -> None:
        info = record.info
        assert info is not None
        key = (info.dev, info.ino)
        linked = info.nlink > 1 and info.ino != 0
        if linked and key in self._links:
            first = self._links[key]
            restore.hardlink(self.target.parent(first), first[-1], dir_fd, parts[-1])
            return
        chunks = content if content is not None else iter(())
        restore.regular(dir_fd, parts[-1], chunks, info, self.owner)
        if linked:
            self._links[key] = parts

    # -- xattrs -------------------------------------------------------------------------------
    def _xattr(self, record: Record, content: ChunkStream | None) -> None:
        value = content.readall() if content is not None else b""
        parts = self._xattr_target(record.pathname)
        if parts is None:
            log.debug(
                "xattr %s of %s: not restored by this stream", record.xattr_name, record.pathname
            )
            return
        if not parts:
            xattrs.set_on_fd(self.target.fd, record.xattr_name, value)
        else:
            xattrs.set_at(self.target.parent(parts), parts[-1], record.xattr_name, value)

    def _xattr_target(self, pathname: str) -> tuple[str, ...] | None:
        """Where an xattr record's entry was restored, or None if this stream did not.

        Xattr pathnames keep the snapshot prefix above the exported path (§5.3), and the host
        also sends xattrs beyond the exported subtree. The prefix is learned once: the
        shortest leading part whose removal leaves a path restored here and (when the root
        record had a name) ends with the exported directory's name. A path restored here
        as is (an export of `/`) is taken directly.
        """
        parts = split(pathname)
        if self._xattr_prefix is not None:
            pre = tuple(p for p in self._xattr_prefix.split("/") if p)
            if parts[: len(pre)] == pre and joined(parts[len(pre) :]) in self._restored:
                return parts[len(pre) :]
        if joined(parts) in self._restored:
            return parts
        for k in range(1, len(parts) + 1):
            if self._root_name and parts[k - 1] != self._root_name:
                continue
            if joined(parts[k:]) in self._restored:
                self._xattr_prefix = joined(parts[:k])
                return parts[k:]
        return None

    # -- end of stream ------------------------------------------------------------------------
    def finish(self) -> list[tuple[Record, str]]:
        """Directory metadata, deepest first, then forget this stream's state."""
        failed: list[tuple[Record, str]] = []
        if self._target is not None:
            for d in sorted(self._dirs, key=lambda d: len(d.parts), reverse=True):
                try:
                    self._dir_meta(d)
                except OSError as exc:
                    failed.append((d.record, f"{joined(d.parts)}: {exc.strerror or exc}"))
                except Exception as exc:  # noqa: BLE001 - reported as that directory's error
                    failed.append((d.record, str(exc)))
            self._target.forget()
        self._reset()
        return failed

    def _dir_meta(self, d: _Dir) -> None:
        assert d.record.info is not None and self._target is not None
        fd = self._target.open_dir(d.parts)
        try:
            restore.set_fd_meta(fd, d.record.info, self.owner)
        finally:
            os.close(fd)

    def close(self) -> None:
        if self._target is not None:
            self._target.close()
            self._target = None
