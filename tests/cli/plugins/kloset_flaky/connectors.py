"""The flaky connectors: a fixed tree with three kinds of failure."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from kloset_sdk import ChunkStream, Exporter, FileInfo, Identity, Record, modes, parse_location
from kloset_sdk.examples.tree import TreeImporter, TreeOptions

MiB = 1 << 20


def _info(name: str, size: int, directory: bool = False) -> FileInfo:
    mode = (0o755 | modes.MODE_DIR) if directory else 0o644
    return FileInfo(name=name, size=size, mode=mode, mtime_ns=1_700_000_000 * 10**9)


def _broken() -> Iterator[bytes]:
    yield os.urandom(MiB)
    yield os.urandom(MiB)
    raise OSError("disk went away")


class FlakyImporter(TreeImporter):
    type_name = "flaky"

    def identity(self) -> Identity:
        return Identity("localhost", "flaky", "/")

    def records(self) -> Iterator[Record]:
        yield Record.directory("/", _info("/", 0, True))
        yield Record.file("/ok.txt", _info("ok.txt", 5), lambda: b"hello")
        yield Record.failure("/unreadable", "permission denied")
        yield Record.file("/midfail.bin", _info("midfail.bin", 3 * MiB), _broken)
        yield Record.file("/reject-me.txt", _info("reject-me.txt", 3), lambda: b"abc")
        yield Record.file("/after.txt", _info("after.txt", 6), lambda: b"after!")


class FlakyExporter(Exporter[TreeOptions]):
    """Writes into the directory of `flaky:///dir`, except names containing "reject"."""

    options_class = TreeOptions
    type_name = "flaky"

    def export(self, record: Record, content: ChunkStream | None) -> None:
        if "reject" in record.pathname:
            raise PermissionError(f"{record.pathname}: refused by the destination")
        root = parse_location(self.opts.location).path
        target = os.path.join(root, record.pathname.lstrip("/"))
        if record.is_dir:
            os.makedirs(target, exist_ok=True)
        elif content is not None:
            data = b"".join(content)  # raises if the stream ends without the terminator
            with open(target, "wb") as f:
                f.write(data)


def _slow_content() -> Iterator[bytes]:
    time.sleep(0.1)
    yield b"x" * 1000


class SlowImporter(TreeImporter):
    type_name = "slow"

    def identity(self) -> Identity:
        return Identity("localhost", "slow", "/")

    def records(self) -> Iterator[Record]:
        yield Record.directory("/", _info("/", 0, True))
        for i in range(1000):
            yield Record.file(f"/f{i:04d}", _info(f"f{i:04d}", 1000), _slow_content)
