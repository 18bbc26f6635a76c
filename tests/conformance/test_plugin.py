"""Run a conformance suite against any plugin executable named on the command line:

    pytest tests/conformance --plugin ./s3Storage --kind storage \
        --config location=s3://127.0.0.1:8333/bucket --config access_key=... [--proto s3]

`--plugin` is one shell-quoted command line (`--plugin "python -m my.module"`).
Importers are checked for shape and protocol rules; exporters write into the configured
location, which is only read back for a `posixfs://` or `tree://` target; `--exports-xattrs`
declares that the exporter keeps extended attributes (Init must then set EXPORTXATTR).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

from kloset_sdk.testing import (
    ExporterConformance,
    ImporterConformance,
    StorageConformance,
    StorageLifecycle,
)
from kloset_sdk.testing.exporter import read_back_dir


def _config(pytestconfig: pytest.Config) -> dict[str, str]:
    out = {}
    for kv in pytestconfig.getoption("--config"):
        k, _, v = kv.partition("=")
        out[k] = v
    return out


def _argv(cls: type, pytestconfig: pytest.Config, kind: str) -> list[str]:
    """The --plugin command line for a --kind class (the others skip); sets the class's proto."""
    if pytestconfig.getoption("--kind") != kind:
        pytest.skip(f"--kind is not {kind}")
    cls.proto = pytestconfig.getoption("--proto")  # type: ignore[attr-defined]
    return shlex.split(pytestconfig.getoption("--plugin"))


class TestPluginStorage(StorageConformance, StorageLifecycle):
    @pytest.fixture(scope="class")
    @classmethod
    def storage_argv(cls, pytestconfig: pytest.Config) -> list[str]:
        return _argv(cls, pytestconfig, "storage")

    @pytest.fixture(scope="class")
    @classmethod
    def storage_config(cls, pytestconfig: pytest.Config) -> dict[str, str]:
        return _config(pytestconfig)


class TestPluginImporter(ImporterConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def importer_argv(cls, pytestconfig: pytest.Config) -> list[str]:
        return _argv(cls, pytestconfig, "importer")

    @pytest.fixture(scope="class")
    @classmethod
    def importer_config(cls, pytestconfig: pytest.Config) -> dict[str, str]:
        return _config(pytestconfig)


class TestPluginExporter(ExporterConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def exporter_argv(cls, pytestconfig: pytest.Config) -> list[str]:
        cls.exports_xattrs = pytestconfig.getoption("--exports-xattrs")
        return _argv(cls, pytestconfig, "exporter")

    @pytest.fixture(scope="class")
    @classmethod
    def exporter_config(cls, pytestconfig: pytest.Config) -> dict[str, str]:
        return _config(pytestconfig)

    @pytest.fixture(scope="class")
    @classmethod
    def read_back(cls, pytestconfig: pytest.Config) -> Callable[[str], bytes | None]:
        loc = _config(pytestconfig).get("location", "")
        if not loc.startswith(("posixfs://", "tree://")):
            pytest.skip("content read-back needs a local target (posixfs:// or tree://)")
        return read_back_dir(Path(loc.split("://", 1)[1]))
