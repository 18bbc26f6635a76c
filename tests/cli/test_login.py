"""`klosetctl login`: the integrations' own flows, driven from the command line."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import cli_env, klosetctl
from tests.emulators.graph import GraphEmulator


@pytest.fixture
def graph() -> Iterator[GraphEmulator]:
    with GraphEmulator(auto_approve_device=True, device_interval=1) as emu:
        yield emu


def test_login_onedrive_device_code_prints_config(graph: GraphEmulator, tmp_path: Path) -> None:
    token = tmp_path / "od.json"
    proc = klosetctl(
        "login",
        "onedrive",
        "--device-code",
        "--client-id",
        graph.client_id,
        "--tenant",
        graph.tenant_id,
        "--token-file",
        str(token),
        "-o",
        f"graph_endpoint={graph.graph_url}",
        "-o",
        f"authority_host={graph.base_url}",
        "-o",
        f"ca_bundle={graph.ca_cert_path}",
        env=cli_env(REQUESTS_CA_BUNDLE="", CURL_CA_BUNDLE=""),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"client_id={graph.client_id}" in proc.stdout
    assert f"token_cache={token}" in proc.stdout
    assert "plakar store add" in proc.stdout
    assert stat.S_IMODE(token.stat().st_mode) == 0o600


def test_login_needs_the_app_registration() -> None:
    proc = klosetctl("login", "gdrive", "--headless")
    assert proc.returncode == 2
    assert "--client-id" in proc.stderr and "--client-secret" in proc.stderr


def test_login_rejects_unknown_flow_arguments(graph: GraphEmulator) -> None:
    proc = klosetctl("login", "onedrive", "--client-id", "x", "-o", "bogus=1")
    assert proc.returncode == 2 and "takes no bogus" in proc.stderr


def test_login_gdrive_headless_with_a_pasted_address(tmp_path: Path) -> None:
    """The headless flow: print the URL, the user consents elsewhere and pastes the address."""
    import re
    import subprocess
    import sys

    import requests

    from tests.emulators.drive import CLIENT_ID, CLIENT_SECRET, DriveEmulator

    with DriveEmulator() as emu:
        token = tmp_path / "gd.json"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kloset_cli",
                "login",
                "gdrive",
                "--headless",
                "--client-id",
                CLIENT_ID,
                "--client-secret",
                CLIENT_SECRET,
                "--token-file",
                str(token),
                "-o",
                f"auth_uri={emu.url}o/oauth2/auth",
                "-o",
                f"token_uri={emu.token_uri}",
            ],
            env=cli_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stderr is not None and proc.stdin is not None
        url = ""
        for line in proc.stderr:
            m = re.search(r"(http://127\.0\.0\.1:\d+/o/oauth2/auth\S+)", line)
            if m:
                url = m.group(1)
                break
        assert url, "the login printed no consent URL"
        consent = requests.get(url, allow_redirects=False, timeout=30)
        proc.stdin.write(consent.headers["Location"] + "\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert f"token_file={token}" in out and "plakar store add" in out
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
