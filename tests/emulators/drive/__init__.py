"""A stateful Google Drive v3 emulator for tests driven by the real google-api-python-client.

    with DriveEmulator() as emu:
        folder = emu.add_folder("docs")
        service = emu.build_service()  # google-auth credentials refreshing via emu /token
        service.files().list(q=f"'{folder}' in parents").execute()

Modules: state (the drive), query (q and fields), auth (OAuth endpoints), faults, uploads,
files_api / changes_api (handlers), api (pipeline), server (HTTP), emulator (public class).
"""

from __future__ import annotations

from .api import STAT_KEYS, LoggedRequest
from .auth import CLIENT_ID, CLIENT_SECRET
from .emulator import DRIVE_SCOPE, DriveEmulator, build_service, discovery_doc
from .errors import DriveError
from .faults import Faults
from .model import CHUNK_GRANULARITY, DOC_KINDS, EXPORT_FORMATS, EXPORT_LIMIT, FOLDER, SHORTCUT
from .sample import seed_sample

__all__ = [
    "CHUNK_GRANULARITY",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "DOC_KINDS",
    "DRIVE_SCOPE",
    "EXPORT_FORMATS",
    "EXPORT_LIMIT",
    "FOLDER",
    "SHORTCUT",
    "STAT_KEYS",
    "DriveEmulator",
    "DriveError",
    "Faults",
    "LoggedRequest",
    "build_service",
    "discovery_doc",
    "seed_sample",
]
