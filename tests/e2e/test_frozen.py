"""The self-contained packages (`scripts/package --frozen`) under the real plakar, no Python.

The frozen package of every integration is installed with `plakar pkg add` into a Plakar
home whose PATH holds no interpreter at all (a launcher package, `#!/usr/bin/env python3`,
cannot start there). posixfs then serves as store, source and destination of a backup, check
and restore; s3, sftp, gdrive and onedrive each as the repository of one.
The freeze is cached under .build/frozen/ by a hash of the sources (scripts/freeze.py), so
an unchanged tree only repacks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kloset_sdk.harness.plakar import PTAR_NAME, PlakarHome
from tests.conftest import ROOT
from tests.e2e.backends import NAMES, PROTOCOL, E2EBackends, files_below
from tests.e2e.conftest import PASSPHRASE
from tests.e2e.run import add_config, ok, snapshots
from tests.e2e.trees import MiB, digests, snapshot_of, write_kinds_tree

FROZEN = {n: f"{PROTOCOL[n]}-frozen" for n in NAMES}


@pytest.fixture(scope="module")
def frozen_ptars(tmp_path_factory: pytest.TempPathFactory, plakar_bin: Path) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("frozen")
    proc = subprocess.run(
        [str(ROOT / "scripts" / "package"), "--frozen", "--out", str(out), *FROZEN],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PLAKAR": str(plakar_bin)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    found = {}
    for name, pkg in FROZEN.items():
        (ptar,) = out.glob(f"{pkg}_*.ptar")
        m = PTAR_NAME.match(ptar.name)
        assert m and m["name"] == pkg and m["os"] == "linux", ptar.name
        found[name] = ptar
    return found


@pytest.fixture(scope="module")
def bare(
    plakar_bin: Path, frozen_ptars: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PlakarHome]:
    """A Plakar home with the frozen packages only, and a PATH on which no Python exists."""
    empty = tmp_path_factory.mktemp("no-python-bin")
    for exe in ("python3", "python", "python3.11", "env"):
        assert shutil.which(exe, path=str(empty)) is None, exe
    home = PlakarHome(plakar_bin, env={"PATH": str(empty)}, passphrase=PASSPHRASE)
    for ptar in frozen_ptars.values():
        home.pkg_add(ptar)
    listed = ok(home.run("pkg", "list"), "pkg list").split()
    assert sorted(listed) == sorted(f"{p}@v0.1.0" for p in FROZEN.values()), listed
    yield home
    home.close()


@pytest.fixture(scope="module")
def e2e_backends(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[E2EBackends]:
    b = E2EBackends(tmp_path_factory.mktemp("frozen-backends"), request.getfixturevalue)
    yield b
    b.stop()


def test_the_launcher_cannot_start_without_python(bare: PlakarHome, tmp_path: Path) -> None:
    """What the bare PATH proves: a `#!/usr/bin/env python3` file does not run there."""
    script = tmp_path / "launcher"
    script.write_text("#!/usr/bin/env python3\nprint('ran')\n")
    script.chmod(0o755)
    proc = subprocess.run([str(script)], env=bare.env, capture_output=True, text=True)
    assert proc.returncode != 0 and "ran" not in proc.stdout


def test_posixfs_store_source_and_destination(bare: PlakarHome, tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_kinds_tree(src, big=8 * MiB)
    store = add_config(bare, "store", f"posixfs://{tmp_path / 'repo'}", [])
    source = add_config(bare, "source", f"posixfs://{src}", [])
    ok(bare.run("at", store, "create"), "create")
    out = ok(bare.run("at", store, "backup", "-no-progress", source), "backup")
    assert "backup completed without errors" in out, out
    out = ok(bare.run("at", store, "check"), "check")
    assert "check completed without errors" in out, out
    (snap,) = snapshots(bare, store)
    dst = tmp_path / "dst"
    dest = add_config(bare, "destination", f"posixfs://{dst}", [])
    ok(bare.run("at", store, "restore", "-to", dest, snap), "restore")
    assert snapshot_of(dst) == snapshot_of(src)
    assert digests(files_below(dst)) == digests(files_below(src))


@pytest.mark.parametrize("name", [n for n in NAMES if n != "fs"])
def test_remote_store(
    name: str, bare: PlakarHome, e2e_backends: E2EBackends, tmp_path: Path
) -> None:
    """Each remote integration's frozen package as the repository: create, backup, check,
    restore (to local disk through Plakar's built-in fs), against the real servers and the
    emulators."""
    src = tmp_path / "src"
    write_kinds_tree(src, big=8 * MiB)
    spot = e2e_backends.spot(name)
    store = add_config(bare, "store", spot.location, spot.kv())
    ok(bare.run("at", store, "create"), "create")
    assert spot.files(), f"create wrote nothing to the {name} spot"
    out = ok(bare.run("at", store, "backup", "-no-progress", str(src)), "backup")
    assert "backup completed without errors" in out, out
    out = ok(bare.run("at", store, "check"), "check")
    assert "check completed without errors" in out, out
    (snap,) = snapshots(bare, store)
    dst = tmp_path / "dst"
    ok(bare.run("at", store, "restore", "-to", str(dst), snap), "restore")
    assert snapshot_of(dst) == snapshot_of(src)
