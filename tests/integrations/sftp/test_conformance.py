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
from kloset_sdk.testing.importer import sample_tree, write_tree
from tests.conformance.connector import Connector
from tests.emulators.sshd import SSHD
from tests.integrations.sftp.conftest import base_config


def fresh_dir(sshd: SSHD, what: str) -> Path:
    path = sshd.root_dir / f"{what}-{uuid.uuid4().hex[:12]}"
    path.mkdir()
    return path


class TestSFTPStorage(Connector, StorageConformance, StorageLifecycle):
    connector = "sftp"
    proto = "sftp"
    big_sizes = (9 * MiB + 7,)

    @pytest.fixture(scope="class")
    @classmethod
    def storage_config(cls, sshd: SSHD) -> dict[str, str]:
        return base_config(sshd, sshd.root_dir / f"repo-{uuid.uuid4().hex[:12]}")


class TestSFTPImporter(Connector, ImporterConformance):
    connector = "sftp"
    proto = "sftp"

    @pytest.fixture(scope="class")
    @classmethod
    def source(cls, sshd: SSHD) -> tuple[Path, dict[str, bytes]]:
        root = fresh_dir(sshd, "src")
        return root, write_tree(root, sample_tree())

    @pytest.fixture(scope="class")
    @classmethod
    def importer_config(cls, sshd: SSHD, source: tuple[Path, dict[str, bytes]]) -> dict[str, str]:
        return base_config(sshd, source[0])


class TestSFTPExporter(Connector, ExporterConformance):
    connector = "sftp"
    proto = "sftp"
    exports_xattrs = False  # SFTP has no call to set extended attributes

    @pytest.fixture(scope="class")
    @classmethod
    def target(cls, sshd: SSHD) -> Path:
        return fresh_dir(sshd, "dst")

    @pytest.fixture(scope="class")
    @classmethod
    def exporter_config(cls, sshd: SSHD, target: Path) -> dict[str, str]:
        return base_config(sshd, target)
