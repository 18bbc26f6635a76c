"""`python -m kloset_sdk.plugin NAME KIND`: serve an installed integration on stdin/stdout."""

from __future__ import annotations

import sys


def main() -> None:
    from .entrypoint import quiet_interrupts

    quiet_interrupts()  # importing the integration can take a while: no traceback on Ctrl-C
    if len(sys.argv) < 3:
        sys.stderr.write("usage: python -m kloset_sdk.plugin NAME importer|exporter|storage\n")
        sys.exit(2)
    from .errors import KlosetError
    from .registry import serve_integration

    try:
        serve_integration(sys.argv[1], sys.argv[2])
    except KlosetError as exc:  # not installed, no such kind: one line, before serving
        sys.stderr.write(f"kloset plugin {sys.argv[1]} {sys.argv[2]}: {exc}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
