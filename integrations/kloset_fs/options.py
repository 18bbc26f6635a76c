"""Every config key of the fs integration, once.

Keys keep the Go fs integration's names (`location`, `dont_traverse_fs`) so a user can swap
the Go plugin for this one without touching `plakar source|destination|store add` lines.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from kloset_sdk import ConfigError, option
from kloset_sdk import common_options as common

PROTO = "posixfs"
#: Walk workers when neither the `concurrency` option nor the host's maxconcurrency says otherwise.
DEFAULT_WORKERS = 8
MAX_WORKERS = common.MAX_CONCURRENCY


@dataclass(frozen=True)
class FsOptions:
    location: str = common.location(
        "posixfs:///absolute/path (Plakar joins a relative path to its working directory)."
    )
    excludes: list[str] = option(
        [],
        kinds=common.IMPORTER,
        help="Extra gitignore-style patterns (`!` negates), matched against absolute paths;"
        " added to the host's excludes. A JSON list, or comma-separated.",
    )
    dont_traverse_fs: bool = common.importer_flag(
        "Stay on the filesystem of the root: a mount point is recorded but not entered."
    )
    concurrency: int | None = common.concurrency(
        None,
        kinds=common.IMPORTER,
        aliases={"workers": None},
        help="Directories listed in parallel. Default: the host's concurrency, else 8.",
    )


def root_path(location: str, proto: str = PROTO) -> str:
    """The absolute, normalised directory a `posixfs://` location names.

    Like the Go integration, strip `<proto>://` and keep the rest verbatim (no URL decoding):
    `posixfs://rel/dir` is a relative path, not a host, and is refused here rather than
    silently resolved against the plugin's own working directory.
    """
    prefix = f"{proto}://"
    if not location.startswith(prefix):
        raise ConfigError("location", f'"{location}" is not of the form {prefix}/absolute/path')
    path = location[len(prefix) :]
    if "\x00" in path:
        raise ConfigError("location", "contains a NUL byte")
    if not path.startswith("/"):
        raise ConfigError(
            "location",
            f'"{path}" is a relative path; use {prefix}/absolute/path',
        )
    return os.path.normpath(path).replace("//", "/")
