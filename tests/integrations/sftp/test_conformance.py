"""The shared conformance suites (kloset_sdk.testing) against a real OpenSSH sshd.

The server is local, so the importer's source is written and the exporter's target read back
with plain file calls.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from kloset_sdk.testing import (
    ExporterConformance,
    ImporterConformance,
    StorageConformance,
    StorageLifecycle,
)
from kloset_sdk.testing.checks import MiB
from kloset_sdk.testing.exporter import ReadBack, read_back_dir
from kloset_sdk.testing.importer import sample_tree, write_tree
from tests.conftest import plugin_argv
from tests.emulators.sshd import SSHD
from tests.integrations.sftp.conftest import base_config


def fresh_dir(sshd: SSHD, what: str) -> Path:
    path = sshd.root_dir / f"{what}-{uuid.uuid4().hex[:12]}"
    path.mkdir()
    return path


class TestSFTPStorage(StorageConformance, StorageLifecycle):
    proto = "sftp"
    big_sizes = (9 * MiB + 7,)

    @pytest.fixture(scope="class")
    @classmethod
    def storage_argv(cls) -> list[str]:
        return plugin_argv("sftp", "storage")

    @pytest.fixture(scope="class")
    @classmethod
    def storage_config(cls, sshd: SSHD) -> dict[str, str]:
        return base_config(sshd, sshd.root_dir / f"repo-{uuid.uuid4().hex[:12]}")


class TestSFTPImporter(ImporterConformance):
    proto = "sftp"

    @pytest.fixture(scope="class")
    @classmethod
    def source(cls, sshd: SSHD) -> tuple[Path, dict[str, bytes]]:
        root = fresh_dir(sshd, "src")
        return root, write_tree(root, sample_tree())

    @pytest.fixture(scope="class")
    @classmethod
    def importer_argv(cls) -> list[str]:
        return plugin_argv("sftp", "importer")

    @pytest.fixture(scope="class")
    @classmethod
    def importer_config(cls, sshd: SSHD, source: tuple[Path, dict[str, bytes]]) -> dict[str, str]:
        return base_config(sshd, source[0])

    @pytest.fixture(scope="class")
    @classmethod
    def expected_files(cls, source: tuple[Path, dict[str, bytes]]) -> dict[str, bytes]:
        return source[1]


class TestSFTPExporter(ExporterConformance):
    proto = "sftp"
    exports_xattrs = False  # SFTP has no call to set extended attributes

    @pytest.fixture(scope="class")
    @classmethod
    def target(cls, sshd: SSHD) -> Path:
        return fresh_dir(sshd, "dst")

    @pytest.fixture(scope="class")
    @classmethod
    def exporter_argv(cls) -> list[str]:
        return plugin_argv("sftp", "exporter")

    @pytest.fixture(scope="class")
    @classmethod
    def exporter_config(cls, sshd: SSHD, target: Path) -> dict[str, str]:
        return base_config(sshd, target)

    @pytest.fixture(scope="class")
    @classmethod
    def read_back(cls, target: Path) -> ReadBack:
        return read_back_dir(target)
