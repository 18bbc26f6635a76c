"""Tables and summaries (rich). Results go to stdout; the copy summary goes to stderr so that
the command's stdout stays empty and scripts can rely on the exit status."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TextIO

from rich.console import Console
from rich.table import Table

from .bench import Phase
from .progress import Counters, human_bytes, human_time
from .storecheck import Outcome

MAX_FAILURES_SHOWN = 20


def _console(stream: TextIO) -> Console:
    """A terminal gets its own width; a pipe or log gets wide lines rather than folded cells."""
    width = None if stream.isatty() else 140
    return Console(file=stream, highlight=False, soft_wrap=True, width=width)


def print_copy_summary(c: Counters, src: str, dst: str, stream: TextIO | None = None) -> None:
    con = _console(stream or sys.stderr)
    status = "[green]ok[/]" if not c.failed else f"[red]{len(c.failed)} failed[/]"
    con.print(
        f"copied {c.files} files, {c.dirs} directories, {c.links} links/other,"
        f" {human_bytes(c.bytes)} in {human_time(c.elapsed)}"
        f" ({human_bytes(c.rate)}/s): {status}\n  from {src}\n  to   {dst}"
    )
    for path, err in c.failed[:MAX_FAILURES_SHOWN]:
        con.print(f"  [red]FAILED[/] {path}: {err}", markup=True, highlight=False)
    if len(c.failed) > MAX_FAILURES_SHOWN:
        con.print(f"  ... and {len(c.failed) - MAX_FAILURES_SHOWN} more")


def write_summary_json(path: str, c: Counters) -> None:
    """For scripts (scripts/demo): the copy's counts without parsing human output."""
    summary = {
        "files": c.files,
        "dirs": c.dirs,
        "links": c.links,
        "bytes": c.bytes,
        "seconds": round(c.elapsed, 3),
        "failed": [{"path": p, "error": e} for p, e in c.failed],
    }
    with open(path, "w") as f:
        json.dump(summary, f, indent=1)


def print_checks(results: Sequence[Outcome], location: str, stream: TextIO | None = None) -> None:
    table = Table(title=f"store check {location}", title_justify="left")
    table.add_column("check")
    table.add_column("result")
    table.add_column("seconds", justify="right")
    table.add_column("detail", overflow="fold")
    for r in results:
        table.add_row(r.name, "ok" if r.ok else "[red]FAIL[/]", f"{r.seconds:.2f}", r.detail)
    con = _console(stream or sys.stdout)
    con.print(table)
    bad = sum(not r.ok for r in results)
    con.print(f"{len(results) - bad} ok, {bad} failed")


def print_bench(
    phases: Sequence[Phase],
    location: str,
    where: str,
    size: int,
    jobs: int,
    stream: TextIO | None = None,
) -> None:
    table = Table(
        title=f"store bench {location} ({where}, objects of {human_bytes(size)}, {jobs} jobs)",
        title_justify="left",
    )
    for col in ("phase", "objects", "bytes", "seconds", "MB/s", "p50 ms", "p95 ms", "max ms"):
        table.add_column(col, justify="left" if col == "phase" else "right")
    for p in phases:
        table.add_row(
            p.name,
            str(p.count),
            human_bytes(p.bytes),
            f"{p.seconds:.2f}",
            f"{p.mb_per_s:.1f}",
            f"{p.median * 1000:.1f}",
            f"{p.pct(0.95) * 1000:.1f}",
            f"{max(p.latencies, default=0) * 1000:.1f}",
        )
    _console(stream or sys.stdout).print(table)
