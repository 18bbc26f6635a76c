"""A real OpenSSH sshd on 127.0.0.1 with its own host key, client keys and config, in a temp dir.

Why real: paramiko's own server is too lenient to prove a client right (SFTPv3 rename rules,
host-key checks, auth methods are OpenSSH's here). Everything lives in one directory: host key,
client keys (plain and passphrase-protected, both in `authorized_keys`), `known_hosts` for the
server, `root/` for the key user's test data and `pwroot/` for the password user.

When running as root, key logins are as root (`PermitRootLogin prohibit-password`) and a local
user `klosettest` is created for password logins; its password is random, made once per machine
and kept in /var/lib/klosettest/password so parallel sessions agree on it. As another user, key
logins are as that user and `password_auth_available` is False.

Run alone: `python -m tests.emulators.sshd --serve [--dir D]` prints `READY {json}`.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import getpass
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import paramiko

from tests.emulators.seaweedfs import die_with_parent, serve, stop_process

SSHD_BIN = "/usr/sbin/sshd"
PASSWORD_USER = "klosettest"
_PW_STATE = Path("/var/lib/klosettest")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(argv: list[str], **kw: Any) -> subprocess.CompletedProcess[bytes]:
    if "input" not in kw:
        kw["stdin"] = subprocess.DEVNULL
    return subprocess.run(argv, check=True, capture_output=True, **kw)


def _keygen(path: Path, passphrase: str = "", comment: str = "klosettest") -> None:
    for p in (path, path.with_suffix(".pub")):
        p.unlink(missing_ok=True)
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", comment, "-f", str(path)])


def _descendants(pid: int) -> list[int]:
    """Child processes of pid (sshd forks one per connection, each in its own session)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out: list[int] = []
    todo = [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


class _OwnedSFTP(paramiko.SFTPClient):
    """An SFTPClient that also closes its SSH transport, so no paramiko thread outlives it."""

    def close(self) -> None:
        transport = self.sock.get_transport()
        try:
            # A link a test has broken (proxy reset) may fail to say goodbye: not an error here.
            with contextlib.suppress(EOFError, OSError, paramiko.SSHException):
                super().close()
        finally:
            transport.close()


class SSHD:
    """One `sshd -D -e` process on 127.0.0.1:free-port, configured for key and password auth."""

    def __init__(self, base_dir: str | Path | None = None, *, password_auth: bool = True) -> None:
        """`base_dir` given: state lives there and is kept at stop; else a temp dir, removed."""
        self._given_dir = Path(base_dir).resolve() if base_dir is not None else None
        self._want_password = password_auth
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._agent: subprocess.Popen[bytes] | None = None
        self._agent_sock: Path | None = None
        self._port = 0
        self.host = "127.0.0.1"
        self.user = getpass.getuser()
        self.passphrase = "klosettest-" + secrets.token_hex(8)
        self.password_user = PASSWORD_USER
        self.password = ""
        self.password_auth_available = False
        self.password_auth_reason = "not started"

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> SSHD:
        if self._proc is not None:
            return self
        if not os.access(SSHD_BIN, os.X_OK):
            raise FileNotFoundError(f"{SSHD_BIN} missing: apt-get install -y openssh-server")
        if self._given_dir is not None:
            self._given_dir.mkdir(parents=True, exist_ok=True)
            self._dir = self._given_dir
        else:
            self._dir = Path(tempfile.mkdtemp(prefix="klosettest-sshd-"))
        try:
            self._prepare()
            self._port = _free_port()
            self._launch()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self._stop_sshd()
        stop_process(self._agent, grace=2)
        self._agent = None
        if self._dir is not None and self._given_dir is None:
            shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = None

    def __enter__(self) -> SSHD:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def rotate_host_key(self) -> str:
        """Restart on the same port with a new host key; returns its fingerprint.

        `known_hosts_path` is rewritten for the new key (later tests keep working); the previous
        one is kept at `previous_known_hosts_path`, which a client can use to see a changed key.
        """
        shutil.copyfile(self.known_hosts_path, self.previous_known_hosts_path)
        self._stop_sshd()
        _keygen(self.base_dir / "host_ed25519", comment="klosettest-host")
        self._launch()
        return self.host_key_fingerprint

    # -- properties ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def base_dir(self) -> Path:
        if self._dir is None:
            raise RuntimeError("SSHD is not started")
        return self._dir

    @property
    def key_path(self) -> Path:
        return self.base_dir / "client_ed25519"

    @property
    def enc_key_path(self) -> Path:
        return self.base_dir / "client_enc_ed25519"

    @property
    def host_key_path(self) -> Path:
        return self.base_dir / "host_ed25519"

    @property
    def known_hosts_path(self) -> Path:
        return self.base_dir / "known_hosts"

    @property
    def previous_known_hosts_path(self) -> Path:
        return self.base_dir / "known_hosts.old"

    @property
    def root_dir(self) -> Path:
        """Writable by `user` (key logins)."""
        return self.base_dir / "root"

    @property
    def password_root_dir(self) -> Path:
        """Writable by `password_user`."""
        return self.base_dir / "pwroot"

    @property
    def log_path(self) -> Path:
        return self.base_dir / "sshd.log"

    @property
    def host_key_fingerprint(self) -> str:
        """`SHA256:...` as OpenSSH prints it."""
        blob = base64.b64decode(self._host_pub().split()[1])
        return paramiko.PKey.from_type_string("ssh-ed25519", blob).fingerprint

    @property
    def known_hosts_line(self) -> str:
        kind, b64 = self._host_pub().split()[:2]
        return f"[{self.host}]:{self._port} {kind} {b64}"

    # -- clients ---------------------------------------------------------------------------

    def ssh_client(self, port: int | None = None, **kw: Any) -> paramiko.SSHClient:
        """A connected paramiko SSHClient (key auth, host key checked against known_hosts).

        `port` reaches the server through a proxy on 127.0.0.1:port, trusting the same key.
        """
        client = paramiko.SSHClient()
        client.load_host_keys(str(self.known_hosts_path))
        if port is not None:
            kind, b64 = self._host_pub().split()[:2]
            key = paramiko.PKey.from_type_string(kind, base64.b64decode(b64))
            client.get_host_keys().add(f"[{self.host}]:{port}", kind, key)
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        args: dict[str, Any] = {
            "username": self.user,
            "key_filename": str(self.key_path),
            "look_for_keys": False,
            "allow_agent": False,
            "timeout": 10,
        }
        args.update(kw)
        try:
            client.connect(self.host, port or self._port, **args)
        except BaseException:
            client.close()
            raise
        return client

    def client(self, port: int | None = None, **kw: Any) -> paramiko.SFTPClient:
        """A connected SFTPClient for test setup/inspection; close() also ends the SSH link."""
        ssh = self.ssh_client(port, **kw)
        transport = ssh.get_transport()
        assert transport is not None
        sftp = _OwnedSFTP.from_transport(transport)
        assert sftp is not None
        return sftp

    def ssh_agent(self) -> str:
        """Start `ssh-agent` (once) holding the plain client key; returns SSH_AUTH_SOCK."""
        if self._agent is not None and self._agent.poll() is None and self._agent_sock:
            return str(self._agent_sock)
        sock = self.base_dir / "agent.sock"
        sock.unlink(missing_ok=True)
        self._agent = subprocess.Popen(
            ["ssh-agent", "-D", "-a", str(sock)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent(),
        )
        deadline = time.monotonic() + 10
        while not sock.exists():
            if self._agent.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("ssh-agent did not start")
            time.sleep(0.01)
        env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
        env.pop("DISPLAY", None)
        env.pop("SSH_ASKPASS", None)
        _run(["ssh-add", "-q", str(self.key_path)], env=env)
        self._agent_sock = sock
        return str(sock)

    def env(self) -> dict[str, str]:
        """Environment variables a shell user (demo, benchmarks) needs to reach the server."""
        return {
            "KLOSET_SFTP_HOST": self.host,
            "KLOSET_SFTP_PORT": str(self._port),
            "KLOSET_SFTP_USER": self.user,
            "KLOSET_SFTP_KEY": str(self.key_path),
            "KLOSET_SFTP_ENC_KEY": str(self.enc_key_path),
            "KLOSET_SFTP_PASSPHRASE": self.passphrase,
            "KLOSET_SFTP_KNOWN_HOSTS": str(self.known_hosts_path),
            "KLOSET_SFTP_HOST_FINGERPRINT": self.host_key_fingerprint,
            "KLOSET_SFTP_ROOT": str(self.root_dir),
            "KLOSET_SFTP_PASSWORD_USER": self.password_user if self.password_auth_available else "",
            "KLOSET_SFTP_PASSWORD": self.password,
            "KLOSET_SFTP_PASSWORD_ROOT": str(self.password_root_dir),
            "KLOSET_SFTP_PID": str(self.pid or ""),
        }

    # -- internals -------------------------------------------------------------------------

    def _host_pub(self) -> str:
        return self.host_key_path.with_suffix(".pub").read_text()

    def _prepare(self) -> None:
        d = self.base_dir
        os.chmod(d, 0o711)  # the password user must reach pwroot/; keys stay 0600
        _keygen(self.host_key_path, comment="klosettest-host")
        _keygen(self.key_path)
        _keygen(self.enc_key_path, passphrase=self.passphrase)
        auth = self.key_path.with_suffix(".pub").read_text()
        auth += self.enc_key_path.with_suffix(".pub").read_text()
        (d / "authorized_keys").write_text(auth)
        os.chmod(d / "authorized_keys", 0o644)
        self.root_dir.mkdir(exist_ok=True)
        self.password_root_dir.mkdir(exist_ok=True)
        self._setup_password_user()
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)

    def _setup_password_user(self) -> None:
        """Create/refresh the local password user; on failure record why in the reason."""
        self.password_auth_available = False
        if not self._want_password:
            self.password_auth_reason = "disabled by password_auth=False"
            return
        if os.geteuid() != 0:
            self.password_auth_reason = "not root: cannot create a local user for password auth"
            return
        if not (shutil.which("useradd") and shutil.which("chpasswd")):
            self.password_auth_reason = "useradd/chpasswd not found"
            return
        try:
            _PW_STATE.mkdir(mode=0o700, parents=True, exist_ok=True)
            with open(_PW_STATE / "lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    pwd.getpwnam(PASSWORD_USER)
                except KeyError:
                    _run(["useradd", "-m", "-s", "/bin/sh", PASSWORD_USER])
                pw_file = _PW_STATE / "password"
                if not pw_file.exists():
                    pw_file.write_text(secrets.token_urlsafe(18))
                    os.chmod(pw_file, 0o600)
                password = pw_file.read_text().strip()
                # Same value every time, so parallel sessions never change it under each other.
                _run(["chpasswd"], input=f"{PASSWORD_USER}:{password}\n".encode())
            entry = pwd.getpwnam(PASSWORD_USER)
            os.chown(self.password_root_dir, entry.pw_uid, entry.pw_gid)
        except (OSError, subprocess.CalledProcessError, KeyError) as e:
            self.password_auth_reason = f"cannot set up {PASSWORD_USER}: {e!r}"
            return
        self.password = password
        self.password_auth_available = True
        self.password_auth_reason = ""

    def _write_config(self) -> Path:
        d = self.base_dir
        lines = [
            f"ListenAddress 127.0.0.1:{self._port}",
            f"HostKey {self.host_key_path}",
            f"PidFile {d / 'sshd.pid'}",
            f"AuthorizedKeysFile {d / 'authorized_keys'}",
            "PubkeyAuthentication yes",
            f"PasswordAuthentication {'yes' if self.password_auth_available else 'no'}",
            "KbdInteractiveAuthentication no",
            "PermitEmptyPasswords no",
            "PermitRootLogin prohibit-password",
            "UsePAM no",
            "StrictModes no",
            "MaxAuthTries 10",
            "MaxStartups 100:30:200",
            "MaxSessions 64",
            "LoginGraceTime 30",
            "X11Forwarding no",
            "PrintMotd no",
            "UseDNS no",
            "LogLevel VERBOSE",
            "Subsystem sftp internal-sftp",
        ]
        cfg = d / "sshd_config"
        cfg.write_text("\n".join(lines) + "\n")
        return cfg

    def _launch(self) -> None:
        cfg = self._write_config()
        check = subprocess.run(
            [SSHD_BIN, "-t", "-f", str(cfg)], stdin=subprocess.DEVNULL, capture_output=True
        )
        if check.returncode != 0:
            raise RuntimeError(f"sshd config rejected: {check.stderr.decode(errors='replace')}")
        known = self.known_hosts_line + "\n"
        self.known_hosts_path.write_text(known)
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                [SSHD_BIN, "-D", "-e", "-f", str(cfg)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent(),
            )
        deadline = time.monotonic() + 10
        while True:
            if self._proc.poll() is not None:
                log_text = self.log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"sshd exited with {self._proc.returncode}:\n{log_text}")
            try:
                with socket.create_connection((self.host, self._port), timeout=1) as s:
                    s.settimeout(2)
                    if s.recv(4).startswith(b"SSH-"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("sshd did not start listening within 10 s")
            time.sleep(0.02)

    def _stop_sshd(self) -> None:
        """Stop the listener and its per-connection children (they live in their own sessions)."""
        if self._proc is None:
            return
        kids = _descendants(self._proc.pid) if self._proc.poll() is None else []
        stop_process(self._proc, grace=5)
        for pid in kids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        self._proc = None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Run a test sshd until SIGTERM.")
    p.add_argument("--serve", action="store_true", help="start, print READY {json}, wait")
    p.add_argument("--dir", help="state directory (kept at stop); default: a temp dir")
    args = p.parse_args(argv)
    if not args.serve:
        p.error("nothing to do: pass --serve")
    serve(SSHD(args.dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
