"""Small checks on what a plakar command printed, shared by the end-to-end tests."""

from __future__ import annotations

import re
import subprocess
import uuid

from kloset_sdk.harness.plakar import PlakarHome

#: A snapshot id as `plakar ls` prints it (8 hex digits, second column).
SNAPSHOT_LINE = re.compile(r"^\S+\s+([0-9a-f]{8})\s")


def ok(proc: subprocess.CompletedProcess[str], what: str = "") -> str:
    """Assert a plakar command succeeded with no Python traceback anywhere; returns stdout."""
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{what} exited {proc.returncode}:\n{out[-4000:]}"
    assert "Traceback" not in out, f"{what} printed a Python traceback:\n{out[-4000:]}"
    return proc.stdout


def failed(proc: subprocess.CompletedProcess[str], what: str = "") -> str:
    """Assert a plakar command failed cleanly (non-zero, no traceback); returns its output."""
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, f"{what} should have failed:\n{out[-4000:]}"
    assert "Traceback" not in out, f"{what} printed a Python traceback:\n{out[-4000:]}"
    return out


def snapshots(plakar: PlakarHome, repo: str) -> list[str]:
    """Snapshot ids of a repository, newest first (as `plakar ls` lists them)."""
    out = ok(plakar.run("at", repo, "ls"), f"ls {repo}")
    return [m[1] for m in map(SNAPSHOT_LINE.match, out.splitlines()) if m]


def add_config(plakar: PlakarHome, kind: str, location: str, kv: list[str]) -> str:
    """`plakar store|source|destination add` under a fresh name; returns `@name`."""
    name = f"{kind[:2]}{uuid.uuid4().hex[:10]}"
    ok(plakar.run(kind, "add", name, location, *kv), f"{kind} add")
    return "@" + name
