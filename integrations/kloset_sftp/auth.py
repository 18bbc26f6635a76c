"""Logging in: keys (file, inline, agent, ssh_config, defaults) and then a password.

The order is OpenSSH's: keys named explicitly first (`identity`, `ssh_private_key`), then the
agent, then IdentityFile lines of ssh_config, then ~/.ssh/id_* when nothing else named a file,
and the password last. Explicit keys are loaded at Init so a wrong path or passphrase is a
config error naming the key, not a vague login failure. No secret ever reaches a message:
keys are named by their source and fingerprint, passwords and passphrases not at all.

`ssh_private_key` stays in this process (the Go integration pipes it into `ssh-add`, where
any process of the user can use it for the TTL); `ssh_private_key_ttl` bounds how long we
keep a reference to it for reconnecting.
"""

from __future__ import annotations

import io
import logging
import os
import re
import socket
import time
from collections.abc import Iterator
from typing import Any

import paramiko
from paramiko.agent import AgentSSH
from paramiko.pkey import UnknownKeyType

from kloset_sdk import ConfigError, PermissionDenied

from .endpoint import Hop
from .hostkeys import fingerprint
from .options import SFTPOptions

log = logging.getLogger(__name__)

DEFAULT_KEYS = ("~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str, key: str) -> float:
    """Go's time.ParseDuration subset (`1h30m`, `5s`, `250ms`) in seconds."""
    if text.strip() == "0":
        return 0.0
    parts = re.findall(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise ConfigError(key, f"{text!r} is not a duration such as 5s, 10m or 1h")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def _short(path: str) -> str:
    return path if len(path) <= 200 else path[:100] + "..." + path[-40:]


def load_key_file(path: str, passphrase: str | None, key: str) -> paramiko.PKey:
    path = os.path.expanduser(path)
    try:
        # cryptography wants the passphrase as bytes (paramiko passes it straight through).
        secret: Any = passphrase.encode() if passphrase else None
        return paramiko.PKey.from_path(path, password=secret)
    except FileNotFoundError:
        raise ConfigError(key, f"{_short(path)}: no such file") from None
    except OSError as exc:  # permission denied, name too long, a directory...
        raise ConfigError(key, f"{_short(path)}: {exc.strerror or exc}") from None
    except TypeError:  # cryptography: "Password was not given but private key is encrypted"
        raise ConfigError(
            "passphrase", f"the key {_short(path)} is encrypted: set passphrase"
        ) from None
    except (ValueError, paramiko.SSHException, UnknownKeyType):
        if passphrase:
            raise ConfigError(
                "passphrase", f"does not decrypt {_short(path)} (or it is not a private key)"
            ) from None
        raise ConfigError(key, f"{_short(path)}: not a private key paramiko can read") from None


def load_key_text(text: str, passphrase: str | None) -> paramiko.PKey:
    encrypted = False
    for cls in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return cls.from_private_key(io.StringIO(text.strip() + "\n"), password=passphrase)
        except paramiko.PasswordRequiredException:
            encrypted = True
        except (paramiko.SSHException, ValueError, TypeError, IndexError):
            continue
    if encrypted and not passphrase:
        raise ConfigError("passphrase", "ssh_private_key is encrypted: set passphrase")
    if passphrase:
        raise ConfigError(
            "ssh_private_key", "cannot be decrypted with passphrase, or is not a private key"
        )
    raise ConfigError("ssh_private_key", "is not an OpenSSH/PEM ed25519, ecdsa or rsa key")


class _SocketAgent(AgentSSH):
    """paramiko's Agent reads $SSH_AUTH_SOCK only; this one talks to a socket we name."""

    def __init__(self, path: str) -> None:
        super().__init__()
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(10)
        conn.connect(path)
        me: Any = self  # the stubs omit AgentSSH's (stable) _connect/_close
        me._connect(conn)

    def close(self) -> None:
        me: Any = self
        me._close()


class Credentials:
    def __init__(self, opts: SFTPOptions) -> None:
        self._passphrase = opts.passphrase
        self._password = opts.password
        self._explicit_files = bool(opts.identity)
        self._identity = (
            load_key_file(opts.identity, opts.passphrase, "identity") if opts.identity else None
        )
        self._inline = (
            load_key_text(opts.ssh_private_key, opts.passphrase) if opts.ssh_private_key else None
        )
        ttl = parse_duration(opts.ssh_private_key_ttl, "ssh_private_key_ttl")
        self._inline_until = time.monotonic() + ttl if ttl else None
        self._agent_sock = opts.ssh_auth_sock or os.environ.get("SSH_AUTH_SOCK") or None
        if opts.ssh_auth_sock and not os.path.exists(opts.ssh_auth_sock):
            raise ConfigError("ssh_auth_sock", f"{_short(opts.ssh_auth_sock)}: no such socket")

    def _inline_key(self) -> paramiko.PKey | None:
        if self._inline is not None and self._inline_until is not None:
            if time.monotonic() > self._inline_until:
                log.info("ssh_private_key_ttl expired: the inline key is no longer used")
                self._inline = None
        return self._inline

    def _keys(self, hop: Hop, agent: AgentSSH | None) -> Iterator[tuple[str, paramiko.PKey]]:
        if self._identity is not None:
            yield "identity", self._identity
        inline = self._inline_key()
        if inline is not None:
            yield "ssh_private_key", inline
        if agent is not None:
            for k in agent.get_keys():
                yield f"agent key {fingerprint(k)}", k
        files = hop.identity_files
        if not files and not self._explicit_files and inline is None:
            files = tuple(os.path.expanduser(p) for p in DEFAULT_KEYS)
        for path in files:
            if not os.path.isfile(path):
                continue
            try:
                yield path, load_key_file(path, self._passphrase, "ssh_config")
            except ConfigError as exc:
                log.info("skipping %s: %s", path, exc)

    def _agent(self) -> _SocketAgent | None:
        if not self._agent_sock:
            return None
        try:
            return _SocketAgent(self._agent_sock)
        except (OSError, paramiko.SSHException) as exc:
            log.info("ssh-agent at %s not usable: %s", self._agent_sock, exc)
            return None

    def authenticate(self, t: paramiko.Transport, hop: Hop, is_target: bool) -> None:
        """Log in on `t` or raise PermissionDenied listing what was tried (never secrets)."""
        tried: list[str] = []
        allowed: list[str] | None = None
        agent = self._agent()
        try:
            for label, key in self._keys(hop, agent):
                if allowed is not None and "publickey" not in allowed:
                    break
                try:
                    t.auth_publickey(hop.user, key)
                except paramiko.BadAuthenticationType as exc:
                    allowed = list(exc.allowed_types)
                except paramiko.AuthenticationException:
                    tried.append(label)
                if t.is_authenticated():
                    return
        finally:
            if agent is not None:
                agent.close()
        if self._password and is_target and (allowed is None or "password" in allowed):
            try:
                t.auth_password(hop.user, self._password)
            except paramiko.BadAuthenticationType as exc:
                allowed = list(exc.allowed_types)
            except paramiko.AuthenticationException:
                pass
            tried.append("password")
            if t.is_authenticated():
                return
        what = ", ".join(tried) if tried else "no key or password was available"
        hint = f"; the server accepts: {', '.join(allowed)}" if allowed else ""
        raise PermissionDenied(
            f"login as {hop.user} on {hop.host}:{hop.port} refused (tried: {what}){hint}; set"
            " identity, ssh_private_key, ssh_auth_sock or password"
        )
