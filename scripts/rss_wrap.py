"""Run a command with inherited stdio and record its peak memory (KiB) into $RSS_OUT.

gohost spawns one executable; wrapping the plugin in this lets a benchmark read the plugin's
own peak memory, not gohost's. A Python plugin is two processes (the gRPC server and the
stdio relay it forks, see kloset_sdk/transport.py), so the figure is the peak of the summed RSS
of the command's whole process tree, sampled every 10 ms; it is never below the exact
ru_maxrss of the largest process, which wait4 reports. Summing RSS counts the pages the relay
shares with the server twice: a conservative figure, never a flattering one.
"""

from __future__ import annotations

import os
import sys
import threading
import time

INTERVAL = 0.01


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants (Linux /proc; just `pid` elsewhere)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            pass
    return out


def main() -> int:
    out = os.environ["RSS_OUT"]
    pid = os.fork()
    if pid == 0:
        os.execvp(sys.argv[1], sys.argv[1:])
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], sum(_rss_kib(p) for p in _tree(pid)))
            time.sleep(INTERVAL)

    threading.Thread(target=sample, daemon=True).start()
    _, status, usage = os.wait4(pid, 0)
    done.set()
    with open(out, "w") as f:
        f.write(str(max(peak[0], usage.ru_maxrss)))
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
