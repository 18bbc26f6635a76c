"""ObjectStore: a backend written only as its primitives gets the whole Storage and layout.

`DirStore` below is that backend (a directory, no durability care): the shared storage
conformance suite runs against it as a plugin (`python -m tests.sdk.test_objectstore`), and
a few in-process checks look at the keys it was handed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from kloset_sdk import (
    AlreadyExists,
    ChunkStream,
    Fatal,
    InitContext,
    NotFound,
    Resource,
    option,
    serve,
)
from kloset_sdk.objectstore import ObjectStore, chunk_stream
from kloset_sdk.testing import StorageConformance, StorageLifecycle


@dataclass(frozen=True)
class DirOptions:
    location: str = option(required=True, help="dirstore://<path>")


class DirStore(ObjectStore[DirOptions]):
    options_class = DirOptions
    type_name = "dirstore"
    resources = frozenset({Resource.PACKFILE, Resource.STATE, Resource.LOCK})

    def __init__(self, opts: DirOptions, ctx: InitContext) -> None:
        super().__init__(opts, ctx)
        self.root = Path(opts.location.removeprefix("dirstore://"))

    def claim(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if any(self.root.iterdir()):
            raise AlreadyExists(f"{self.root} is not empty")

    def make_dirs(self, dirs: Sequence[str]) -> None:
        for d in dirs:
            (self.root / d).mkdir(exist_ok=True)

    def write(self, key: str, data: ChunkStream) -> int:
        blob = data.readall()  # raises if the host went away: nothing is written then
        tmp = self.root / f"{key}.tmp"
        tmp.write_bytes(blob)
        os.replace(tmp, self.root / key)
        return len(blob)

    def read(self, key: str, offset: int | None, length: int | None) -> bytes:
        try:
            blob = (self.root / key).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"{key}: not found") from None
        return blob if offset is None else blob[offset : offset + (length or 0)]

    def names(self, directory: str) -> Iterable[str]:
        d = self.root / directory
        return [p.name for p in d.iterdir() if p.is_file()] if d.is_dir() else []

    def remove(self, key: str) -> None:
        try:
            (self.root / key).unlink()
        except FileNotFoundError:
            raise NotFound(f"{key}: not found") from None

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())


class TestDirStore(StorageConformance, StorageLifecycle):
    proto = "dirstore"

    @pytest.fixture(scope="class")
    @classmethod
    def storage_argv(cls) -> list[str]:
        return [sys.executable, "-m", "tests.sdk.test_objectstore"]

    @pytest.fixture(scope="class")
    @classmethod
    def storage_config(cls, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
        return {"location": f"dirstore://{tmp_path_factory.mktemp('objectstore')}/repo"}


def _store(root: Path) -> DirStore:
    cfg = {"location": f"dirstore://{root}"}
    return DirStore(DirOptions(cfg["location"]), InitContext("storage", "dirstore", cfg))


def test_layout_from_the_primitives(tmp_path: Path) -> None:
    store = _store(tmp_path / "repo")
    with pytest.raises(NotFound, match="no repository here"):
        store.open()
    store.create(b"cfg")
    assert store.open() == b"cfg"
    with pytest.raises(AlreadyExists):
        store.create(b"again")
    mac = bytes(range(32))
    assert store.put(Resource.PACKFILE, mac, chunk_stream(b"pack"), 0) == 4
    assert store.put(Resource.LOCK, mac, chunk_stream(b"lock"), 0) == 4
    root = tmp_path / "repo"
    assert sorted(os.listdir(root)) == ["CONFIG", "locks", "packfiles", "states"]
    assert len(os.listdir(root / "states")) == 256
    assert (root / "packfiles" / "00" / mac.hex()).read_bytes() == b"pack"
    assert (root / "locks" / mac.hex()).read_bytes() == b"lock"
    (root / "locks" / "not-a-mac").write_bytes(b"stray")
    assert store.list(Resource.LOCK) == [mac]
    assert store.list(Resource.STATE) == []
    assert store.get(Resource.PACKFILE, mac, 1, 2) == b"ac"
    store.delete(Resource.PACKFILE, mac)
    with pytest.raises(NotFound):
        store.get(Resource.PACKFILE, mac, None, None)
    with pytest.raises(Fatal, match="keeps only packfiles, states, locks"):
        store.put(Resource.ECC_PACKFILE, mac, chunk_stream(b"ecc"), 0)
    with pytest.raises(Fatal, match="list ecc_state"):
        store.list(Resource.ECC_STATE)


if __name__ == "__main__":
    serve("storage", DirStore)
