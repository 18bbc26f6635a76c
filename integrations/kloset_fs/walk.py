"""Parallel directory walk producing records (INTEGRATIONS.md fs, docs/PROTOCOL.md: Records).

The walk is kloset_sdk.walk's: worker threads list directories, a directory's record is
yielded before the directory is descended into, so a parent always reaches the host before its
children, and the output queue is bounded. This module holds what is fs's own: the records of
an entry, excludes, one-fs.
"""

from __future__ import annotations

import grp
import logging
import os
import pwd
import stat
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial

import pathspec

from kloset_sdk import FileInfo, Record
from kloset_sdk.walk import Descend, parallel_walk

from . import xattrs
from .fdread import FdChunks

log = logging.getLogger(__name__)


class NameCache:
    """uid/gid -> name, looked up once each (NSS lookups can hit LDAP or files per call)."""

    def __init__(self) -> None:
        self._users: dict[int, str] = {}
        self._groups: dict[int, str] = {}
        self._lock = threading.Lock()

    def user(self, uid: int) -> str:
        with self._lock:
            if uid not in self._users:
                try:
                    self._users[uid] = pwd.getpwuid(uid).pw_name
                except KeyError:
                    self._users[uid] = ""
            return self._users[uid]

    def group(self, gid: int) -> str:
        with self._lock:
            if gid not in self._groups:
                try:
                    self._groups[gid] = grp.getgrgid(gid).gr_name
                except KeyError:
                    self._groups[gid] = ""
            return self._groups[gid]


class Excludes:
    """Gitignore rules (with `!` negation) matched on absolute paths, as kloset's host does.

    A directory is tested with a trailing slash so `build/` matches it; an excluded directory
    is not entered, so (as in git) a negation cannot bring back a file below it.
    """

    def __init__(self, patterns: Sequence[str]) -> None:
        lines = [p for p in patterns if p.strip()]
        self._spec = pathspec.GitIgnoreSpec.from_lines(lines) if lines else None

    def __call__(self, path: str, is_dir: bool) -> bool:
        if self._spec is None or path == "/":
            return False
        rel = path.lstrip("/") + ("/" if is_dir else "")
        return bool(self._spec.match_file(rel))


@dataclass(frozen=True)
class WalkConfig:
    workers: int
    excludes: Excludes
    one_fs: bool
    with_xattrs: bool


def open_file(path: str) -> FdChunks:
    """Open lazily, when the host asks: never through a symlink, never blocking on a FIFO."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path}: no longer a regular file")
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
    except BaseException:
        os.close(fd)
        raise
    return FdChunks(fd)


def _wire_safe(path: str) -> str | None:
    """None if `path` can go on the wire; else a printable form (proto strings are UTF-8)."""
    try:
        path.encode("utf-8")
        return None
    except UnicodeEncodeError:
        return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def entry_records(
    path: str, st: os.stat_result, names: NameCache, with_xattrs: bool
) -> list[Record]:
    """The record of one entry, then one lazily-read record per xattr of its own."""
    shown = _wire_safe(path)
    if shown is not None:
        return [Record.failure(shown, "name is not valid UTF-8; entry skipped")]
    out: list[Record] = []
    info = FileInfo.from_stat(
        os.path.basename(path) or "/", st, names.user(st.st_uid), names.group(st.st_gid)
    )
    found: list[str] = []
    if with_xattrs:
        try:
            found = xattrs.list_names(path)
        except OSError as exc:  # keep the entry itself: its data matters more (Go does the same)
            out.append(Record.failure(path, f"listxattr: {exc.strerror or exc}"))
    fmt = stat.S_IFMT(st.st_mode)
    if fmt == stat.S_IFDIR:
        rec = Record.directory(path, info, xattrs=found)
    elif fmt == stat.S_IFLNK:
        try:
            target = os.readlink(path)
        except OSError as exc:
            return [*out, Record.failure(path, exc)]
        if _wire_safe(target) is not None:
            return [*out, Record.failure(path, "symlink target is not valid UTF-8")]
        rec = Record.symlink(path, info, target, xattrs=found)
    elif fmt == stat.S_IFREG:
        rec = Record.file(path, info, partial(open_file, path), xattrs=found)
    else:
        if fmt in (stat.S_IFCHR, stat.S_IFBLK) and st.st_rdev <= 0xFFFFFFFF:
            # FileInfo has no rdev field; carry it in `flags` so the exporter can mknod it.
            info.flags = st.st_rdev
        rec = Record.other(path, info)
        rec.xattrs = found
    out.append(rec)
    out.extend(Record.xattr(path, n, partial(xattrs.reader, path, n)) for n in found)
    return out


def parent_records(path: str, names: NameCache) -> list[Record]:
    """Records for every ancestor of `path`, `/` first (the Go fs importer emits them too)."""
    chain: list[str] = []
    cur = path
    while (up := os.path.dirname(cur)) != cur:
        chain.append(up)
        cur = up
    out: list[Record] = []
    for p in reversed(chain):
        try:
            st = os.lstat(p)
        except OSError as exc:
            out.append(Record.failure(p, exc))
            out.append(Record.directory(p, FileInfo(os.path.basename(p) or "/", mode=0o755)))
            continue
        out.extend(entry_records(p, st, names, with_xattrs=False))
    return out


class Walker:
    """Walk `root` with `cfg.workers` threads; iterate `records()` once."""

    def __init__(self, root: str, cfg: WalkConfig, names: NameCache) -> None:
        self.root = root
        self.cfg = cfg
        self.names = names
        self._root_dev = 0

    def records(self) -> Iterator[Record]:
        try:
            st = os.lstat(self.root)
        except OSError as exc:
            yield Record.failure(self.root, exc)
            return
        self._root_dev = st.st_dev
        yield from entry_records(self.root, st, self.names, self.cfg.with_xattrs)
        if not stat.S_ISDIR(st.st_mode):
            return
        yield from parallel_walk(
            [self.root], self._list, on_error=_failed, workers=self.cfg.workers, name="fs-walk"
        )

    def _list(self, path: str) -> Iterator[Record | Descend[str]]:
        try:
            with os.scandir(path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            yield Record.failure(path, exc)
            return
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                if self.cfg.excludes(entry.path, is_dir):
                    continue
                st = entry.stat(follow_symlinks=False)
            except OSError as exc:
                yield Record.failure(entry.path, exc)
                continue
            yield from entry_records(entry.path, st, self.names, self.cfg.with_xattrs)
            if stat.S_ISDIR(st.st_mode) and _wire_safe(entry.path) is None:
                if self.cfg.one_fs and st.st_dev != self._root_dev:
                    log.debug("walk: %s is another filesystem; not entered", entry.path)
                    continue
                yield Descend(entry.path)


def _failed(path: str, exc: Exception) -> list[Record]:
    """A bug while listing a directory must not end the walk: report it there."""
    log.exception("walk: unexpected failure in %s", path, exc_info=exc)
    return [Record.failure(path, exc)]
