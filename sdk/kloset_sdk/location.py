"""Location flags (docs/PROTOCOL.md: Init) and `proto://...` location parsing."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from .errors import ConfigError


class Flag(enum.IntFlag):
    NONE = 0
    LOCALFS = 1
    FILE = 2
    STREAM = 4
    NEEDACK = 8
    NOMERGE = 16
    EXPORTXATTR = 32


#: Manifest spelling of each flag (`location_flags`), as `location.ParseFlag` accepts them.
FLAG_NAMES = {
    "localfs": Flag.LOCALFS,
    "file": Flag.FILE,
    "stream": Flag.STREAM,
    "needack": Flag.NEEDACK,
    "nomerge": Flag.NOMERGE,
    "exportxattr": Flag.EXPORTXATTR,
}

PROTO_RE = re.compile(r"^([A-Za-z0-9+.-]{2,}):(.*)$", re.S)


@dataclass(frozen=True)
class Location:
    """A parsed `proto://[user@]host[:port][/path]`; `path` is unquoted and keeps its leading /."""

    proto: str
    user: str
    host: str
    port: int | None
    path: str
    raw: str

    @property
    def path_parts(self) -> list[str]:
        return [p for p in self.path.split("/") if p]


def parse_location(raw: str, key: str = "location", expect: str | None = None) -> Location:
    """Parse a location URI the way Plakar sends it (always `proto://rest`, P23)."""
    m = PROTO_RE.match(raw or "")
    if not m:
        raise ConfigError(key, f'"{raw}" is not a location of the form <proto>://...')
    proto, rest = m.group(1).lower(), m.group(2)
    if expect is not None and proto != expect:
        raise ConfigError(key, f'expected a {expect}:// location, got "{proto}://"')
    if not rest.startswith("//"):
        rest = "//" + rest
    try:
        parts = urlsplit("x:" + rest)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(key, f'"{raw}" is malformed: {exc}') from None
    if parts.netloc.count("@") > 1:  # urlsplit would keep "user@" as the user name
        raise ConfigError(key, f'"{raw}" has more than one @ before the host (write @ as %40)')
    user = unquote(parts.username or "")
    host = parts.hostname or ""
    if parts.netloc and "[" in parts.netloc:
        host = parts.netloc.rsplit("@", 1)[-1].split("]")[0].lstrip("[")
    path = unquote(parts.path) if parts.path else ""
    if parts.query:
        path += "?" + parts.query
    return Location(proto=proto, user=user, host=host, port=port, path=path, raw=raw)


def flags_from_names(names: list[str]) -> Flag:
    out = Flag.NONE
    for n in names:
        if n not in FLAG_NAMES:
            raise ValueError(f"unknown flag {n!r} (known: {', '.join(FLAG_NAMES)})")
        out |= FLAG_NAMES[n]
    return out
