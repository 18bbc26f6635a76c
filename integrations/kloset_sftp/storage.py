"""A Plakar repository in a directory on an SFTP server (docs/PROTOCOL.md: Storage, Reference store
layouts).

The layout is the Go fs/sftp stores' (`kloset_sdk.objectstore` maps it onto the primitives
below), so a repository created by the Go sftp integration opens here and the other way round.
Unlike the Go store, every object is written to a temporary name, flushed to the server's disk
with `fsync@openssh.com` when the server offers it, and only then renamed into place with
`posix-rename@openssh.com`; a Put the host abandons, or a dropped connection, leaves no object
behind (temporary names never parse as a MAC, so List skips any leftover). Listing and sizing
fan out over the channel pool.
"""

from __future__ import annotations

import logging
import posixpath
import re
import secrets
import stat
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from paramiko.sftp_attr import SFTPAttributes

from kloset_sdk import AlreadyExists, ChunkStream, Identity, InitContext, KlosetError, NotFound
from kloset_sdk.layout import CONFIG, LISTED, shard_dirs
from kloset_sdk.objectstore import ObjectStore

from .channel import Channel
from .client import ConnectionGone
from .connection import SFTPConnection
from .options import DEFAULT_CONCURRENCY, SFTPOptions
from .streams import RemoteReader, upload

log = logging.getLogger(__name__)
T = TypeVar("T")
STALE_AFTER = 3600
_TEMP = re.compile(r"[0-9a-f]{64}\.tmp-[0-9a-f]{12}")
R = TypeVar("R")


def temp_name(path: str) -> str:
    return f"{path}.tmp-{secrets.token_hex(6)}"


class SFTPStorage(SFTPConnection, ObjectStore[SFTPOptions]):
    type_name = "sftp"
    resources = frozenset(LISTED)
    # Plakar's Create or Open follows Init at once and fails cleanly on its own: the SSH
    # handshake (about 100 ms of the server forking and the key exchange) overlaps Init's
    # answer instead of delaying it.
    connect_at_init = False

    @staticmethod
    def _default_concurrency(ctx: InitContext) -> int:
        return DEFAULT_CONCURRENCY  # a store ignores the host's job count

    def identity(self) -> Identity:
        ep = self.session.endpoint
        return Identity(origin=ep.origin, type=self.type_name, root=ep.root)

    def fan_out(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """fn over items on the pool; once the connection is found gone for good, the items
        not started yet fail at once (a List must not try 256 reconnects)."""
        gone: list[ConnectionGone] = []

        def task(item: T) -> R:
            if gone:
                raise gone[0]
            try:
                return fn(item)
            except ConnectionGone as exc:
                gone.append(exc)
                raise

        pool = ThreadPoolExecutor(self.session.concurrency, "sftp-storage")
        try:
            return list(pool.map(task, items))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    # -- create / open ------------------------------------------------------------------------
    def claim(self) -> None:
        root = self.session.root

        def prepare(ch: Channel) -> None:
            try:
                entries = ch.listdir(root)
            except FileNotFoundError:
                _makedirs(ch, root)
                ch.chmod(root, 0o700)
                return
            if entries:
                raise AlreadyExists(f"{root}: directory is not empty, refusing to create here")

        self.session.run(prepare, f"create {root}")

    def make_dirs(self, dirs: Sequence[str]) -> None:
        """One fan-out per depth, so parents exist before their children."""
        for depth in sorted({d.count("/") for d in dirs}):
            self.fan_out(self._mkdir, [d for d in dirs if d.count("/") == depth])

    def _mkdir(self, rel: str) -> None:
        path = self.session.path(rel)
        self.session.run(lambda ch: _mkdir(ch, path), f"mkdir {path}")

    def no_repository(self, exc: NotFound) -> NotFound:
        return NotFound(f"{self.session.path(CONFIG)}: no repository here (no CONFIG file)")

    # -- objects ------------------------------------------------------------------------------
    def write(self, key: str, data: ChunkStream) -> int:
        final = self.session.path(key)
        return upload(self.session, temp_name(final), final, data, fsync=True)

    def read(self, key: str, offset: int | None, length: int | None) -> RemoteReader:
        # Opened here, so an unknown MAC fails as NotFound before any byte (§9 item 38).
        return RemoteReader(self.session, self.session.path(key), offset or 0, length).open()

    def remove(self, key: str) -> None:
        path = self.session.path(key)
        attempts = []

        def remove(ch: Channel) -> None:
            attempts.append(1)
            try:
                ch.remove(path)
            except FileNotFoundError:
                if len(attempts) == 1:
                    raise
                # retried after a dropped connection: the first attempt got there first

        self.session.run(remove, f"delete {path}")

    def _attrs(self, path: str) -> list[SFTPAttributes]:
        try:
            return self.session.run(lambda ch: ch.listdir_attr(path), f"list {path}")
        except NotFound:
            return []

    def names(self, directory: str) -> Iterable[str]:
        path = self.session.path(directory)
        attrs = self._attrs(path)
        stale = [a.filename for a in attrs if _stale_temp(a)]
        if stale:
            self._remove_stale(path, stale)
        return [a.filename for a in attrs]

    def _remove_stale(self, path: str, names: Sequence[str]) -> None:
        """Temporary files of Puts killed over an hour ago (P15): never listed, but they take
        space; a Put still running has written to its file within the hour."""

        def remove(ch: Channel) -> None:
            for name in names:
                try:
                    ch.remove(posixpath.join(path, name))
                except OSError:
                    pass

        try:
            self.session.run(remove, f"clean {path}", idempotent=False)
        except KlosetError as exc:
            log.info("could not remove stale temporary files in %s: %s", path, exc)

    def size(self) -> int:
        dirs = [d for r in LISTED for d in shard_dirs(r)]

        def used(d: str) -> int:
            attrs = self._attrs(self.session.path(d))
            return sum(a.st_size or 0 for a in attrs if stat.S_ISREG(a.st_mode or 0))

        config = self.session.path(CONFIG)
        try:
            total = self.session.run(lambda ch: ch.stat(config).st_size or 0, f"stat {config}")
        except NotFound:
            total = 0
        return total + sum(self.fan_out(used, dirs))


def _stale_temp(a: SFTPAttributes) -> bool:
    return bool(
        _TEMP.fullmatch(a.filename)
        and stat.S_ISREG(a.st_mode or 0)
        and (a.st_mtime or 0) < time.time() - STALE_AFTER
    )


def _mkdir(ch: Channel, path: str) -> None:
    try:
        ch.mkdir(path, 0o700)
    except OSError:
        if not stat.S_ISDIR(ch.lstat(path).st_mode or 0):
            raise


def _makedirs(ch: Channel, path: str) -> None:
    parent = posixpath.dirname(path)
    if parent and parent != path:
        try:
            ch.lstat(parent)
        except FileNotFoundError:
            _makedirs(ch, parent)
    _mkdir(ch, path)
