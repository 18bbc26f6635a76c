"""`klosetctl login onedrive` flows against the emulator's identity endpoints (real msal)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from kloset_onedrive import login
from kloset_onedrive.login import config_lines
from tests.emulators.graph import GraphEmulator
from tests.integrations.onedrive.support import endpoint_config, run_import


def _login_settings(emu: GraphEmulator, cache: Path) -> dict[str, str]:
    return {"client_id": emu.client_id, "token_cache": str(cache), **endpoint_config(emu)}


def _check_cache(cache: Path, emu: GraphEmulator, config: dict[str, str]) -> None:
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o600
    doc = json.loads(cache.read_text())
    assert doc["client_id"] == emu.client_id and doc["username"]
    assert "RefreshToken" in json.loads(doc["msal_cache"])
    assert config["token_file"] == str(cache)
    assert config["drive_id"] == emu.default_drive_id
    assert config["drive_type"] == "personal"
    lines = config_lines(config)
    assert f"client_id={emu.client_id}" in lines and f"token_file={cache}" in lines
    assert not [ln for ln in lines if "secret" in ln]


def test_device_code_login(emu: GraphEmulator, tmp_path: Path) -> None:
    shown: list[str] = []
    cache = tmp_path / "od.json"
    config = login.login_device_code(show=shown.append, **_login_settings(emu, cache))
    assert shown and "enter the code" in shown[0]
    _check_cache(cache, emu, config)
    emu.add_file("/hello.txt", b"hello")
    run = run_import({"location": "onedrive:///", **config})  # the cache alone logs in
    assert run.finished and not run.errors
    assert run.by_path()["/hello.txt"].read == 5


def test_loopback_auth_code_login(emu: GraphEmulator, tmp_path: Path) -> None:
    cache = tmp_path / "sub" / "od.json"
    config = login.login_auth_code(
        open_url=emu.browser_opener(), timeout=30, **_login_settings(emu, cache)
    )
    _check_cache(cache, emu, config)
    assert emu.stats["authorize"] == 1
    run = run_import({"location": "onedrive:///", **config})
    assert run.finished and not run.errors


def test_revoked_refresh_token_says_log_in_again(emu: GraphEmulator, tmp_path: Path) -> None:
    cache = tmp_path / "od.json"
    config = login.login_device_code(show=lambda _: None, **_login_settings(emu, cache))
    emu.revoke_refresh_tokens()  # as after 90 days without use (AADSTS700082)
    emu.expire_tokens()  # the cached access token no longer works either
    with pytest.raises(grpc.RpcError) as ei:
        run_import({"location": "onedrive:///", **config})
    message = ei.value.details() or ""
    assert "90 days" in message and "klosetctl login onedrive" in message
    assert "1.AXoA" not in message  # no token in the message


def test_refreshed_tokens_are_written_back(emu: GraphEmulator, tmp_path: Path) -> None:
    cache = tmp_path / "od.json"
    config = login.login_device_code(show=lambda _: None, **_login_settings(emu, cache))
    before = cache.read_text()
    emu.expire_tokens()
    run = run_import({"location": "onedrive:///", **config})
    assert run.finished and not run.errors
    assert cache.read_text() != before  # the refreshed tokens were saved...
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o600  # ...still private


def test_auth_does_not_import_login() -> None:
    """login.py builds a GraphClient, whose default token source is auth.py: no cycle back."""
    code = "import sys, kloset_onedrive.auth; print('kloset_onedrive.login' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
