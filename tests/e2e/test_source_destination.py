"""Each integration as plakar's backup source and as its restore destination.

The repository is a local one (Plakar's built-in fs store), so what is tested is the importer
or the exporter alone. Sources are seeded through the backend itself; what a restore wrote is
read back through the backend (boto3, the sshd's directory, the emulators' state).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kloset_sdk.harness.plakar import PlakarHome
from tests.e2e.backends import NAMES, E2EBackends, files_below
from tests.e2e.run import add_config, ok, snapshots
from tests.e2e.trees import MiB, digests, kinds_files, snapshot_of, write_kinds_tree

#: Sources that keep POSIX metadata (modes, mtimes, symlinks): compared as whole trees.
POSIX = {"fs", "sftp"}
BIG = 20 * MiB


def _repo(plakar: PlakarHome, tmp_path: Path) -> str:
    repo = str(tmp_path / "repo")
    ok(plakar.run("at", repo, "create"), "create")
    return repo


@pytest.mark.parametrize("name", NAMES)
def test_source(plakar: PlakarHome, backends: E2EBackends, tmp_path: Path, name: str) -> None:
    if name in POSIX:
        spot = backends.spot(name)
        tree = spot.extra["path"]
        write_kinds_tree(tree, big=BIG)
        want = files_below(tree)
    else:
        want = kinds_files(big=BIG)
        spot = backends.spot(name, seed=want)
    source = add_config(plakar, "source", spot.location, spot.kv())
    repo = _repo(plakar, tmp_path)

    out = ok(plakar.run("at", repo, "backup", "-no-progress", source), f"backup {name}")
    assert "backup completed without errors" in out, out
    ok(plakar.run("at", repo, "check"), "check")
    (snap,) = snapshots(plakar, repo)
    dst = tmp_path / "dst"
    ok(plakar.run("at", repo, "restore", "-to", str(dst), snap), "restore")

    if name in POSIX:
        assert snapshot_of(dst) == snapshot_of(spot.extra["path"])
    else:
        assert digests(files_below(dst)) == digests(want)


@pytest.mark.parametrize("name", NAMES)
def test_destination(plakar: PlakarHome, backends: E2EBackends, tmp_path: Path, name: str) -> None:
    src = tmp_path / "src"
    write_kinds_tree(src, big=BIG)
    want = files_below(src)
    repo = _repo(plakar, tmp_path)
    ok(plakar.run("at", repo, "backup", "-no-progress", str(src)), "backup")
    (snap,) = snapshots(plakar, repo)

    spot = backends.spot(name)
    dest = add_config(plakar, "destination", spot.location, spot.kv())
    out = ok(plakar.run("at", repo, "restore", "-to", dest, snap), f"restore to {name}")
    assert "error" not in out.lower(), out

    assert digests(spot.files()) == digests(want)
    if name in POSIX:
        assert snapshot_of(spot.extra["path"]) == snapshot_of(src)
