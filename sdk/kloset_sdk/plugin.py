"""`python -m kloset_sdk.plugin NAME KIND`: serve an installed integration on stdin/stdout."""

from __future__ import annotations

import sys


def main() -> None:
    from .entrypoint import quiet_interrupts

    quiet_interrupts()  # importing the integration can take a while: no traceback on Ctrl-C
    if len(sys.argv) < 3:
        sys.stderr.write("usage: python -m kloset_sdk.plugin NAME importer|exporter|storage\n")
        sys.exit(2)
    from .registry import serve_integration

    serve_integration(sys.argv[1], sys.argv[2])


if __name__ == "__main__":
    main()
