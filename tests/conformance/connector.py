"""The fixtures each integration's conformance classes used to spell out again and again.

    class TestS3Importer(Connector, ImporterConformance):
        connector, proto = "s3", "s3"

gives `storage_argv`, `importer_argv` and `exporter_argv` (the connector's own plugin), the
importer's `expected_files` from a `source` fixture answering (root, {pathname: bytes}), and
the exporter's `read_back` from a `target` directory fixture. A class defines its own fixture
where its backend differs (a Graph tree, a bucket); `Connector` goes first so it overrides
the suites' placeholders.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from kloset_sdk.testing.exporter import ReadBack, read_back_dir
from tests.conftest import plugin_argv


class Connector:
    connector: ClassVar[str] = ""  # the integration's name in tests.conftest.plugin_argv

    @pytest.fixture(scope="class")
    @classmethod
    def storage_argv(cls) -> list[str]:
        return plugin_argv(cls.connector, "storage")

    @pytest.fixture(scope="class")
    @classmethod
    def importer_argv(cls) -> list[str]:
        return plugin_argv(cls.connector, "importer")

    @pytest.fixture(scope="class")
    @classmethod
    def exporter_argv(cls) -> list[str]:
        return plugin_argv(cls.connector, "exporter")

    @pytest.fixture(scope="class")
    @classmethod
    def expected_files(cls, source: tuple[object, dict[str, bytes]]) -> dict[str, bytes]:
        return source[1]

    @pytest.fixture(scope="class")
    @classmethod
    def read_back(cls, target: Path) -> ReadBack:
        return read_back_dir(target)
