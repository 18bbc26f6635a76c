"""Smoke test of scripts/demo, the README's main command: it sets up (idempotent), installs
the packages into the real plakar, backs up both drives into S3, checks and restores."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

DEMO = ROOT / "scripts" / "demo"
STEPS = [
    "build + plakar pkg add",
    "create S3 repository",
    "backup Google Drive → S3",
    "backup OneDrive → S3",
    "check S3 repository",
    "restore Google Drive → local",
    "restore OneDrive → local",
    "restore OneDrive → SFTP",
    "store check posixfs",
    "store check s3",
    "store check sftp",
    "store check gdrive",
    "store check onedrive",
]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return (
        Path(f"/proc/{pid}/stat").exists()
        and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]
    )


def test_demo_runs_every_step_and_stops_its_servers(tmp_path: Path) -> None:
    t0 = time.monotonic()
    proc = subprocess.run(
        [str(DEMO), "--keep", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=400,
        stdin=subprocess.DEVNULL,
    )
    took = time.monotonic() - t0
    assert proc.returncode == 0, proc.stdout + proc.stderr[-6000:]
    rows = [ln for ln in proc.stdout.splitlines() if ln.startswith("│")]
    for step in STEPS:
        row = next((r for r in rows if r.startswith(f"│ {step} ")), None)
        assert row is not None and "│ ok" in row, (step, proc.stdout)
    assert "all steps ok" in proc.stderr
    restored = tmp_path / "restored"
    copied = {p.relative_to(restored).as_posix() for p in restored.rglob("*")}
    assert "gdrive/Projects/report.pdf" in copied
    assert "onedrive/Pictures/Camera Roll/IMG_0001.jpg" in copied
    assert "$ plakar pkg add" in proc.stderr and "$ plakar at @demo-s3 backup" in proc.stderr
    assert "testsecret" not in proc.stderr, "the demo printed a secret"
    pids = json.loads((tmp_path / "servers.json").read_text())
    assert not [p for p in pids.values() if alive(p)], "servers outlived the demo"
    print(f"demo took {took:.0f}s")


def test_demo_interrupted_stops_its_servers(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [str(DEMO), "--no-setup", "--keep", str(tmp_path), "--only", "check"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    pids_file = tmp_path / "servers.json"
    deadline = time.monotonic() + 120
    while not pids_file.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if proc.poll() is not None:
        pytest.fail(f"demo ended before its servers were up: {proc.communicate()}")
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-3000:]
    assert "interrupted" in err
    pids = json.loads(pids_file.read_text())
    assert not [p for p in pids.values() if alive(p)], "servers outlived the interrupted demo"
