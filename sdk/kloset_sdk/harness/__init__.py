"""Host side of the protocol in Python: spawn a plugin like Plakar and drive it.

Used by the tests, the conformance suite, the benchmarks and the `klosetctl` tool.
"""

from __future__ import annotations

from .clients import (
    ExporterClient,
    ExportRun,
    Imported,
    ImporterClient,
    ImportRun,
    ImportSession,
    StoreClient,
)
from .process import PluginProcess

__all__ = [
    "ExportRun",
    "ExporterClient",
    "ImportRun",
    "ImportSession",
    "Imported",
    "ImporterClient",
    "PluginProcess",
    "StoreClient",
]
