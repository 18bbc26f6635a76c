"""Progress on stderr: a rich bar on a terminal, periodic plain lines in logs and CI.

stdout stays clean for data (`ls`), and a non-terminal stderr (CI, `2> log`) gets one readable
line every few seconds instead of carriage-return animation.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, TextIO


@dataclass
class Counters:
    """What a copy has done so far; totals come later from the statistics importer."""

    files: int = 0
    dirs: int = 0
    links: int = 0
    bytes: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    total_files: int | None = None
    total_bytes: int | None = None
    started: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def fail(self, path: str, error: str) -> None:
        with self.lock:
            self.failed.append((path, error))

    @property
    def elapsed(self) -> float:
        return max(time.monotonic() - self.started, 1e-9)

    @property
    def rate(self) -> float:
        return self.bytes / self.elapsed

    def eta(self) -> float | None:
        if self.total_bytes is None or self.rate <= 0:
            return None
        return max(self.total_bytes - self.bytes, 0) / self.rate


def human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def human_time(secs: float | None) -> str:
    if secs is None:
        return "?"
    secs = int(secs + 0.5)
    return f"{secs // 60}m{secs % 60:02d}s" if secs >= 60 else f"{secs}s"


def plain_line(c: Counters, label: str) -> str:
    files = f"{c.files}" + (f"/{c.total_files}" if c.total_files is not None else "")
    size = human_bytes(c.bytes) + (
        f"/{human_bytes(c.total_bytes)}" if c.total_bytes is not None else ""
    )
    fails = f", {len(c.failed)} failed" if c.failed else ""
    return (
        f"{label}: {files} files, {size}, {human_bytes(c.rate)}/s, ETA {human_time(c.eta())}{fails}"
    )


class Reporter:
    """Start/stop around a copy; `refresh()` is cheap and may be called per chunk."""

    def __init__(
        self, counters: Counters, label: str, mode: str = "auto", stream: TextIO | None = None
    ):
        self.c = counters
        self.label = label
        self.stream = stream or sys.stderr
        if mode == "auto":
            mode = "rich" if self.stream.isatty() else "plain"
        self.mode = mode
        self._progress: Any = None
        self._task: Any = None
        self._last = 0.0
        self.interval = 2.0

    def __enter__(self) -> Reporter:
        if self.mode == "rich":
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[files]} files"),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.label, total=None, files="0")
        return self

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.mode == "rich" and self._progress is not None:
            c = self.c
            files = f"{c.files}" + (f"/{c.total_files}" if c.total_files is not None else "")
            self._progress.update(self._task, completed=c.bytes, total=c.total_bytes, files=files)
        elif self.mode == "plain" and (force or now - self._last >= self.interval):
            self._last = now
            self.stream.write(plain_line(self.c, self.label) + "\n")
            self.stream.flush()

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:  # an error or Ctrl-C has its own message: no last progress line
            self.refresh(force=True)
        if self._progress is not None:
            self._progress.stop()
