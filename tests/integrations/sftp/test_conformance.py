"""The shared storage conformance suite against a real OpenSSH sshd (docs/PROTOCOL.md: Storage)."""

from __future__ import annotations

import uuid

import pytest

from tests.conformance.storage import MiB, StorageConformance, StorageLifecycle
from tests.conftest import plugin_argv
from tests.emulators.sshd import SSHD
from tests.integrations.sftp.conftest import base_config


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
