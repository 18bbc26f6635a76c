"""Example storage keeping a repository in memory (`mem://<name>`), lost at exit."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from kloset_sdk import (
    AlreadyExists,
    ChunkStream,
    NotFound,
    Resource,
    Storage,
    option,
    serve,
)


@dataclass(frozen=True)
class MemOptions:
    location: str = option(required=True, help="mem://<name>")


class MemStorage(Storage[MemOptions]):
    options_class = MemOptions
    type_name = "mem"

    def __init__(self, opts: MemOptions, ctx: object) -> None:
        super().__init__(opts, ctx)  # type: ignore[arg-type]
        self._config: bytes | None = None
        self._objects: dict[tuple[Resource, bytes], bytes] = {}
        self._lock = threading.Lock()

    def create(self, config: bytes) -> None:
        if self._config is not None:
            raise AlreadyExists(f"{self.opts.location}: repository already exists")
        self._config = config

    def open(self) -> bytes:
        if self._config is None:
            raise NotFound(f"{self.opts.location}: no repository here")
        return self._config

    def size(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._objects.values())

    def list(self, res: Resource) -> Iterable[bytes]:
        with self._lock:
            return [mac for (r, mac) in self._objects if r == res]

    def put(self, res: Resource, mac: bytes, data: ChunkStream, flags: int) -> int:
        blob = data.readall()  # raises if the host goes away first: nothing stored then
        with self._lock:
            self._objects[(res, mac)] = blob
        return len(blob)

    def get(self, res: Resource, mac: bytes, offset: int | None, length: int | None) -> bytes:
        with self._lock:
            blob = self._objects.get((res, mac))
        if blob is None:
            raise NotFound(f"{res.name.lower()} {mac.hex()}: not found")
        if offset is None:
            return blob
        return blob[offset : offset + (length or 0)]

    def delete(self, res: Resource, mac: bytes) -> None:
        with self._lock:
            if self._objects.pop((res, mac), None) is None:
                raise NotFound(f"{res.name.lower()} {mac.hex()}: not found")


if __name__ == "__main__":
    serve("storage", MemStorage)
