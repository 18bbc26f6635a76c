"""FsExporter: restore a snapshot into a local directory with full POSIX fidelity.

Per Export stream: entries are created as their records arrive (parents come first, §5.2);
directories get their final mode, owner and mtime in `finish()`, deepest first, because
creating their children changes them. Hard links are recognised by dev:ino within the stream.
Xattr records arrive last (EXPORTXATTR, §5.3) under the snapshot's *unstripped* path: see
`_xattr_target` for how they are matched to what was restored. An xattr is only ever set on the
entry it names; when that entry is part of this restore but was not restored (its record
failed, or never came), the xattr record gets an error result and nothing is written.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from kloset_sdk import ChunkStream, Exporter, Fatal, Flag, InitContext, NotFound, Record

from . import restore, xattrs
from .confine import Target, joined, split
from .connection import FsConnection
from .options import PROTO, FsOptions

log = logging.getLogger(__name__)


@dataclass
class _Dir:
    parts: tuple[str, ...]
    record: Record


class FsExporter(FsConnection, Exporter[FsOptions]):
    type_name = PROTO
    flags = Flag.LOCALFS | Flag.EXPORTXATTR

    def __init__(self, opts: FsOptions, ctx: InitContext) -> None:
        super().__init__(opts, ctx)
        self.owner = os.geteuid() == 0
        self._target: Target | None = None
        # What is in the target, for every stream of this process: `klosetctl copy` goes on in
        # a new stream after a file fails mid-content, and its xattrs come at the very end.
        self._restored: set[str] = set()
        self._failed: set[str] = set()
        self._reset()

    def _reset(self) -> None:
        self._dirs: list[_Dir] = []
        self._links: dict[tuple[int, int], tuple[str, ...]] = {}
        self._root_name = ""
        self._xattr_prefix: tuple[str, ...] | None = None
        self._unplaced: list[tuple[Record, tuple[str, ...]]] = []

    @property
    def target(self) -> Target:
        if self._target is None:
            self._target = Target(self.root)
        return self._target

    # -- one record ---------------------------------------------------------------------------
    def export(self, record: Record, content: ChunkStream | None) -> None:
        if record.is_xattr:
            self._xattr(record, content)
            return None
        try:
            path = joined(split(record.pathname))
        except Exception:
            path = ""  # refused below, with the reason, as that record's error
        if record.error:
            self._failed.add(path)
            self._restored.discard(path)
            return None
        try:
            self._entry(record, content)
        except BaseException:
            self._failed.add(path)
            self._restored.discard(path)
            raise
        self._failed.discard(path)
        self._restored.add(path)
        return None

    def _entry(self, record: Record, content: ChunkStream | None) -> None:
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
            return
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
        parts = self._xattr_target(record)
        if parts is None:
            return
        if not parts:
            xattrs.set_on_fd(self.target.fd, record.xattr_name, value)
        else:
            xattrs.set_at(self.target.parent(parts), parts[-1], record.xattr_name, value)

    def _candidates(self, parts: tuple[str, ...]) -> list[tuple[int, tuple[str, ...]]]:
        """(prefix length, remainder) pairs that could be the entry an xattr path names.

        Once the prefix is known, only it. Before, the path as is (an export of `/`, or
        `klosetctl copy`, which strips paths itself), then every shorter prefix that ends
        with the exported directory's name. The empty remainder (the restore root) only
        comes from a prefix that ends with that name: a root record without a name (`/`, or
        kloset's synthetic root of a one-file export) says nothing about any other path.
        """
        if self._xattr_prefix is not None:
            pre = self._xattr_prefix
            return [(len(pre), parts[len(pre) :])] if parts[: len(pre)] == pre else []
        out = [(0, parts)]
        for k in range(1, len(parts) + 1):
            if self._root_name and parts[k - 1] == self._root_name:
                out.append((k, parts[k:]))
            elif not self._root_name and k < len(parts):
                out.append((k, parts[k:]))
        return out

    def _xattr_target(self, record: Record) -> tuple[str, ...] | None:
        """Where the entry an xattr record names was restored, or None to skip the record.

        Xattr pathnames keep the snapshot prefix above the exported path (§5.3), and the host
        also sends xattrs beyond the exported subtree, which are not this restore's and are
        skipped. The prefix is learned from the first xattr whose remainder was restored.
        Raises NotFound (the record's error result) when the named entry belongs to this
        restore but is not in the target: its record failed, or it never came.
        """
        parts = split(record.pathname)
        cands = self._candidates(parts)
        for k, rem in cands:
            if joined(rem) in self._restored:
                self._xattr_prefix = parts[:k]
                return rem
        for _, rem in cands:
            if joined(rem) in self._failed:
                raise NotFound(self._not_restored(record, rem, "its record failed"))
        within = self._within(parts)
        if within:
            raise NotFound(self._not_restored(record, cands[0][1], "no record for it came"))
        if within is None:
            self._unplaced.append((record, parts))  # decided in finish(), prefix known or not
        log.debug("xattr %s of %s: not in this restore", record.xattr_name, record.pathname)
        return None

    def _within(self, parts: tuple[str, ...]) -> bool | None:
        """Whether a path lies in what this stream exports; None while that cannot be told."""
        pre = self._xattr_prefix
        if pre is not None:
            if not pre:
                return True  # paths as restored: everything is this restore's
            if self._root_name:
                return parts[: len(pre)] == pre  # inside the exported directory
            return False  # one-file export: only that file (restored or failed) is ours
        if self._root_name and self._root_name in parts:
            return True
        return None

    @staticmethod
    def _not_restored(record: Record, rem: tuple[str, ...], why: str) -> str:
        return f"xattr {record.xattr_name} not set: {joined(rem)} was not restored ({why})"

    # -- end of stream ------------------------------------------------------------------------
    def finish(self) -> list[tuple[Record, str]]:
        """Directory metadata, deepest first, then forget this stream's state."""
        failed: list[tuple[Record, str]] = []
        for record, parts in self._unplaced:
            if self._within(parts):
                rem = self._candidates(parts)[0][1]
                failed.append((record, self._not_restored(record, rem, "no record for it came")))
        if self._target is not None:
            for d in sorted(self._dirs, key=lambda d: len(d.parts), reverse=True):
                try:
                    self._dir_meta(d)
                except OSError as exc:
                    failed.append((d.record, f"{joined(d.parts)}: {exc.strerror or exc}"))
                except Exception as exc:  # reported as that directory's error
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
