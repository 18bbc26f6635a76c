"""Shared fixtures: plugin launchers, gohost, and the server/emulator fixtures."""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOHOST = ROOT / ".build" / "bin" / "gohost"
GOREF = ROOT / ".build" / "bin" / "gorefplugin"
#: Every integration, by the name scripts/package takes.
INTEGRATIONS = ("fs", "s3", "sftp", "gdrive", "onedrive")

pytest_plugins = [
    m
    for m in ("tests.emulators.fixtures", "tests.conformance.options")
    if importlib.util.find_spec(m) is not None
]


def plugin_argv(name: str, kind: str) -> list[str]:
    """How tests start one of our plugins: the same entry the packaged launchers call."""
    return [sys.executable, "-m", "kloset_sdk.plugin", name, kind]


def example_argv(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", f"kloset_sdk.examples.{module}", *args]


def run_gohost(
    mode: str,
    argv: Sequence[str],
    proto: str,
    config: Mapping[str, str],
    *extra: str,
    timeout: float = 600,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Run `gohost MODE` (Plakar v1.1.4's own client packages) on a plugin; returns its summary."""
    if not GOHOST.exists():
        pytest.fail(f"{GOHOST} is missing: run scripts/build_go (it builds go/wirehost; needs Go)")
    cmd = [str(GOHOST), mode, "-exe", argv[0]]
    for a in argv[1:]:
        cmd += ["-arg", a]
    cmd += ["-proto", proto]
    for k, v in config.items():
        cmd += ["-c", f"{k}={v}"]
    cmd += list(extra)
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=dict(env) if env else None
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        pytest.fail(f"gohost printed no summary (exit {proc.returncode}): {proc.stderr[-2000:]}")
    out: dict[str, Any] = json.loads(lines[-1])
    out["_stderr"] = proc.stderr
    return out


@pytest.fixture(scope="session")
def gohost() -> Callable[..., dict[str, Any]]:
    return run_gohost


@pytest.fixture
def clean_env() -> dict[str, str]:
    """The environment without proxies or CA overrides that would redirect test traffic."""
    env = dict(os.environ)
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env.pop(k, None)
    return env


@pytest.fixture(scope="session")
def host_packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One host-only build of the five packages per run, shared by tests/packaging and tests/e2e.

    `scripts/package --host-only` leaves `<name>/` (the unpacked package) and the `.ptar` that
    `plakar pkg create` made of it. Under pytest-xdist the workers share one build: the first
    to take the lock builds, the others wait and reuse it."""
    from kloset_sdk.harness.plakar import find_plakar

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # shared by every worker of this run
    out = base / "host-packages"
    with open(base / "host-packages.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "BUILT").exists():
            try:
                plakar = find_plakar(ROOT)
            except FileNotFoundError as exc:
                pytest.fail(str(exc))
            proc = subprocess.run(
                [str(ROOT / "scripts" / "package"), "--host-only", "--out", str(out)]
                + list(INTEGRATIONS),
                capture_output=True,
                text=True,
                timeout=900,
                env={**os.environ, "PLAKAR": str(plakar)},
            )
            assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
            (out / "BUILT").touch()
    return out
