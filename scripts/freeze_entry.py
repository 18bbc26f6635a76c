"""Entry point of the frozen multi-call connector program (scripts/freeze.py builds it).

One PyInstaller onedir serves every connector of every integration. Plakar execs the
file a manifest lists, so which connector to serve comes from the executable's own name
(`s3Importer` -> kloset_s3, importer), or from two first arguments
(`kloset-connector s3 importer`) when run by hand.
"""

from __future__ import annotations

import os
import signal
import sys

#: Manifest name -> integration name (`posixfs` is the fs integration's protocol, §7.3).
PACKAGES = {"posixfs": "fs", "s3": "s3", "sftp": "sftp", "gdrive": "gdrive", "onedrive": "onedrive"}
SUFFIXES = {"Importer": "importer", "Exporter": "exporter", "Storage": "storage"}
USAGE = "usage: kloset-connector {fs|s3|sftp|gdrive|onedrive} {importer|exporter|storage}"


def fail(message: str) -> None:
    sys.stderr.write(f"kloset connector: {message}\n")
    sys.stderr.flush()
    os._exit(2)


def pick(argv: list[str]) -> tuple[str, str, list[str]]:
    """(integration, kind, remaining args) from argv[0]'s name or the first two arguments."""
    base = os.path.basename(argv[0])
    for suffix, kind in SUFFIXES.items():
        if base.endswith(suffix) and base[: -len(suffix)] in PACKAGES:
            return PACKAGES[base[: -len(suffix)]], kind, argv[1:]
    if len(argv) >= 3 and argv[1] in PACKAGES.values() and argv[2] in SUFFIXES.values():
        return argv[1], argv[2], argv[3:]
    fail(f"cannot tell which connector to serve from {base!r} {argv[1:3]!r}\n{USAGE}")
    raise AssertionError("unreachable")


def main() -> None:
    # Ctrl-C before the SDK installs its own handler (while importing): quiet, 130.
    signal.signal(signal.SIGINT, lambda *_: os._exit(130))
    name, kind, rest = pick(sys.argv)
    sys.stdout = sys.stderr  # a stray print while importing must never reach the wire (P16)
    import importlib

    from kloset_sdk.entrypoint import serve
    from kloset_sdk.registry import LazyConnectors, connector_specs

    mod = importlib.import_module(f"kloset_{name}")
    specs = connector_specs(mod)
    if kind not in specs:
        fail(f"integration {name} has no {kind}")
    serve(kind, LazyConnectors(tuple(mod.PROTOCOLS), specs[kind]), rest)


if __name__ == "__main__":
    main()
