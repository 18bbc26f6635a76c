"""Conformance suites for connector authors (docs/PROTOCOL.md), fsspec tests/abstract style.

Subclass a suite in your own test module and provide the class-scoped fixtures it names
(`storage_argv` + `storage_config`, `importer_argv` + `importer_config`, `exporter_argv` +
`exporter_config` + `read_back`), and declare what the backend cannot do as class attributes
(`exports_xattrs`, `size_known`, `expected_mode`): a declared capability is checked, never
skipped. Each module's docstring has an example. The suites need pytest; the storage checks
themselves (`kloset_sdk.testing.checks`, also what `klosetctl store check` runs) do not, so
this package imports the suites only when they are asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .exporter import ExporterConformance
    from .importer import ImporterConformance
    from .storage import StorageConformance, StorageLifecycle

__all__ = ["ExporterConformance", "ImporterConformance", "StorageConformance", "StorageLifecycle"]

_WHERE = {
    "ExporterConformance": "exporter",
    "ImporterConformance": "importer",
    "StorageConformance": "storage",
    "StorageLifecycle": "storage",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(name)
