"""Where to connect and as whom: the location and options, completed by ~/.ssh/config.

Precedence follows OpenSSH (command line before config file): `user@` and `:port` in the
location, then the `username`/`port` options, then ssh_config's User/Port, then the local user
and 22. From ssh_config we take HostName, User, Port, IdentityFile, ProxyJump (comma-separated
hops, each looked up in ssh_config too) and UserKnownHostsFile; nothing else, so a config line
can never weaken the host-key check (that takes `insecure_ignore_host_key`).
"""

from __future__ import annotations

import getpass
import os
import posixpath
from dataclasses import dataclass, field
from typing import Any

import paramiko

from kloset_sdk import ConfigError, parse_location

from .options import SFTPOptions

DEFAULT_PORT = 22
DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
GLOBAL_KNOWN_HOSTS = "/etc/ssh/ssh_known_hosts"


@dataclass(frozen=True)
class Hop:
    """One SSH server on the way: a ProxyJump host or the target itself."""

    alias: str  # the name as written (location, ProxyJump), used in messages
    host: str  # the name or address actually dialled (ssh_config HostName)
    port: int
    user: str
    identity_files: tuple[str, ...] = ()

    @property
    def known_hosts_name(self) -> str:
        """How OpenSSH writes this host in known_hosts: `host`, or `[host]:port` off port 22."""
        return self.host if self.port == DEFAULT_PORT else f"[{self.host}]:{self.port}"

    def __str__(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


@dataclass(frozen=True)
class Endpoint:
    target: Hop
    jumps: tuple[Hop, ...]
    root: str
    origin: str
    known_hosts: tuple[str, ...] = field(default=())


def _load_config(opts: SFTPOptions) -> paramiko.SSHConfig | None:
    path = os.path.expanduser(opts.ssh_config or "~/.ssh/config")
    if not os.path.exists(path):
        if opts.ssh_config:
            raise ConfigError("ssh_config", f"{path}: no such file")
        return None
    try:
        return paramiko.SSHConfig.from_path(path)
    except (OSError, paramiko.SSHException, ValueError) as exc:
        raise ConfigError("ssh_config", f"{path}: cannot be read: {exc}") from None


def _lookup(cfg: paramiko.SSHConfig | None, alias: str) -> dict[str, Any]:
    if cfg is None:
        return {}
    try:
        return dict(cfg.lookup(alias))
    except Exception as exc:  # paramiko raises bare errors for bad Match lines
        raise ConfigError("ssh_config", f"lookup of {alias!r} failed: {exc}") from None


def _port(value: Any, key: str) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise ConfigError(key, f"{value!r} is not a port number") from None
    if not 0 < port < 65536:
        raise ConfigError(key, f"{port} is not a port number")
    return port


def _hop(
    cfg: paramiko.SSHConfig | None,
    alias: str,
    user: str | None,
    port: int | None,
    key: str,
) -> Hop:
    if not alias or alias.startswith("-"):
        raise ConfigError(key, f"invalid host name {alias!r}")
    entry = _lookup(cfg, alias)
    files = tuple(os.path.expanduser(p) for p in entry.get("identityfile", []))
    return Hop(
        alias=alias,
        host=str(entry.get("hostname") or alias),
        port=port or (_port(entry["port"], "ssh_config") if "port" in entry else DEFAULT_PORT),
        user=user or str(entry.get("user") or getpass.getuser()),
        identity_files=files,
    )


def _jumps(cfg: paramiko.SSHConfig | None, spec: str) -> tuple[Hop, ...]:
    if not spec or spec.strip().lower() == "none":
        return ()
    hops = []
    for part in spec.split(","):
        part = part.strip()
        if part.startswith("ssh://"):
            part = part[len("ssh://") :]
        user, _, hostport = part.rpartition("@")
        host, port = hostport, None
        if hostport.startswith("["):
            host, _, rest = hostport[1:].partition("]")
            port = _port(rest[1:], "ssh_config") if rest.startswith(":") else None
        elif hostport.count(":") == 1:
            host, _, p = hostport.partition(":")
            port = _port(p, "ssh_config")
        hops.append(_hop(cfg, host, user or None, port, "ssh_config"))
    return tuple(hops)


def resolve(opts: SFTPOptions) -> Endpoint:
    loc = parse_location(opts.location, expect="sftp")
    if loc.user and opts.username:
        raise ConfigError("username", "cannot be used together with user@ in the location")
    cfg = _load_config(opts)
    target = _hop(cfg, loc.host, loc.user or opts.username, loc.port or opts.port, "location")
    entry = _lookup(cfg, loc.host)
    jumps = _jumps(cfg, str(entry.get("proxyjump") or ""))
    root = opts.root or loc.path or "/"
    root = posixpath.normpath(root) if root not in ("", "/") else "/"
    origin = loc.host if ":" not in loc.host else f"[{loc.host}]"
    if loc.port or opts.port:
        origin += f":{loc.port or opts.port}"
    if opts.known_hosts:
        known: tuple[str, ...] = (os.path.expanduser(opts.known_hosts),)
    else:
        user_files = str(entry.get("userknownhostsfile") or DEFAULT_KNOWN_HOSTS).split()
        known = tuple(os.path.expanduser(p) for p in user_files) + (GLOBAL_KNOWN_HOSTS,)
    return Endpoint(target=target, jumps=jumps, root=root, origin=origin, known_hosts=known)
