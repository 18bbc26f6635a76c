"""Fixtures for the packaging tests: one host-only build of every package, a bare interpreter.

The build goes to a temporary directory (`scripts/package --host-only --out ...`), so a
developer's full dist/plakar/ is never overwritten, and only the running CPython/arch is
packaged, which keeps the session build to seconds on a warm wheel cache.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import INTEGRATIONS, ROOT

ALL = list(INTEGRATIONS)
BARE_PYTHON = Path("/usr/bin/python3")


def available() -> list[str]:
    """Every integration: a missing manifest is a failure of this suite, not a smaller one."""
    missing = [n for n in ALL if not (ROOT / "manifests" / n / "manifest.yaml").is_file()]
    if missing:
        raise RuntimeError(f"manifests missing for {missing}: every integration ships one")
    return list(ALL)


@pytest.fixture(scope="session")
def packages(host_packages: Path) -> dict[str, Path]:
    return {n: host_packages / n for n in available()}


def unpack(pkg: Path, env: dict[str, str], python: str = str(BARE_PYTHON)) -> str:
    """What a package's first run does before serving: returns the unpacked code directory."""
    code = "import kloset_boot; print(kloset_boot.prepare())"
    proc = subprocess.run(
        [python, "-c", code],
        env={**env, "PYTHONPATH": str(pkg / "lib")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.fixture(scope="session")
def bare_env(
    tmp_path_factory: pytest.TempPathFactory, packages: dict[str, Path]
) -> Iterator[dict[str, str]]:
    """`env -i PATH=/usr/bin:/bin` plus a private HOME/cache: nothing of the venv leaks in.

    Every package is unpacked once up front (its first run), so the gohost runs below measure
    the steady state: on a loaded 2-core machine a first run can outlast the host's 20 s
    handshake window, which would fail a test for the machine's sake, not the package's."""
    if not BARE_PYTHON.exists():
        pytest.fail(f"{BARE_PYTHON} is missing: apt-get install python3 (Debian's interpreter)")
    home = tmp_path_factory.mktemp("home")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "XDG_CACHE_HOME": str(home / "cache")}
    for pkg in packages.values():
        unpack(pkg, env)
    yield env
    shutil.rmtree(home, ignore_errors=True)


def executable(pkg: Path, kind: str) -> str:
    """The manifest's executable for `kind`."""
    import yaml

    manifest = yaml.safe_load((pkg / "manifest.yaml").read_text())
    for conn in manifest["connectors"]:
        if conn["type"] == kind:
            return str(pkg / conn["executable"])
    raise LookupError(f"{pkg.name} has no {kind}")


def protocol(pkg: Path, kind: str) -> str:
    import yaml

    manifest = yaml.safe_load((pkg / "manifest.yaml").read_text())
    return next(c["protocols"][0] for c in manifest["connectors"] if c["type"] == kind)
