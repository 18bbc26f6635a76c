"""Back up a directory tree from an SFTP server (docs/PROTOCOL.md: Importer).

The walk (kloset_sdk.walk) lists directories in parallel on the channel pool (`listdir_attr`
gives every entry's attributes with the listing, so there is no stat per file), emits each
directory's record from its parent's listing before listing it (parents before children), and
turns per-path failures into error records. Contents are read lazily, when the host Opens a file,
through the bounded read pipeline.

What SFTP version 3 (OpenSSH) tells us, and so what the records hold: size, permissions with
setuid/setgid/sticky and the file type, mtime in whole seconds, uid and gid, and the names of
those ids when the server offers `users-groups-by-id@openssh.com`. It gives no inode, device
or link count, so hard links cannot be detected: each link is backed up as its own file
(kloset deduplicates the content) and `nlink` is reported as 1, never a guess. Reporting a
link count without inode numbers would make exporters that pair links by dev:ino (the Go fs
and sftp ones) link unrelated files together.
"""

from __future__ import annotations

import logging
import posixpath
import stat
import threading
from collections.abc import Callable, Iterator

from paramiko.sftp_attr import SFTPAttributes

from kloset_sdk import FileInfo, Importer, InitContext, KlosetError, Record, modes
from kloset_sdk.walk import Descend, parallel_walk

from .channel import Channel
from .client import ConnectionGone
from .connection import SFTPConnection
from .options import SFTPOptions
from .streams import RemoteReader

log = logging.getLogger(__name__)


class _Names:
    """uid/gid -> name, asked once per id for the whole walk."""

    def __init__(self) -> None:
        self._users: dict[int, str] = {}
        self._groups: dict[int, str] = {}
        self._lock = threading.Lock()

    def fill(self, ch: Channel, attrs: list[SFTPAttributes]) -> None:
        with self._lock:
            uids = sorted({a.st_uid for a in attrs if a.st_uid is not None} - set(self._users))
            gids = sorted({a.st_gid for a in attrs if a.st_gid is not None} - set(self._groups))
        if not uids and not gids:
            return
        try:
            users, groups = ch.names_by_id(uids, gids)
        except (OSError, EOFError) as exc:
            log.debug("users-groups-by-id failed: %s", exc)
            users, groups = [""] * len(uids), [""] * len(gids)
        with self._lock:
            self._users.update(zip(uids, users, strict=False))
            self._groups.update(zip(gids, groups, strict=False))

    def user(self, uid: int | None) -> str:
        return self._users.get(uid, "") if uid is not None else ""

    def group(self, gid: int | None) -> str:
        return self._groups.get(gid, "") if gid is not None else ""


class SFTPImporter(SFTPConnection, Importer[SFTPOptions]):
    type_name = "sftp"

    def __init__(self, opts: SFTPOptions, ctx: InitContext) -> None:
        super().__init__(opts, ctx)
        self._names = _Names()
        # A missing or unreachable root fails Init (as Plakar's fs importer does), not the
        # walk: a backup of nothing would otherwise complete "with 1 error".
        self.ping()

    # -- records ------------------------------------------------------------------------------
    def _info(self, name: str, a: SFTPAttributes) -> FileInfo:
        return FileInfo(
            name=name,
            size=a.st_size or 0,
            mode=modes.from_st_mode(a.st_mode or 0),
            mtime_ns=int(a.st_mtime or 0) * 1_000_000_000,
            uid=a.st_uid or 0,
            gid=a.st_gid or 0,
            nlink=1,
            username=self._names.user(a.st_uid),
            groupname=self._names.group(a.st_gid),
        )

    def _record(self, ch: Channel, path: str, a: SFTPAttributes) -> Record:
        info = self._info(posixpath.basename(path) or "/", a)
        kind = stat.S_IFMT(a.st_mode or 0)
        if kind == stat.S_IFDIR:
            return Record.directory(path, info)
        if kind == stat.S_IFLNK:
            try:
                return Record.symlink(path, info, ch.readlink(path) or "")
            except OSError as exc:
                return Record.failure(path, f"readlink {path}: {exc.strerror or exc}")
        if kind == stat.S_IFREG:
            size = info.size
            return Record.file(
                path, info, lambda: RemoteReader(self.session, path, hint=size).open()
            )
        return Record.other(path, info)

    def _top(self, ch: Channel, root: str) -> Record:
        # stat, not lstat: a root that is a symlink to a directory is followed, since the
        # user named that tree.
        a = ch.stat(root)
        self._names.fill(ch, [a])
        return self._record(ch, root, a)

    def _list(self, path: str) -> list[Record | Descend[str]]:
        """One directory: its entries' records, then the subdirectories to walk next."""

        def work(ch: Channel) -> list[Record | Descend[str]]:
            attrs = ch.listdir_attr(path)
            self._names.fill(ch, attrs)
            recs: list[Record | Descend[str]] = []
            subdirs: list[Record | Descend[str]] = []
            for a in sorted(attrs, key=lambda x: x.filename):
                child = posixpath.join(path, a.filename)
                recs.append(self._record(ch, child, a))
                if stat.S_ISDIR(a.st_mode or 0):
                    subdirs.append(Descend(child))
            return recs + subdirs

        return self.session.run(work, f"list {path}")

    @staticmethod
    def _failed(path: str, exc: Exception) -> list[Record]:
        if isinstance(exc, ConnectionGone) or not isinstance(exc, KlosetError):
            raise exc  # ends the Import: the rest of the tree cannot be read either
        return [Record.failure(path, exc)]

    def _parents(self, root: str) -> Iterator[Record]:
        """The directories above the root, as the fs importer sends them (kloset needs them
        to place the root in its tree); a parent we may not stat gets a plain 0755 record."""
        parts = [p for p in root.split("/") if p]
        for i in range(len(parts)):
            path = "/" + "/".join(parts[:i])
            try:
                a = self.session.run(_stat(path), f"stat {path}")
                yield Record.directory(path, self._info(posixpath.basename(path) or "/", a))
            except KlosetError:
                info = FileInfo(name=posixpath.basename(path) or "/", mode=modes.DEFAULT_DIR_PERM)
                yield Record.directory(path, info)

    def records(self) -> Iterator[Record]:
        root = self.session.root
        yield from self._parents(root)
        try:
            top = self.session.run(lambda ch: self._top(ch, root), f"stat {root}")
        except KlosetError as exc:
            yield Record.failure(root, exc)
            return
        yield top
        if not top.is_dir:
            return
        yield from self._walk(root)

    def _walk(self, root: str) -> Iterator[Record]:
        jobs = self.session.concurrency
        yield from parallel_walk(
            [root], self._list, on_error=self._failed, workers=jobs, name="sftp-walk"
        )


def _stat(path: str) -> Callable[[Channel], SFTPAttributes]:
    return lambda ch: ch.stat(path)
