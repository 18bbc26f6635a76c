"""Run a command with inherited stdio and record its peak RSS (KiB) into $RSS_OUT.

gohost spawns one executable; wrapping the plugin in this lets a benchmark read the plugin's
own peak memory (ru_maxrss of the child), not gohost's.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    out = os.environ["RSS_OUT"]
    pid = os.fork()
    if pid == 0:
        os.execvp(sys.argv[1], sys.argv[1:])
    _, status, usage = os.wait4(pid, 0)
    with open(out, "w") as f:
        f.write(str(usage.ru_maxrss))
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
