"""The shared conformance suites (docs/PROTOCOL.md) against the three posixfs connectors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kloset_sdk.testing import (
    ExporterConformance,
    ImporterConformance,
    StorageConformance,
    StorageLifecycle,
)
from kloset_sdk.testing.importer import write_tree
from tests.conformance.connector import Connector

MiB = 1 << 20


class TestFsImporter(Connector, ImporterConformance):
    connector = "fs"
    proto = "posixfs"

    @pytest.fixture(scope="class")
    @classmethod
    def source(cls, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
        root = tmp_path_factory.mktemp("fs-src")
        files = {
            "empty": b"",
            "small.txt": b"hello\n",
            "sub/one_mib": os.urandom(MiB),
            "sub/deeper/odd": os.urandom(3 * MiB + 7),
        }
        expected = write_tree(root, files)
        os.setxattr(root / "small.txt", "user.example", b"value")
        return root, expected

    @pytest.fixture(scope="class")
    @classmethod
    def importer_config(cls, source: tuple[Path, dict[str, bytes]]) -> dict[str, str]:
        return {"location": f"posixfs://{source[0]}"}


class TestFsExporter(Connector, ExporterConformance):
    connector = "fs"
    proto = "posixfs"
    exports_xattrs = True  # extended attributes are restored with the files

    @pytest.fixture(scope="class")
    @classmethod
    def target(cls, tmp_path_factory: pytest.TempPathFactory) -> Path:
        return tmp_path_factory.mktemp("fs-dst")

    @pytest.fixture(scope="class")
    @classmethod
    def exporter_config(cls, target: Path) -> dict[str, str]:
        return {"location": f"posixfs://{target}"}


class TestFsStorage(Connector, StorageConformance, StorageLifecycle):
    connector = "fs"
    proto = "posixfs"

    @pytest.fixture(scope="class")
    @classmethod
    def storage_config(cls, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
        return {"location": f"posixfs://{tmp_path_factory.mktemp('conformance')}/repo"}
