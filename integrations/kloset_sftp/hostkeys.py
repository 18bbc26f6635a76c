"""Host-key checking: known_hosts by default, a pinned fingerprint, or the explicit opt-out.

The Go integration inherits `ssh`'s checks; paramiko's SSHClient would accept unknown keys
with AutoAddPolicy or give a bare "not found in known_hosts". Here an unknown or changed key
stops the connection before any credential is sent, and the message says what was seen
(SHA256 fingerprints, as `ssh-keygen -lf` prints them) and the exact commands or option that
would trust it. We never write known_hosts ourselves: trusting a key is the user's decision.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import shlex

import paramiko

from kloset_sdk import ConfigError, PermissionDenied

from .endpoint import DEFAULT_PORT, Hop

log = logging.getLogger(__name__)

#: known_hosts key type -> host-key algorithms that produce it (for negotiation order).
_ALGORITHMS = {
    "ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256"),
}


def fingerprint(key: paramiko.PKey) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def parse_host_key(entry: str) -> paramiko.PKey:
    """`[host] type base64 [comment]`, as ssh-keyscan prints it or known_hosts holds it."""
    fields = entry.split()
    if len(fields) >= 3 and not fields[0].startswith(("ssh-", "ecdsa-")):
        fields = fields[1:]
    try:
        return paramiko.PKey.from_type_string(fields[0], base64.b64decode(fields[1]))
    except (IndexError, ValueError, paramiko.SSHException, binascii.Error):
        raise ConfigError(
            "host_key", "is not a host key entry like 'host ssh-ed25519 AAAA...'"
        ) from None


def _short_type(name: str) -> str:
    if name.startswith("ecdsa-"):
        return "ecdsa"
    return name.removeprefix("ssh-")


def _describe(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {fingerprint(key)}"


class HostKeyPolicy:
    def __init__(
        self,
        known_files: tuple[str, ...],
        pinned: str | None = None,
        insecure: bool = False,
        host_key: str | None = None,
    ) -> None:
        self.files = known_files
        self.pinned = pinned.rstrip("=") if pinned else None
        if host_key:  # the Go integration's `host_key`: pinning by the whole key
            key = parse_host_key(host_key)
            self.pinned = self.pinned or fingerprint(key)
            if fingerprint(key) != self.pinned:
                raise ConfigError("host_key", "does not match host_key_fingerprint")
        self.insecure = insecure
        self._keys = paramiko.HostKeys()
        for path in known_files:
            if os.path.isfile(path):
                try:
                    self._keys.load(path)
                except (OSError, paramiko.SSHException, ValueError) as exc:
                    log.warning("%s: ignored, cannot be parsed: %s", path, exc)

    @property
    def trust_file(self) -> str:
        return self.files[0] if self.files else os.path.expanduser("~/.ssh/known_hosts")

    def known(self, hop: Hop) -> dict[str, paramiko.PKey]:
        entry = self._keys.lookup(hop.known_hosts_name)
        return dict(entry) if entry else {}

    def preferred_algorithms(self, hop: Hop, offered: tuple[str, ...]) -> tuple[str, ...]:
        """Ask first for the key types we already know, as OpenSSH does, so a host with
        several keys is not reported as changed just because it offered another type."""
        first: list[str] = []
        for name in self.known(hop):
            first += [a for a in _ALGORITHMS.get(name, (name,)) if a in offered]
        return tuple(first) + tuple(a for a in offered if a not in first)

    def check(self, hop: Hop, key: paramiko.PKey, is_target: bool) -> None:
        """Return if `key` may be trusted for `hop`; raise PermissionDenied otherwise."""
        seen = _describe(key)
        if self.insecure:
            log.warning("%s: host key NOT checked (insecure_ignore_host_key): %s", hop, seen)
            return
        if is_target and self.pinned:
            if fingerprint(key) == self.pinned:
                return
            raise PermissionDenied(
                f"host key of {hop.known_hosts_name} is {seen}, but the configuration pins"
                f" {self.pinned}: refusing to connect (a man in the middle, or a reinstalled"
                f" server: check with its administrator, then update host_key_fingerprint)"
            )
        known = self.known(hop)
        same_type = known.get(key.get_name())
        if same_type is not None and same_type.asbytes() == key.asbytes():
            return
        keyscan = self._keyscan(hop, key)
        if same_type is not None:
            raise PermissionDenied(
                f"HOST KEY CHANGED for {hop.known_hosts_name}: known_hosts has"
                f" {_describe(same_type)}, the server now presents {seen}. This can be a man in"
                " the middle; if the server was really re-keyed, remove the old key with"
                f" `ssh-keygen -R {shlex.quote(hop.known_hosts_name)} -f"
                f" {shlex.quote(self.trust_file)}` and add the new one with `{keyscan}`"
                + (f", or set host_key_fingerprint={fingerprint(key)}" if is_target else "")
            )
        others = ", ".join(_describe(k) for k in known.values())
        raise PermissionDenied(
            f"host key of {hop.known_hosts_name} is unknown: the server presents {seen}"
            + (f" (known_hosts only has {others})" if others else "")
            + f". If that fingerprint is your server's, trust it with `{keyscan}`"
            + (f" or set host_key_fingerprint={fingerprint(key)}" if is_target else "")
            + "; insecure_ignore_host_key=true skips the check (unsafe)"
        )

    def _keyscan(self, hop: Hop, key: paramiko.PKey) -> str:
        port = f"-p {hop.port} " if hop.port != DEFAULT_PORT else ""
        return (
            f"ssh-keyscan {port}-t {_short_type(key.get_name())} {shlex.quote(hop.host)}"
            f" >> {shlex.quote(self.trust_file)}"
        )
