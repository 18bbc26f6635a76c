"""The shared conformance suites against the Drive emulator (docs/PROTOCOL.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from kloset_sdk.testing import (
    ExporterConformance,
    ImporterConformance,
    StorageConformance,
    StorageLifecycle,
)
from kloset_sdk.testing.checks import MiB
from tests.conformance.connector import Connector
from tests.emulators.drive import DriveEmulator, seed_sample
from tests.integrations.gdrive.conftest import drive_config, start_emulator


class _ClassEmulator:
    @pytest.fixture(scope="class")
    @classmethod
    def class_emu(cls) -> Iterator[DriveEmulator]:
        server = start_emulator()
        yield server
        assert not server.internal_errors, server.internal_errors[0]
        server.stop()


class TestGdriveStorage(Connector, _ClassEmulator, StorageConformance, StorageLifecycle):
    connector = "gdrive"
    proto = "gdrive"
    # above one 8 MiB chunk: a resumable session with a short last chunk
    big_sizes = (17 * MiB + 5,)

    @pytest.fixture(scope="class")
    @classmethod
    def storage_config(cls, class_emu: DriveEmulator) -> dict[str, str]:
        return drive_config(class_emu, "gdrive://repos/conformance")


class TestGdriveImporter(Connector, _ClassEmulator, ImporterConformance):
    connector = "gdrive"
    proto = "gdrive"

    @pytest.fixture(scope="class")
    @classmethod
    def importer_config(cls, class_emu: DriveEmulator) -> dict[str, str]:
        cls.ids = seed_sample(class_emu)
        return drive_config(class_emu)

    @pytest.fixture(scope="class")
    @classmethod
    def expected_files(
        cls, class_emu: DriveEmulator, importer_config: dict[str, str]
    ) -> dict[str, bytes]:
        return {
            "/README.md": class_emu.get_content(cls.ids["README.md"]),
            "/big.bin": class_emu.get_content(cls.ids["big.bin"]),
            "/Projects/2024/q1/data-2.bin": class_emu.get_content(
                cls.ids["Projects/2024/q1/data-2.bin"]
            ),
        }


class TestGdriveExporter(Connector, _ClassEmulator, ExporterConformance):
    connector = "gdrive"
    proto = "gdrive"
    exports_xattrs = True  # the backed-up MIME types come back as xattr records

    @pytest.fixture(scope="class")
    @classmethod
    def exporter_config(cls, class_emu: DriveEmulator) -> dict[str, str]:
        return drive_config(class_emu, "gdrive://restore/here")

    @pytest.fixture(scope="class")
    @classmethod
    def read_back(cls, class_emu: DriveEmulator) -> Callable[[str], bytes | None]:
        def read(path: str) -> bytes | None:
            try:
                return class_emu.get_content(class_emu.find("restore/here" + path))
            except KeyError:
                return None

        return read
