"""The conformance suites run against the SDK's example plugins (issue 2, item 6)."""

from __future__ import annotations

import pytest

from tests.conformance.storage import StorageConformance, StorageLifecycle
from tests.conftest import example_argv


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
