"""Config keys several integrations declare alike, declared once here (issue 14).

Each function returns one dataclass field, so an integration composes its options class from
them in the order its schema and README table list the keys:

    location: str = common.location("sftp://host[/path]", pattern=r"^sftp://")
    port: int | None = common.port("SSH port when the location has none.")
    max_retries: int = common.max_retries(2, "Attempts of a call that is safe to repeat.")

What is shared is the key's name, type, bounds and kinds; each integration keeps its own
default and help text (its README and schema say what the value means for it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .options import option

Aliases = Mapping[str, Callable[[Any], Any] | None]
#: Upper bound of every integration's `concurrency`: threads, channels or requests in flight.
MAX_CONCURRENCY = 64
#: Bounds of `max_retries` (attempts per request) and of `timeout` (seconds per request).
MAX_RETRIES = 100
MIN_TIMEOUT, MAX_TIMEOUT = 0.1, 3600
#: The kinds that upload: what `part_size` applies to.
WRITERS = frozenset({"exporter", "storage"})
IMPORTER = frozenset({"importer"})


def location(help: str, *, pattern: str | None = None) -> Any:
    """`location`: the URL Plakar gives every connector; the one key all of them require."""
    return option(required=True, pattern=pattern, help=help)


def port(help: str) -> Any:
    """`port`: a TCP port, for when the location names none (`int | None`)."""
    return option(None, minimum=1, maximum=65535, help=help)


def concurrency(
    default: int | None,
    *,
    help: str,
    kinds: Iterable[str] | None = None,
    aliases: Aliases | None = None,
) -> Any:
    """`concurrency`: parallel operations, 1..MAX_CONCURRENCY; None means the host's value."""
    return option(
        default, kinds=kinds, aliases=aliases, minimum=1, maximum=MAX_CONCURRENCY, help=help
    )


def max_retries(default: int, help: str, *, aliases: Aliases | None = None) -> Any:
    """`max_retries`: attempts per request before its error is final (advanced)."""
    return option(
        default, minimum=1, maximum=MAX_RETRIES, advanced=True, aliases=aliases, help=help
    )


def timeout(default: float, help: str) -> Any:
    """`timeout`: seconds one request may wait for the service (advanced)."""
    return option(default, minimum=MIN_TIMEOUT, maximum=MAX_TIMEOUT, advanced=True, help=help)


def part_size(
    default: int, *, minimum: int, maximum: int, help: str, aliases: Aliases | None = None
) -> Any:
    """`part_size`: bytes per upload piece, within the service's own limits (writers only)."""
    return option(
        default, kinds=WRITERS, minimum=minimum, maximum=maximum, aliases=aliases, help=help
    )


def incremental(help: str, *, aliases: Aliases | None = None) -> Any:
    """`incremental`: an importer that asks the service only for what changed (off by default)."""
    return option(False, kinds=IMPORTER, aliases=aliases, help=help)


def checksums(help: str) -> Any:
    """`checksums`: also send the service's own content hashes as xattrs (off by default: each
    xattr is one more Open per file on every backup, and the hashes are checked on download)."""
    return option(False, kinds=IMPORTER, help=help)


def state_file(default: str | None, help: str) -> Any:
    """`state_file`: where an incremental importer keeps what the next run starts from."""
    return option(default, kinds=IMPORTER, help=help)


def token_file(default: str | None, help: str, *, aliases: Aliases | None = None) -> Any:
    """`token_file`: the login file `klosetctl login` wrote (oauth.TokenFile)."""
    return option(default, aliases=aliases, help=help)


def endpoint(default: str | None, help: str) -> Any:
    """A service URL or host to use instead of the public one (advanced: tests and clouds)."""
    return option(default, advanced=True, help=help)


def text(help: str, *, kinds: Iterable[str] | None = None) -> Any:
    """An optional name or path (`str | None`): unset means the default, "" is refused."""
    return option(None, min_length=1, kinds=kinds, help=help)


def secret(help: str, *, default: str | None = None, min_length: int | None = None) -> Any:
    """A password, key or token: masked in logs and errors, write-only in the schema."""
    return option(default, secret=True, min_length=min_length, help=help)


def importer_flag(help: str, *, default: bool = False) -> Any:
    """A switch that only changes what the importer reads."""
    return option(default, kinds=IMPORTER, help=help)
