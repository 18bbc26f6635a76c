"""Fixtures for the sftp tests: configs that reach the session sshd (tests/emulators/sshd.py)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.emulators.sshd import SSHD


def base_config(sshd: SSHD, path: Path | str, **extra: str) -> dict[str, str]:
    """Key login, host key checked against the server's own known_hosts (the default mode)."""
    config = {
        "location": f"sftp://{sshd.user}@{sshd.host}:{sshd.port}{path}",
        "identity": str(sshd.key_path),
        "known_hosts": str(sshd.known_hosts_path),
        "ssh_config": str(Path(__file__).with_name("empty_ssh_config")),
    }
    config.update(extra)
    return config


@pytest.fixture
def remote_dir(sshd: SSHD) -> Path:
    """A fresh, empty directory on the server (the server is local: inspect it with os)."""
    path = sshd.root_dir / f"t-{uuid.uuid4().hex[:12]}"
    path.mkdir()
    return path
