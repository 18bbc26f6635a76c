"""An importer whose every entry carries an xattr, including the entries that fail.

`/unreadable` is an error record, `/openfail.bin` cannot be opened, `/midfail.bin` breaks after
2 MiB (the copy goes on in a new Export stream); the xattr records follow each entry, as the
fs importer sends them, and the copy holds them back until after the tree.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from kloset_sdk import FileInfo, Identity, Record, modes
from kloset_sdk.examples.tree import TreeImporter

MiB = 1 << 20


def _info(name: str, size: int, directory: bool = False) -> FileInfo:
    mode = (0o755 | modes.MODE_DIR) if directory else 0o644
    return FileInfo(name=name, size=size, mode=mode, mtime_ns=1_700_000_000 * 10**9)


def _broken() -> Iterator[bytes]:
    yield os.urandom(MiB)
    yield os.urandom(MiB)
    raise OSError("disk went away")


def _unopenable() -> bytes:
    raise PermissionError("/openfail.bin: permission denied")


def _value(text: str) -> bytes:
    return text.encode()


class XattrImporter(TreeImporter):
    type_name = "xattrs"

    def identity(self) -> Identity:
        return Identity("localhost", "xattrs", "/")

    def records(self) -> Iterator[Record]:
        def x(path: str, name: str) -> Record:
            return Record.xattr(path, name, lambda: _value(f"{name} of {path}"))

        yield Record.directory("/", _info("/", 0, True), xattrs=["user.root"])
        yield x("/", "user.root")
        yield Record.file("/ok.txt", _info("ok.txt", 5), lambda: b"hello", xattrs=["user.ok"])
        yield x("/ok.txt", "user.ok")
        yield Record.failure("/unreadable", "permission denied")
        yield x("/unreadable", "user.unreadable")
        yield Record.file("/openfail.bin", _info("openfail.bin", 9), _unopenable)
        yield x("/openfail.bin", "user.openfail")
        yield Record.file("/midfail.bin", _info("midfail.bin", 3 * MiB), _broken)
        yield x("/midfail.bin", "user.midfail")
        yield Record.file("/after.txt", _info("after.txt", 6), lambda: b"after!")
        yield x("/after.txt", "user.after")
