"""FsImporter: back up a local directory with every POSIX detail the OS gives.

Pathnames are the real absolute paths, ancestors of the root included, as Plakar's own fs
importer sends them: the snapshot then shows `/home/me/src/...`, and sources from this plugin
and from the Go one line up. Content and xattr values are read only when the host Opens them.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

from kloset_sdk import ConfigError, Flag, Importer, InitContext, Record

from .connection import FsConnection
from .options import DEFAULT_WORKERS, MAX_WORKERS, PROTO, FsOptions
from .walk import Excludes, NameCache, WalkConfig, Walker, parent_records


class FsImporter(FsConnection, Importer[FsOptions]):
    type_name = PROTO
    flags = Flag.LOCALFS

    def __init__(self, opts: FsOptions, ctx: InitContext) -> None:
        super().__init__(opts, ctx)
        try:
            os.lstat(self.root)
        except OSError as exc:
            raise ConfigError("location", f"{self.root}: {exc.strerror or exc}") from None
        # A symlinked root is walked where it points (as the Go importer does), and the link
        # itself is recorded too, so the snapshot explains where the tree came from.
        self.walk_root = os.path.realpath(self.root) if os.path.islink(self.root) else self.root
        try:
            excludes = Excludes([*ctx.excludes, *opts.excludes])
        except Exception as exc:  # pathspec raises several types
            raise ConfigError("excludes", f"invalid pattern: {exc}") from None
        workers = opts.concurrency or ctx.maxconcurrency or DEFAULT_WORKERS
        self.cfg = WalkConfig(
            workers=max(1, min(workers, MAX_WORKERS)),
            excludes=excludes,
            one_fs=opts.dont_traverse_fs,
            with_xattrs=not ctx.noxattr,
        )

    def _origin(self) -> str:
        return self.ctx.hostname or socket.gethostname() or "localhost"

    def records(self) -> Iterator[Record]:
        names = NameCache()
        seen: set[str] = set()
        ancestors = parent_records(self.walk_root, names)
        if self.walk_root != self.root:
            ancestors += parent_records(self.root, names)
            ancestors += Walker(self.root, self.cfg, names).records()  # the link alone
        for rec in ancestors:
            if rec.error or rec.key not in seen:
                seen.add(rec.key)
                yield rec
        yield from Walker(self.walk_root, self.cfg, names).records()
