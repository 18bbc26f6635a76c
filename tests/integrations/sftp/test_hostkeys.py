"""Host keys are checked by default; unknown and changed keys are refused with fingerprints."""

from __future__ import annotations

import base64
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from kloset_sdk import PermissionDenied
from kloset_sdk.harness import PluginProcess, StoreClient
from kloset_sftp.hostkeys import fingerprint
from tests.conftest import plugin_argv
from tests.emulators.sshd import SSHD
from tests.integrations.sftp.conftest import base_config, session


def strange_key_line(host: str) -> tuple[str, str]:
    """A known_hosts line giving `host` another ed25519 key, and that key's fingerprint."""
    pub = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH)
    )
    kind, b64 = pub.decode().split()[:2]
    import paramiko

    key = paramiko.PKey.from_type_string(kind, base64.b64decode(b64))
    return f"{host} {kind} {b64}\n", fingerprint(key)


def test_unknown_host_key_refused_by_default(sshd: SSHD, no_home: Path) -> None:
    """No known_hosts option and an empty ~/.ssh: the store's first call (Open; the storage
    connects in the background from Init on) fails, saying how to trust the key."""
    config = base_config(sshd, "/")
    del config["known_hosts"]
    with PluginProcess(plugin_argv("sftp", "storage"), env={"HOME": str(no_home)}) as proc:
        store = StoreClient(proc)
        store.init(config)
        with pytest.raises(grpc.RpcError) as ei:
            store.open()
    msg = ei.value.details() or ""
    assert f"[{sshd.host}]:{sshd.port} is unknown" in msg, msg
    assert sshd.host_key_fingerprint in msg
    assert f"ssh-keyscan -p {sshd.port} -t ed25519 {sshd.host} >> " in msg
    assert str(no_home / ".ssh" / "known_hosts") in msg
    assert f"host_key_fingerprint={sshd.host_key_fingerprint}" in msg


def test_changed_host_key_names_both_fingerprints(sshd: SSHD, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    line, old = strange_key_line(f"[{sshd.host}]:{sshd.port}")
    known.write_text(line)
    with pytest.raises(PermissionDenied) as ei:
        session(base_config(sshd, "/", known_hosts=str(known)))
    msg = str(ei.value)
    assert msg.startswith(f"HOST KEY CHANGED for [{sshd.host}]:{sshd.port}")
    assert old in msg and sshd.host_key_fingerprint in msg
    assert "ssh-keygen -R" in msg


def test_rotated_server_key_is_refused(sshd: SSHD, no_home: Path) -> None:
    """The real thing: the sshd restarts with a new key, the old known_hosts is kept."""
    before = sshd.host_key_fingerprint
    after = sshd.rotate_host_key()  # known_hosts_path now trusts the new key for later tests
    config = base_config(sshd, "/", known_hosts=str(sshd.previous_known_hosts_path))
    with pytest.raises(PermissionDenied) as ei:
        session(config)
    assert before in str(ei.value) and after in str(ei.value)
    session(base_config(sshd, "/")).close()


def test_pinned_fingerprint(sshd: SSHD, no_home: Path) -> None:
    config = base_config(sshd, "/")
    del config["known_hosts"]  # none: the pin alone decides
    session({**config, "host_key_fingerprint": sshd.host_key_fingerprint}).close()
    _, other = strange_key_line("x")
    with pytest.raises(PermissionDenied) as ei:
        session({**config, "host_key_fingerprint": other})
    assert other in str(ei.value) and sshd.host_key_fingerprint in str(ei.value)


def test_insecure_opt_out(sshd: SSHD, no_home: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = base_config(sshd, "/")
    del config["known_hosts"]
    session({**config, "insecure_ignore_host_key": "true"}).close()
    assert "NOT checked" in caplog.text


def test_ssh_config_alias_and_proxyjump(sshd: SSHD, no_home: Path, tmp_path: Path) -> None:
    """HostName, Port, User and IdentityFile from ssh_config; ProxyJump through the sshd
    itself (a direct-tcpip channel on the first connection carries the second)."""
    cfg = tmp_path / "ssh_config"
    cfg.write_text(
        f"Host backup-box\n  HostName {sshd.host}\n  Port {sshd.port}\n  User {sshd.user}\n"
        f"  IdentityFile {sshd.key_path}\n"
        f"Host via-jump\n  HostName {sshd.host}\n  Port {sshd.port}\n  User {sshd.user}\n"
        f"  IdentityFile {sshd.key_path}\n  ProxyJump jumphost\n"
        f"Host jumphost\n  HostName {sshd.host}\n  Port {sshd.port}\n  User {sshd.user}\n"
        f"  IdentityFile {sshd.key_path}\n"
    )
    for alias in ("backup-box", "via-jump"):
        config = {
            "location": f"sftp://{alias}{sshd.root_dir}",
            "ssh_config": str(cfg),
            "known_hosts": str(sshd.known_hosts_path),
        }
        s = session(config)
        try:
            assert s.endpoint.target.host == sshd.host
            assert len(s.endpoint.jumps) == (alias == "via-jump")
            assert s.run(lambda ch, root=s.root: ch.stat(root), "stat").st_mode
        finally:
            s.close()


def test_go_host_key_entry(sshd: SSHD, no_home: Path) -> None:
    """The Go integration's `host_key`: a known_hosts entry, as ssh-keyscan prints it."""
    config = base_config(sshd, "/")
    del config["known_hosts"]
    session({**config, "host_key": sshd.known_hosts_line}).close()
    line, _ = strange_key_line("anyhost")
    with pytest.raises(PermissionDenied):
        session({**config, "host_key": line})
