"""Fixtures for the gdrive tests: a Drive emulator per test (or per class), and configs for it.

The plugin under test is the real executable (python -m kloset_sdk.plugin gdrive <kind>) using
the real google client over HTTP; only `api_endpoint` and `token_uri` point at the emulator.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from tests.emulators.drive import CLIENT_ID, CLIENT_SECRET, DriveEmulator
from tests.emulators.drive import server as _server

# The emulator writes headers and body in two sends; with Nagle on, every answer then waits
# for the client's delayed ACK (~40 ms). Not our file to change: switch Nagle off from here.
_server._Handler.disable_nagle_algorithm = True


def start_emulator(**kw: object) -> DriveEmulator:
    return DriveEmulator(**kw).start()  # type: ignore[arg-type]


@pytest.fixture
def emu() -> Iterator[DriveEmulator]:
    server = start_emulator()
    try:
        yield server
    finally:
        assert not server.internal_errors, server.internal_errors[0]
        server.stop()


def drive_config(emu: DriveEmulator, location: str = "gdrive://", **extra: str) -> dict[str, str]:
    """A config reaching the emulator with a fresh refresh token."""
    return {
        "location": location,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": emu.issue_refresh_token(),
        "api_endpoint": emu.url,
        "token_uri": emu.token_uri,
        **extra,
    }


@pytest.fixture
def state_file(tmp_path: Path) -> str:
    return str(tmp_path / "state" / "gdrive-state.sqlite")


def saved_state(path: str) -> dict[str, Any]:
    """What the last committed run stored besides the items (token, root, failed ids)."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return {k: json.loads(v) for k, v in db.execute("SELECT key, value FROM meta")}
