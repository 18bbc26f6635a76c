"""Logins against the real sshd: key file, encrypted key, inline key, agent, password."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import grpc
import pytest

from kloset_sdk import ConfigError, PermissionDenied
from kloset_sdk.harness import PluginProcess, StoreClient
from tests.conftest import plugin_argv
from tests.emulators.sshd import SSHD
from tests.integrations.sftp.conftest import base_config, session
from tests.requires import unavailable


def without(config: dict[str, str], *keys: str) -> dict[str, str]:
    return {k: v for k, v in config.items() if k not in keys}


def test_key_file(sshd: SSHD, no_home: Path) -> None:
    s = session(base_config(sshd, sshd.root_dir))
    try:
        assert s.root == str(sshd.root_dir)
        assert s.run(lambda ch: ch.listdir(s.root), "list") is not None
    finally:
        s.close()


def test_encrypted_key_with_passphrase(sshd: SSHD, no_home: Path) -> None:
    config = base_config(sshd, "/", identity=str(sshd.enc_key_path), passphrase=sshd.passphrase)
    session(config).close()


def test_encrypted_key_errors_name_the_key(sshd: SSHD, no_home: Path) -> None:
    config = base_config(sshd, "/", identity=str(sshd.enc_key_path))
    with pytest.raises(ConfigError, match="passphrase.*encrypted"):
        session(config)
    with pytest.raises(ConfigError) as ei:
        session({**config, "passphrase": "wrong-passphrase"})
    assert ei.value.key == "passphrase" and "wrong-passphrase" not in str(ei.value)
    with pytest.raises(ConfigError, match="identity.*no such file"):
        session({**config, "identity": "/nonexistent/key"})


def test_inline_private_key(sshd: SSHD, no_home: Path) -> None:
    config = without(base_config(sshd, "/"), "identity")
    session({**config, "ssh_private_key": sshd.key_path.read_text()}).close()
    enc = sshd.enc_key_path.read_text()
    session({**config, "ssh_private_key": enc, "passphrase": sshd.passphrase}).close()
    with pytest.raises(ConfigError, match="ssh_private_key"):
        session({**config, "ssh_private_key": "not a key"})


def test_agent_by_option_and_by_environment(
    sshd: SSHD, no_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sock = sshd.ssh_agent()
    config = without(base_config(sshd, "/"), "identity")
    session({**config, "ssh_auth_sock": sock}).close()
    monkeypatch.setenv("SSH_AUTH_SOCK", sock)
    session(config).close()
    with pytest.raises(ConfigError, match="ssh_auth_sock"):
        session({**config, "ssh_auth_sock": "/nonexistent/agent.sock"})


def test_password(sshd: SSHD, no_home: Path) -> None:
    if not sshd.password_auth_available:
        unavailable(f"password auth unavailable: {sshd.password_auth_reason}")
    location = f"sftp://{sshd.password_user}@{sshd.host}:{sshd.port}{sshd.password_root_dir}"
    config = {**without(base_config(sshd, "/"), "identity"), "location": location}
    s = session({**config, "password": sshd.password})
    try:
        s.run(lambda ch: ch.mkdir(s.path("made-by-password-login")), "mkdir")
        assert (sshd.password_root_dir / "made-by-password-login").is_dir()
    finally:
        s.close()
    with pytest.raises(PermissionDenied) as ei:
        session({**config, "password": "not-the-password"})
    msg = str(ei.value)
    assert "tried: password" in msg and "not-the-password" not in msg


def test_refused_login_says_what_was_tried(sshd: SSHD, no_home: Path, tmp_path: Path) -> None:
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    with pytest.raises(PermissionDenied) as ei:
        session(base_config(sshd, "/", identity=str(other)))
    assert "refused (tried: identity)" in str(ei.value)


def test_secrets_never_reach_stderr_or_messages(sshd: SSHD, tmp_path: Path) -> None:
    """A failing password login with debug logging on: the password appears nowhere. The
    storage connects in the background from Init on, so the refusal is first logged there (at
    debug) and then answered to Open."""
    secret = "Sup3r-Secret-Passw0rd"
    config = {**without(base_config(sshd, "/"), "identity"), "password": secret}
    log = tmp_path / "stderr"
    env = {**os.environ, "KLOSET_LOG": "debug", "HOME": str(tmp_path)}
    env.pop("SSH_AUTH_SOCK", None)
    with log.open("w") as err, PluginProcess(plugin_argv("sftp", "storage"), env, err) as proc:
        store = StoreClient(proc)
        store.init(config)
        with pytest.raises(grpc.RpcError) as ei:
            store.open()
    assert secret not in (ei.value.details() or "")
    text = log.read_text()
    assert "refused" in text or "refused" in (ei.value.details() or "")
    assert secret not in text
