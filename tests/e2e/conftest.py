"""The real Plakar as the host: our `.ptar` packages installed with `plakar pkg add`.

One host-only build of the five packages per session (scripts/package, which runs
`plakar pkg create`), installed into one private Plakar home. Plakar starts our plugins with
its own environment, so that home's PATH is `/usr/bin:/bin`: the launchers run on Debian's bare
python3, as on a user's machine, and nothing of the test virtualenv leaks in.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kloset_sdk.harness.plakar import PTAR_NAME, PlakarHome, find_plakar
from tests.conftest import ROOT
from tests.e2e.backends import E2EBackends

#: Package (file) names, as `plakar pkg list` shows them.
PACKAGES = {"fs": "posixfs", "s3": "s3", "sftp": "sftp", "gdrive": "gdrive", "onedrive": "onedrive"}
PASSPHRASE = "e2e correct horse battery staple"


@pytest.fixture(scope="session")
def plakar_bin() -> Path:
    try:
        path = find_plakar(ROOT)
    except FileNotFoundError as exc:
        pytest.fail(str(exc))
    proc = subprocess.run(
        [str(path), "version"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    assert "plakar/v" in proc.stdout, proc.stdout + proc.stderr
    return path


@pytest.fixture(scope="session")
def ptars(host_packages: Path, plakar_bin: Path) -> dict[str, Path]:
    """name -> the .ptar file `scripts/package --host-only` wrote for this machine."""
    out = host_packages
    found: dict[str, Path] = {}
    for name, pkg in PACKAGES.items():
        files = sorted(out.glob(f"{pkg}_*.ptar"))
        assert len(files) == 1, f"{pkg}: expected one .ptar in {out}, found {files}"
        m = PTAR_NAME.match(files[0].name)
        assert m and m["name"] == pkg, files[0].name
        found[name] = files[0]
    return found


@pytest.fixture(scope="session")
def plakar(plakar_bin: Path, ptars: dict[str, Path]) -> Iterator[PlakarHome]:
    """A Plakar home with all five packages installed, encrypted repositories by default."""
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    home = PlakarHome(plakar_bin, env=env, passphrase=PASSPHRASE)
    for ptar in ptars.values():
        home.pkg_add(ptar)
    yield home
    home.close()


@pytest.fixture(scope="session")
def backends(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[E2EBackends]:
    b = E2EBackends(tmp_path_factory.mktemp("e2e-backends"), request.getfixturevalue)
    yield b
    b.stop()
