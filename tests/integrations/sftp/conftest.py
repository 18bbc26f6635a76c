"""Fixtures for the sftp tests: configs that reach the session sshd (tests/emulators/sshd.py)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from kloset_sdk.options import parse
from kloset_sftp.client import SFTPSession
from kloset_sftp.options import SFTPOptions
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


def options(config: dict[str, str], kind: str = "storage") -> SFTPOptions:
    return parse(SFTPOptions, config, kind)


def session(config: dict[str, str]) -> SFTPSession:
    """Connect in-process, as Init does (faster than a plugin process per login test)."""
    return SFTPSession(options(config), 2)


@pytest.fixture
def no_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty HOME and no agent: no ~/.ssh/known_hosts, ~/.ssh/config or default keys."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return home
