"""The conformance suites run against the SDK's example plugins (issue 2, item 6)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conformance.exporter import ExporterConformance
from tests.conformance.importer import ImporterConformance
from tests.conformance.storage import StorageConformance, StorageLifecycle
from tests.conftest import example_argv

MiB = 1 << 20


class TestMemStorage(StorageConformance, StorageLifecycle):
    proto = "mem"

    @pytest.fixture(scope="class")
    @classmethod
    def storage_argv(cls) -> list[str]:
        return example_argv("memstore")

    @pytest.fixture(scope="class")
    @classmethod
    def storage_config(cls) -> dict[str, str]:
        return {"location": "mem://conformance"}


def _tree(root: Path) -> dict[str, bytes]:
    files = {
        "/a.txt": b"hello\n",
        "/empty": b"",
        "/one": b"1",
        "/sub dir/ünïcode ✓.bin": os.urandom(MiB),
        "/sub dir/deeper/big.bin": os.urandom(3 * MiB + 7),
    }
    for rel, data in files.items():
        p = root / rel.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    (root / "link").symlink_to("a.txt")
    os.setxattr(root / "a.txt", "user.example", b"value")
    return files


class TestTreeImporter(ImporterConformance):
    proto = "tree"

    @pytest.fixture(scope="class")
    @classmethod
    def source(cls, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
        root = tmp_path_factory.mktemp("tree-src")
        return root, _tree(root)

    @pytest.fixture(scope="class")
    @classmethod
    def importer_argv(cls) -> list[str]:
        return example_argv("tree", "importer")

    @pytest.fixture(scope="class")
    @classmethod
    def importer_config(cls, source: tuple[Path, dict[str, bytes]]) -> dict[str, str]:
        return {"location": f"tree://{source[0]}"}

    @pytest.fixture(scope="class")
    @classmethod
    def expected_files(cls, source: tuple[Path, dict[str, bytes]]) -> dict[str, bytes]:
        return source[1]


class TestTreeExporter(ExporterConformance):
    proto = "tree"

    @pytest.fixture(scope="class")
    @classmethod
    def target(cls, tmp_path_factory: pytest.TempPathFactory) -> Path:
        return tmp_path_factory.mktemp("tree-dst")

    @pytest.fixture(scope="class")
    @classmethod
    def exporter_argv(cls) -> list[str]:
        return example_argv("tree", "exporter")

    @pytest.fixture(scope="class")
    @classmethod
    def exporter_config(cls, target: Path) -> dict[str, str]:
        return {"location": f"tree://{target}"}

    @pytest.fixture(scope="class")
    @classmethod
    def read_back(cls, target: Path) -> Callable[[str], bytes | None]:
        def read(path: str) -> bytes | None:
            p = target / path.lstrip("/")
            return p.read_bytes() if p.is_file() else None

        return read
