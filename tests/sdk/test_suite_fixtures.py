"""A conformance subclass that forgets a fixture fails, naming it (kloset_sdk.testing.suite)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_forgotten_fixture_is_named(tmp_path: Path) -> None:
    (tmp_path / "test_forgot.py").write_text(
        "from kloset_sdk.testing import ImporterConformance\n"
        "class TestForgot(ImporterConformance):\n"
        "    pass\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "test_forgot.py"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT / "sdk"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0, proc.stdout
    assert "TestForgot must provide a class-scoped importer_argv fixture" in proc.stdout, (
        proc.stdout[-3000:]
    )
