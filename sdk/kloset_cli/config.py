"""Locations in Plakar's syntax and config maps built from files, the environment and argv.

Precedence, lowest first: a config file, `KLOSET_<ROLE>_<KEY>` environment variables, then
`key=value` arguments. Secrets can therefore stay in a 0600 file or the environment and off the
command line (where `ps` shows them to every user).
"""

from __future__ import annotations

import configparser
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from kloset_sdk.errors import ConfigError

#: Same rule as the host: a protocol is at least two characters of [A-Za-z0-9+.-] (P23).
PROTO_RE = re.compile(r"^([A-Za-z0-9+.-]{2,}):(.*)$", re.S)
#: The local filesystem integration's protocol (Plakar reserves `fs`, docs/PROTOCOL.md: Manifests
#: and packages).
LOCAL_PROTO = "posixfs"
#: Names a user may type that mean the local filesystem integration.
LOCAL_ALIASES = {"fs", "file", LOCAL_PROTO}
ENV_PREFIX = {"src": "KLOSET_SRC_", "dst": "KLOSET_DST_", "store": "KLOSET_STORE_"}


class CliError(Exception):
    """A user-facing error: printed as one line; exit status 2 (usage, config) unless given.

    1 is for a connector that failed while running (the remote side, or the plugin itself),
    as for a copy with failed records.
    """

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


def normalize_location(raw: str, cwd: str | None = None) -> tuple[str, str]:
    """`(proto, "proto://rest")` as Plakar would send it in Init (docs/PROTOCOL.md: Init).

    No protocol prefix means a local path, resolved against `cwd`, as the host does for
    LOCALFS registrations: `./backup` and `/srv/data` both become `posixfs:///abs/path`.
    """
    m = PROTO_RE.match(raw)
    if m is None:
        proto, rest = LOCAL_PROTO, raw
    else:
        proto, rest = m.group(1).lower(), m.group(2)
    if rest.startswith("//"):
        rest = rest[2:]
    if proto in LOCAL_ALIASES:
        proto = LOCAL_PROTO
        rest = os.path.abspath(os.path.join(cwd or os.getcwd(), os.path.expanduser(rest or ".")))
    return proto, f"{proto}://{rest}"


def parse_pairs(pairs: Iterable[str], what: str = "option") -> dict[str, str]:
    """`key=value` strings to a dict; a bare word is an error that says what was expected."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CliError(f'{what} "{pair}" is not of the form key=value')
        out[key] = value
    return out


def read_config_file(spec: str) -> dict[str, str]:
    """Read FILE or FILE#SECTION: JSON object, TOML table, INI section, or `key=value` lines."""
    path_s, _, section = spec.partition("#")
    path = Path(path_s).expanduser()
    try:
        text = path.read_text()
    except OSError as exc:
        raise CliError(f"config file {path}: {exc.strerror or exc}") from None
    suffix = path.suffix.lower()
    data: Mapping[str, object]
    if suffix == ".json" or text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CliError(f"config file {path}: not valid JSON ({exc})") from None
    elif suffix == ".toml":
        data = _toml(path, text)
    elif re.search(r"^\s*\[[^\]]+\]\s*$", text, re.M):
        parser = configparser.ConfigParser(interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read_string(text, source=str(path))
        sections = parser.sections()
        if not section and len(sections) == 1:
            section = sections[0]
        if section not in sections:
            raise CliError(
                f"config file {path}: name a section with {path}#SECTION"
                f" (has: {', '.join(sections)})"
            )
        data = dict(parser[section])
        section = ""
    else:
        data = parse_pairs(
            (ln.strip() for ln in text.splitlines() if ln.strip() and ln.lstrip()[0] not in "#;"),
            what=f"line in {path}",
        )
    if section:
        inner = data.get(section)
        if not isinstance(inner, Mapping):
            raise CliError(f"config file {path}: no table named {section!r}")
        data = inner
    if not isinstance(data, Mapping):
        raise CliError(f"config file {path}: expected an object of key/value pairs")
    return {str(k): _as_string(v) for k, v in data.items()}


def _toml(path: Path, text: str) -> Mapping[str, object]:
    if sys.version_info < (3, 11):
        raise CliError(f"config file {path}: TOML needs Python 3.11+; use JSON or INI")
    import importlib

    tomllib = importlib.import_module("tomllib")  # mypy targets 3.10, which lacks it
    try:
        return dict(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise CliError(f"config file {path}: not valid TOML ({exc})") from None


def _as_string(value: object) -> str:
    """Plakar sends every config value as a string (§3.2): do the same for files."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def from_env(role: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """`KLOSET_SRC_ACCESS_KEY=...` -> {"access_key": ...} for role "src"."""
    prefix = ENV_PREFIX[role]
    env = os.environ if environ is None else environ
    return {
        k[len(prefix) :].lower(): v for k, v in env.items() if k.startswith(prefix) and k != prefix
    }


def build_config(
    location: str,
    role: str,
    pairs: Iterable[str] = (),
    files: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
) -> tuple[str, dict[str, str]]:
    """`(proto, config)` for one connector; `location` always wins over a `location` key."""
    config: dict[str, str] = {}
    for spec in files:
        config.update(read_config_file(spec))
    config.update(from_env(role, environ))
    config.update(parse_pairs(pairs))
    if not location:
        location = config.get("location", "")
    if not location:
        raise CliError(f"no {role} location given")
    proto, config["location"] = normalize_location(location)
    return proto, config


def split_prefixed(options: Iterable[str]) -> tuple[list[str], list[str]]:
    """`-o src.key=v` / `-o dst.key=v` (also `src:key=v`) into (source pairs, destination pairs)."""
    src: list[str] = []
    dst: list[str] = []
    for opt in options:
        m = re.match(r"^(src|source|dst|dest|destination)[.:](.+)$", opt)
        if m is None:
            raise CliError(
                f'-o "{opt}": prefix the key with src. or dst. (e.g. -o dst.use_tls=false)'
            )
        (src if m.group(1).startswith("s") else dst).append(m.group(2))
    return src, dst


def redacted(config: Mapping[str, str]) -> dict[str, str]:
    """The config with likely secrets masked, for messages and `--verbose` output."""
    secret = re.compile(r"secret|password|passphrase|token|private_key|key$", re.I)
    return {k: ("***" if secret.search(k) and k != "location" else v) for k, v in config.items()}


__all__ = [
    "CliError",
    "ConfigError",
    "build_config",
    "from_env",
    "normalize_location",
    "parse_pairs",
    "read_config_file",
    "redacted",
    "split_prefixed",
]
