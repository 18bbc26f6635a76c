"""Connectors that end their own process in the middle of a call, as a crashing plugin does.

The importer sends two records and dies once the host acked the second; the exporter dies on
its second record; the storage dies in Create. `os._exit` skips every cleanup: the host sees
the pipes close, nothing else.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

from kloset_sdk import ChunkStream, Exporter, FileInfo, Identity, Record, modes
from kloset_sdk.examples.memstore import MemStorage
from kloset_sdk.examples.tree import TreeImporter, TreeOptions

EXIT = 3


def _info(name: str, size: int, directory: bool = False) -> FileInfo:
    mode = (0o755 | modes.MODE_DIR) if directory else 0o644
    return FileInfo(name=name, size=size, mode=mode, mtime_ns=1_700_000_000 * 10**9)


class CrashyImporter(TreeImporter):
    type_name = "crashy"

    def identity(self) -> Identity:
        return Identity("localhost", "crashy", "/")

    wants_acks = True

    def records(self) -> Iterator[Record]:
        yield Record.directory("/", _info("/", 0, True))
        yield Record.file("/first.txt", _info("first.txt", 5), lambda: b"hello")
        threading.Event().wait()  # the Import stays open: the process ends in ack() below

    def ack(self, record: Record, error: str) -> None:
        if record.pathname == "/first.txt":  # the host has it: dying now cannot lose it
            os._exit(EXIT)


class CrashyExporter(Exporter[TreeOptions]):
    options_class = TreeOptions
    type_name = "crashy"

    def __init__(self, opts: TreeOptions, ctx: object) -> None:
        super().__init__(opts, ctx)  # type: ignore[arg-type]
        self.seen = 0

    def export(self, record: Record, content: ChunkStream | None) -> None:
        if content is not None:
            content.readall()
        self.seen += 1
        if self.seen == 2:
            os._exit(EXIT)


class CrashyStorage(MemStorage):
    type_name = "crashy"

    def create(self, config: bytes) -> None:
        os._exit(EXIT)
