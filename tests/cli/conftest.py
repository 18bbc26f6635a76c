"""Helpers for the klosetctl tests: run the real command in a subprocess.

tests/cli/plugins holds three test integrations (`tree`, `mem`, `flaky`) that the plugin
processes find through PYTHONPATH, exactly as installed integrations are found by name.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.conftest import ROOT

PLUGINS = Path(__file__).with_name("plugins")


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLOSET_")}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(PLUGINS), str(ROOT), str(ROOT / "sdk"), str(ROOT / "integrations")]
    )
    env.update(extra)
    return env


def klosetctl(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 180,
    cwd: Path | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kloset_cli", *args],
        env=env or cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        input=stdin,
    )


def make_tree(root: Path, files: Sequence[tuple[str, bytes]]) -> Path:
    for rel, data in files:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return root


@pytest.fixture
def src_tree(tmp_path: Path) -> Path:
    return make_tree(
        tmp_path / "src",
        [
            ("a.txt", b"alpha\n"),
            ("sub/b.bin", os.urandom(2_500_000)),
            ("sub/empty", b""),
            ("sub/deeper/c.txt", b"c" * 1000),
        ],
    )
