"""Run a conformance suite against any plugin executable named on the command line:

    pytest tests/conformance --plugin ./s3Storage --kind storage \
        --config location=s3://127.0.0.1:8333/bucket --config access_key=... [--proto s3]

`--plugin` is one shell-quoted command line (`--plugin "python -m my.module"`).
Importers are checked for shape and protocol rules; exporters write into the configured
location, which is only read back for a `posixfs://` or `tree://` target.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable

import pytest

from .exporter import ExporterConformance
from .importer import ImporterConformance
from .storage import StorageConformance, StorageLifecycle


def _config(pytestconfig: pytest.Config) -> dict[str, str]:
    out = {}
    for kv in pytestconfig.getoption("--config"):
        k, _, v = kv.partition("=")
        out[k] = v
    return out


def _kind(pytestconfig: pytest.Config, kind: str) -> None:
    if pytestconfig.getoption("--kind") != kind:
        pytest.skip(f"--kind is not {kind}")


class TestPluginStorage(StorageConformance, StorageLifecycle):
    @pytest.fixture(scope="class")
    @classmethod
    def storage_argv(cls, pytestconfig: pytest.Config) -> list[str]:
        _kind(pytestconfig, "storage")
        cls.proto = pytestconfig.getoption("--proto")
        return shlex.split(pytestconfig.getoption("--plugin"))

    @pytest.fixture(scope="class")
    @classmethod
    def storage_config(cls, pytestconfig: pytest.Config) -> dict[str, str]:
        return _config(pytestconfig)


class TestPluginImporter(ImporterConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def importer_argv(cls, pytestconfig: pytest.Config) -> list[str]:
        _kind(pytestconfig, "importer")
        cls.proto = pytestconfig.getoption("--proto")
        return shlex.split(pytestconfig.getoption("--plugin"))

    @pytest.fixture(scope="class")
    @classmethod
    def importer_config(cls, pytestconfig: pytest.Config) -> dict[str, str]:
        return _config(pytestconfig)


class TestPluginExporter(ExporterConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def exporter_argv(cls, pytestconfig: pytest.Config) -> list[str]:
        _kind(pytestconfig, "exporter")
        cls.proto = pytestconfig.getoption("--proto")
        return shlex.split(pytestconfig.getoption("--plugin"))

    @pytest.fixture(scope="class")
    @classmethod
    def exporter_config(cls, pytestconfig: pytest.Config) -> dict[str, str]:
        return _config(pytestconfig)

    @pytest.fixture(scope="class")
    @classmethod
    def read_back(cls, pytestconfig: pytest.Config) -> Callable[[str], bytes | None]:
        loc = _config(pytestconfig).get("location", "")
        root = loc.split("://", 1)[1] if "://" in loc else ""
        if not loc.startswith(("posixfs://", "tree://")):
            pytest.skip("content read-back needs a local target (posixfs:// or tree://)")

        def read(path: str) -> bytes | None:
            p = os.path.join(root, path.lstrip("/"))
            return open(p, "rb").read() if os.path.isfile(p) else None

        return read
