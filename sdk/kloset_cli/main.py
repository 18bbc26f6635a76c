"""`klosetctl`: command-line entry point.

`klosetctl plugin NAME KIND` is what packaged executables and scripts exec, so it is handled
before argparse or rich are imported: Plakar waits for the plugin's first answer (P17) and
every millisecond of imports is paid on each spawn.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn


def _plugin_fast_path(argv: list[str]) -> None:
    if len(argv) >= 1 and argv[0] == "plugin":
        import signal

        # Ctrl-C reaches plugins too: exit 130 quietly while importing (serving takes over).
        signal.signal(signal.SIGINT, lambda signum, frame: os._exit(130))
        if len(argv) != 3 or argv[2] not in ("importer", "exporter", "storage"):
            sys.stderr.write("usage: klosetctl plugin NAME importer|exporter|storage\n")
            sys.exit(2)
        from kloset_sdk.errors import KlosetError
        from kloset_sdk.registry import serve_integration

        try:
            serve_integration(argv[1], argv[2])
        except KlosetError as exc:  # not installed, no such kind: before anything is served
            sys.stderr.write(f"klosetctl plugin {argv[1]} {argv[2]}: {exc}\n")
            sys.exit(2)


def main(argv: list[str] | None = None) -> NoReturn:
    args = sys.argv[1:] if argv is None else argv
    # grpc-core logs every GOAWAY of a finished plugin at INFO; only errors matter here.
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    _plugin_fast_path(args)
    from .commands import run

    sys.exit(run(args))


if __name__ == "__main__":
    main()
