"""Every config key of the sftp integration, declared once.

The first nine keys are the Go integration's, with the same meaning, so a `plakar source|
destination|store add` line written for it works unchanged (INTEGRATIONS.md, sftp). The rest
are what the Go one cannot offer because it drives the `ssh` binary in batch mode: passwords,
passphrases, strict host-key checking with a pinned fingerprint, ~/.ssh/config, timeouts and
the size of the channel pool.
"""

from __future__ import annotations

from dataclasses import dataclass

from kloset_sdk import common_options as common
from kloset_sdk import option

#: OpenSSH's default `MaxSessions` is 10 channels per connection; our pool stays under it.
DEFAULT_CONCURRENCY = 8


@dataclass(frozen=True)
class SFTPOptions:
    location: str = common.location(
        "sftp://[user@]host[:port][/path]; the path is absolute on the server.",
        pattern=r"^sftp://[^/]+(/.*)?$",
    )
    root: str | None = common.text("Remote directory to use instead of the location's path.")
    port: int | None = common.port(
        "SSH port when the location has none (default: ssh_config Port, else 22)."
    )
    username: str | None = common.text(
        "Login name; not together with user@ in the location (default: ssh_config User,"
        " else the local user)."
    )
    identity: str | None = common.text("Private key file to log in with (like ssh -i).")
    insecure_ignore_host_key: bool = option(
        False,
        help="Accept any host key without checking it. Unsafe: a man in the middle could read"
        " and change everything; use host_key_fingerprint instead.",
    )
    ssh_auth_sock: str | None = common.text(
        "ssh-agent socket to take keys from (default: $SSH_AUTH_SOCK when set)."
    )
    ssh_private_key: str | None = common.secret(
        "Private key text (OpenSSH/PEM). Used in this process only, never written to"
        " disk nor handed to an agent.",
        min_length=1,
    )
    ssh_private_key_ttl: str = option(
        "5s",
        pattern=r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$|^0$",
        help="How long after Init ssh_private_key may still be used to (re)connect, as a Go"
        " duration (5s, 10m, 1h); 0 keeps it for the life of the process. Raise it if"
        " reconnecting after a dropped connection must work with that key.",
    )
    password: str | None = common.secret("Password login, tried after every key has been refused.")
    passphrase: str | None = common.secret(
        "Decrypts an encrypted identity / ssh_private_key / IdentityFile key."
    )
    known_hosts: str | None = common.text(
        "known_hosts file the host key is checked against (default: ssh_config"
        " UserKnownHostsFile, else ~/.ssh/known_hosts, plus /etc/ssh/ssh_known_hosts)."
    )
    host_key_fingerprint: str | None = option(
        None,
        pattern=r"^SHA256:[A-Za-z0-9+/]{43}=?$",
        help="Pin the server's host key (SHA256:... as ssh-keygen -lf prints it); checked"
        " instead of known_hosts.",
    )
    host_key: str | None = common.text(
        "The server's host key as a known_hosts entry ([host] type base64, e.g. from"
        " ssh-keyscan); checked instead of known_hosts, like host_key_fingerprint."
    )
    ssh_config: str | None = common.text(
        "OpenSSH client config to read HostName, User, Port, IdentityFile and ProxyJump"
        " from (default: ~/.ssh/config when it exists)."
    )
    connect_timeout: float = option(
        30.0,
        minimum=1,
        maximum=3600,
        help="Seconds allowed for connecting, the SSH handshake and login; a connection"
        " silent for 4x this long is treated as dropped.",
    )
    max_retries: int = common.max_retries(
        2,
        "Attempts of a call that is safe to repeat (stat, list, open-for-read, remove)"
        " when the connection drops; writes are never replayed.",
    )
    concurrency: int | None = common.concurrency(
        None,
        help="SFTP channels opened on the one SSH connection, i.e. parallel operations"
        f" (default: the host's -concurrency, at most {DEFAULT_CONCURRENCY}, under OpenSSH's"
        " MaxSessions of 10).",
    )
    set_owner: bool | None = option(
        None,
        kinds={"exporter"},
        help="Restore owner and group (chown). Unset: try, and keep going if the server"
        " refuses; true: a refused chown fails the file; false: never try.",
    )
    skip_permissions: bool = option(
        False,
        kinds={"exporter"},
        help="Leave modes as the server creates them (no chmod, so no setuid/setgid/sticky).",
    )
