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


def _message_texts() -> list[tuple[str, str]]:
    """Every string of every integration but docstrings and comments (f-strings with their
    holes as `X`): what a user can see in an error, a log line or an option's help."""
    import ast

    from tests.conftest import ROOT

    texts: list[tuple[str, str]] = []
    for path in sorted((ROOT / "integrations").glob("kloset_*/*.py")):
        tree = ast.parse(path.read_text())
        docs = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
        for node in ast.walk(tree):
            if id(node) in docs:
                continue
            if isinstance(node, ast.JoinedStr):
                text = "".join(v.value if isinstance(v, ast.Constant) else "X" for v in node.values)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
            else:
                continue
            texts.append((f"{path.relative_to(ROOT)}:{node.lineno}", text))
    return texts


def test_every_hint_names_a_command_that_exists() -> None:
    """A `klosetctl ...` named in any message parses as klosetctl's own command line, and no
    message names a made-up one such as `gdrive login` (issue 15, item 5)."""
    import re
    import shlex

    from kloset_cli.commands import parser

    named = 0
    for where, text in _message_texts():
        for cmd in re.findall(r"`(klosetctl [^`]+)`", text):
            named += 1
            args = shlex.split(cmd)[1:]
            try:
                ns = parser().parse_args(args)
            except SystemExit:
                pytest.fail(f"{where}: `{cmd}` is not a klosetctl command line")
            assert ns.cmd, (where, cmd)
        made_up = re.findall(r"[`(]((?!klosetctl\b)[a-z0-9]+ login)\b", text)
        assert not made_up, f"{where}: {text!r} names {made_up}, not a klosetctl command"
    assert named >= 4  # gdrive and onedrive hints, at least
