"""kloset_sdk: write Plakar connectors (importer, exporter, storage) in Python.

The public API is this module's `__all__`; everything else is an implementation detail.
"""

from __future__ import annotations

from . import modes
from .chunks import CHUNK_SIZE, ChunkStream, iter_chunks
from .connector import Connector, Identity, InitContext
from .entrypoint import serve
from .errors import (
    AlreadyExists,
    ConfigError,
    Fatal,
    KlosetError,
    NotFound,
    PermissionDenied,
    ProtocolError,
    QuotaExceeded,
    Throttled,
)
from .exporter import Exporter
from .importer import Importer
from .layout import Resource
from .location import Flag, Location, parse_location
from .options import option
from .records import FileInfo, Record
from .storage import Storage

__all__ = [
    "CHUNK_SIZE",
    "AlreadyExists",
    "ChunkStream",
    "ConfigError",
    "Connector",
    "Exporter",
    "Fatal",
    "FileInfo",
    "Flag",
    "Identity",
    "Importer",
    "InitContext",
    "KlosetError",
    "Location",
    "NotFound",
    "PermissionDenied",
    "ProtocolError",
    "QuotaExceeded",
    "Record",
    "Resource",
    "Storage",
    "Throttled",
    "iter_chunks",
    "modes",
    "option",
    "parse_location",
    "serve",
]
