"""Run every benchmark section and write one table to docs/BENCHMARKS.md.

Each section is a module with `run(quick) -> rows` (figure, ours, reference, ratio, unit, and
optionally spread: a section whose rows carry it gets a spread column); a section without a
reference (the scale curve) renders its own table with `render(rows)`.
Throughput, time and memory figures are the median of at least 3 runs, ours and the reference
interleaved; request counts are exact (one run). A module may name its reference column
(`REFERENCE`, e.g. "rclone v1.75.2 (run)") and add a `NOTE` printed under its table.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

SECTIONS = [
    ("Transport (vs gorefplugin under gohost)", "bench_transport"),
    ("S3 (vs plain boto3 on the same SeaweedFS)", "bench_s3"),
    ("SFTP (vs plain paramiko on the same sshd)", "bench_sftp"),
    ("Google Drive (requests and time on the emulator, vs the real rclone)", "bench_drive"),
    ("OneDrive (requests and time on the emulator, vs the real rclone)", "bench_onedrive"),
    ("Under the real Plakar (s3 vs refs3, posixfs vs built-in fs)", "bench_plakar"),
    ("Scale (an import's time, requests and peak RSS as the source grows)", "bench_scale"),
]


def machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.machine()}, {os.cpu_count()} cores ({cpu or 'unknown CPU'}), "
        f"{mem:.0f} GiB RAM, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def _num(x: float) -> str:
    """One decimal; three significant digits below 1 (a small tree's MB/s), not 0.0."""
    return f"{x:,.1f}" if abs(x) >= 1 or x == 0 else f"{x:.3g}"


def ratios(markdown: str) -> dict[tuple[str, str], float]:
    """(section, figure) -> ratio of every table row of a BENCHMARKS.md."""
    found: dict[tuple[str, str], float] = {}
    section = ""
    for line in markdown.splitlines():
        if line.startswith("### "):
            section = line[4:].strip()
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) >= 5 and cells[3].endswith("x"):
            try:
                found[(section, cells[0])] = float(cells[3][:-1].replace(",", ""))
            except ValueError:
                continue
    return found


def worse(before: dict[tuple[str, str], float], after: dict[tuple[str, str], float]) -> list[str]:
    """Rows whose ratio fell by more than 10 % since the previous BENCHMARKS.md."""
    out = []
    for key, now in after.items():
        was = before.get(key)
        if was is not None and now < was * 0.9:
            out.append(f"| {key[0]} | {key[1]} | {was:.2f}x | {now:.2f}x |")
    return out


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    only = [a for a in argv if not a.startswith("-")]
    out: list[str] = []
    failed = 0
    t0 = time.monotonic()
    for title, mod_name in SECTIONS:
        if only and mod_name not in only and mod_name.removeprefix("bench_") not in only:
            continue
        print(f"== {title}", file=sys.stderr)
        try:
            rows: list[dict[str, Any]] = importlib.import_module(mod_name).run(quick=quick)
        except Exception:  # report the section as failed, run the others
            failed += 1
            out += [f"\n### {title}\n", "```", traceback.format_exc()[-2000:], "```"]
            continue
        mod = sys.modules[mod_name]
        render = getattr(mod, "render", None)
        if render is not None:  # a section with a table of its own (no reference column)
            out += [f"\n### {title}\n", render(rows)]
            continue
        reference = getattr(mod, "REFERENCE", "reference")
        spread = any("spread" in r for r in rows)
        out += [
            f"\n### {title}\n",
            f"| figure | ours | {reference} | ratio |{' spread |' if spread else ''} unit |",
            "|---|---|---|---|---|" + ("---|" if spread else ""),
        ]
        for r in rows:
            cells = [
                r["figure"],
                _num(r["ours"]),
                _num(r["reference"]),
                f"{r['ratio']:.2f}x",
            ]
            if spread:
                cells.append(str(r.get("spread", "")))
            out.append("| " + " | ".join([*cells, r["unit"]]) + " |")
        note = getattr(mod, "NOTE", "")
        if note:
            out += ["", note]
    took = time.monotonic() - t0
    rev = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    table = "\n".join(out)
    print(table)
    if not quick and not only:
        head = (
            "# Benchmarks\n\n"
            f"Measured {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC at commit {rev}"
            f" on {machine()}, "
            f"with `scripts/bench` ({took / 60:.1f} minutes). Ratio > 1 means ours is better "
            "(faster, fewer requests, less memory). Throughput, time and memory figures "
            "(transport, S3, SFTP, under Plakar) are the median of at least 3 runs, ours and the "
            "reference "
            "interleaved in the same run. Request counts (Google Drive, OneDrive) are exact counts "
            "from one run against the emulators, ours and the real rclone's on the same emulator "
            "(each section says how rclone reaches it).\n"
        )
        notes = ROOT / "docs" / "BENCHMARKS.notes.md"
        previous = ROOT / "docs" / "BENCHMARKS.md"
        before = ratios(previous.read_text()) if previous.exists() else {}
        fell = worse(before, ratios(table))
        if fell:
            table += (
                "\n\n### Worse than the previous run (ratio down by more than 10 %)\n\n"
                "| section | figure | previous | now |\n|---|---|---|---|\n" + "\n".join(fell)
            )
        body = head + table + "\n"
        if notes.exists():
            body += "\n" + notes.read_text()
        (ROOT / "docs" / "BENCHMARKS.md").write_text(body)
        print("bench: wrote docs/BENCHMARKS.md", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
