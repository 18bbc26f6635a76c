"""Restore a snapshot onto an SFTP server (docs/PROTOCOL.md: Exporter).

Each file is streamed to a temporary name beside its target; its owner, mode (with setuid,
setgid, sticky) and mtime are set on the open handle, and only then is it renamed into place.
The commit's round trips run on another pooled channel while the next file streams in.
Directories are created 0700 so their children can be written, and get their final mode and
mtime in `finish()`, deepest first, after all their children exist.

Nothing is written outside the target root: `..` components are refused, and every directory
on the way down is lstat'ed (or created by us) before use, so a symlink planted in the target
tree is never followed; the final component is replaced by rename, which does not follow
links either. SFTP offers no openat(), so a concurrent writer on the server could still swap
a checked directory for a link between our check and our write; run restores into trees that
others do not modify.

Ownership (`set_owner`): unset, chown is tried and a refusal (a non-root login) is ignored;
true makes a refused chown fail the file; false (the Go exporter's default) never tries.
`skip_permissions` (also Go's) creates files and directories with the server's umask and never
chmods them. Ids are numeric (SFTPv3 has no
names). Symlinks get their mtime and owner through `lsetstat@openssh.com` when offered. Hard
links (records with nlink > 1 and a dev:ino, e.g. from a local backup) are recreated with
`hardlink@openssh.com`; without it each link is written as its own copy. Devices, fifos and
sockets cannot be created over SFTP and are reported as errors.
"""

from __future__ import annotations

import logging
import posixpath
import secrets
import stat
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from paramiko.sftp_attr import SFTPAttributes

from kloset_sdk import (
    ChunkStream,
    Exporter,
    Fatal,
    InitContext,
    PermissionDenied,
    Record,
    modes,
)
from kloset_sdk.records import FileInfo

from .channel import Channel
from .connection import SFTPConnection
from .options import SFTPOptions
from .streams import Upload

log = logging.getLogger(__name__)
MAX_SFTP_TIME = 2**32 - 1  # SFTPv3 times are uint32 seconds


def times(info: FileInfo) -> tuple[int, int] | None:
    secs = info.mtime_ns // 1_000_000_000
    return (secs, secs) if 0 <= secs <= MAX_SFTP_TIME else None


class SFTPExporter(SFTPConnection, Exporter[SFTPOptions]):
    type_name = "sftp"

    def __init__(self, opts: SFTPOptions, ctx: InitContext) -> None:
        super().__init__(opts, ctx)
        self._commits = ThreadPoolExecutor(self.session.concurrency, "sftp-commit")
        self._dirs: list[tuple[Record, str]] = []
        self._checked: set[str] = set()
        self._links: dict[tuple[int, int], tuple[str, Future[None]]] = {}
        self._pending: list[Future[None]] = []

    def ping(self) -> None:
        """The target may not exist yet (the restore creates it); its parent must."""
        root = self.session.root

        def check(ch: Channel) -> None:
            try:
                ch.stat(root)
            except FileNotFoundError:
                ch.stat(posixpath.dirname(root))

        self.session.run(check, f"stat {root}")

    def close(self) -> None:
        self._commits.shutdown(wait=True)
        super().close()

    # -- paths --------------------------------------------------------------------------------
    def _target(self, pathname: str) -> str:
        parts = [p for p in pathname.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise Fatal(f"{pathname}: refusing a path with '..' (it would leave the target)")
        return posixpath.join(self.session.root, *parts)

    def _ensure_parents(self, ch: Channel, path: str) -> None:
        """Every directory from the root down to path's parent is a real directory."""
        root = self.session.root
        parent = posixpath.dirname(path)
        chain = []
        while parent != root and parent not in self._checked and parent.startswith(root):
            chain.append(parent)
            parent = posixpath.dirname(parent)
        if root not in self._checked:
            self._make_dir(ch, root, parents=True)
        for d in reversed(chain):
            self._make_dir(ch, d)

    def _make_dir(self, ch: Channel, path: str, parents: bool = False) -> None:
        try:
            a = ch.lstat(path)
        except FileNotFoundError:
            if parents and posixpath.dirname(path) != path:
                try:
                    ch.stat(posixpath.dirname(path))
                except FileNotFoundError:
                    self._make_dir(ch, posixpath.dirname(path), parents=True)
            ch.mkdir(path, 0o777 if self.opts.skip_permissions else 0o700)  # umask applies
        else:
            if path == self.session.root and stat.S_ISLNK(a.st_mode or 0):
                a = ch.stat(path)  # the target root itself may be a link: the user chose it
            if not stat.S_ISDIR(a.st_mode or 0):
                raise Fatal(f"{path}: exists and is not a directory (refusing to follow it)")
        self._checked.add(path)

    # -- records ------------------------------------------------------------------------------
    def export(self, record: Record, content: ChunkStream | None) -> Future[None] | None:
        if record.is_error or record.is_xattr:
            return None  # xattrs cannot be set over SFTP; we never ask for them (no EXPORTXATTR)
        info = record.info or FileInfo(name=posixpath.basename(record.pathname))
        path = self._target(record.pathname)
        if record.is_dir:
            self.session.run(lambda ch: self._directory(ch, path), f"mkdir {path}")
            self._dirs.append((record, path))
            return None
        if record.is_symlink:
            self.session.run(lambda ch: self._symlink(ch, path, record, info), f"symlink {path}")
            return None
        if not info.is_regular:
            raise Fatal(
                f"{record.pathname}: {modes.mode_string(info.mode)[0]!r} files (devices,"
                " fifos, sockets) cannot be created over SFTP"
            )
        self.session.run(lambda ch: self._ensure_parents(ch, path), f"mkdir {path}")
        link = self._hardlink_source(info)
        if link is not None:
            if content is not None:
                content.drain()
            fut = self._commits.submit(self._link, link, path, record, info)
            self._pending.append(fut)
            return fut
        mode = 0o666 if self.opts.skip_permissions else 0o600  # the server's umask applies
        finish = lambda ch, h: self._attrs(ch, h, info)  # noqa: E731
        up = Upload(self.session, _tmp(path), path, mode=mode, finish=finish)
        up.write_all(content if content is not None else ())
        fut = self._commits.submit(_commit, up)
        self._pending.append(fut)
        if info.nlink > 1 and (info.dev or info.ino):
            self._links[(info.dev, info.ino)] = (path, fut)
        return fut

    def _directory(self, ch: Channel, path: str) -> None:
        self._ensure_parents(ch, path)
        self._make_dir(ch, path)

    def _symlink(self, ch: Channel, path: str, record: Record, info: FileInfo) -> None:
        self._ensure_parents(ch, path)
        try:
            a = ch.lstat(path)
        except FileNotFoundError:
            pass
        else:
            if stat.S_ISDIR(a.st_mode or 0):
                raise Fatal(f"{path}: a directory is in the way of the symlink")
            ch.remove(path)
        ch.symlink(record.target, path)
        when = times(info)
        if when is not None:
            attr = SFTPAttributes()
            attr.st_atime, attr.st_mtime = when
            self._try(lambda: ch.lsetstat(path, attr), f"{path}: symlink mtime")
        self._chown(lambda a: ch.lsetstat(path, a), path, info)

    def _hardlink_source(self, info: FileInfo) -> tuple[str, Future[None]] | None:
        if info.nlink <= 1 or not (info.dev or info.ino):
            return None
        if not self.session.offers("hardlink@openssh.com"):
            return None  # each link becomes its own copy
        return self._links.get((info.dev, info.ino))

    def _link(
        self, source: tuple[str, Future[None]], path: str, record: Record, info: FileInfo
    ) -> None:
        first, fut = source
        fut.result()  # the first link's file must be complete before we link to it

        def link(ch: Channel) -> None:
            try:
                ch.remove(path)
            except FileNotFoundError:
                pass
            ch.hardlink(first, path)

        self.session.run(link, f"link {path}")

    def _attrs(self, ch: Channel, handle: bytes, info: FileInfo) -> None:
        self._chown(lambda a: ch.fsetstat(handle, a), info.name, info)
        attr = SFTPAttributes()
        if not self.opts.skip_permissions:
            attr.st_mode = modes.permissions(info.mode)  # after chown, which clears setuid
        when = times(info)
        if when is not None:
            attr.st_atime, attr.st_mtime = when
        ch.fsetstat(handle, attr)

    def _chown(
        self, setstat: Callable[[SFTPAttributes], object], path: str, info: FileInfo
    ) -> None:
        if self.opts.set_owner is False:
            return
        attr = SFTPAttributes()
        attr.st_uid, attr.st_gid = info.uid, info.gid
        try:
            setstat(attr)
        except OSError as exc:
            if self.opts.set_owner:
                raise PermissionDenied(
                    f"{path}: chown to {info.uid}:{info.gid} refused by the server"
                    f" ({exc.strerror or exc}); set_owner=true makes that an error"
                ) from None
            log.debug("%s: chown refused (%s), owner not restored", path, exc)

    @staticmethod
    def _try(fn: Callable[[], object], what: str) -> None:
        try:
            fn()
        except OSError as exc:
            log.debug("%s not restored: %s", what, exc)

    def finish(self) -> list[tuple[Record, str]]:
        """Directories last and deepest first: their mode may forbid writing children."""
        # A file committed after its directory's mtime was set would change that mtime again.
        # (The SDK reports each future's outcome; here we only wait.)
        for fut in self._pending:
            fut.exception()
        self._pending = []
        failed: list[tuple[Record, str]] = []
        by_depth: dict[int, list[tuple[Record, str]]] = {}
        for item in self._dirs:
            by_depth.setdefault(item[1].count("/"), []).append(item)
        self._dirs, self._links = [], {}

        def fix(item: tuple[Record, str]) -> tuple[Record, str] | None:
            record, path = item
            info = record.info or FileInfo(name=posixpath.basename(path), mode=0o755)
            try:
                self.session.run(lambda ch: self._fix_dir(ch, path, info), f"chmod {path}")
            except Exception as exc:  # reported per directory
                return record, str(exc)
            return None

        for depth in sorted(by_depth, reverse=True):  # one level at a time, in parallel
            failed += [r for r in self._commits.map(fix, by_depth[depth]) if r is not None]
        return failed

    def _fix_dir(self, ch: Channel, path: str, info: FileInfo) -> None:
        self._chown(lambda a: ch.setstat(path, a), path, info)
        attr = SFTPAttributes()
        if not self.opts.skip_permissions:
            attr.st_mode = modes.permissions(info.mode)
        when = times(info)
        if when is not None:
            attr.st_atime, attr.st_mtime = when
        ch.setstat(path, attr)


def _commit(up: Upload) -> None:
    up.commit()


def _tmp(path: str) -> str:
    head, tail = posixpath.split(path)
    return posixpath.join(head, f".{tail}.kloset-{secrets.token_hex(4)}")
