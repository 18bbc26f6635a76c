"""Each integration as the repository store of the real plakar.

create, backup of a tree with every file kind, check, ls, restore, byte and metadata
comparison, then a second backup of the same tree (deduplicated), read back by new plakar
processes (every command below is one).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kloset_sdk.harness.plakar import PlakarHome
from tests.e2e.backends import NAMES, E2EBackends
from tests.e2e.run import add_config, ok, snapshots
from tests.e2e.trees import snapshot_of, write_kinds_tree

CASES = [(n, "encrypted") for n in NAMES] + [("fs", "plaintext"), ("s3", "plaintext")]


@pytest.mark.parametrize(("name", "mode"), CASES, ids=[f"{n}-{m}" for n, m in CASES])
def test_repository_store(
    plakar: PlakarHome, backends: E2EBackends, tmp_path: Path, name: str, mode: str
) -> None:
    src = tmp_path / "src"
    write_kinds_tree(src)
    spot = backends.spot(name)
    store = add_config(plakar, "store", spot.location, spot.kv())

    create = ["create", "-plaintext"] if mode == "plaintext" else ["create"]
    ok(plakar.run("at", store, *create), "create")
    assert spot.files(), "create wrote nothing to the backend"
    out = ok(plakar.run("at", store, "backup", "-no-progress", str(src)), "backup")
    assert "backup completed without errors" in out, out
    first = spot.size()

    ids = snapshots(plakar, store)
    assert len(ids) == 1
    out = ok(plakar.run("at", store, "check"), "check")
    assert "check completed without errors" in out, out
    listing = ok(plakar.run("at", store, "ls", "-recursive", f"{ids[0]}:/"), "ls -recursive")
    for must in ("name with spaces.txt", "日本語 ✓.txt", "big.bin", "link-to-one"):
        assert must in listing, (must, listing[-2000:])

    dst = tmp_path / "dst"
    ok(plakar.run("at", store, "restore", "-to", str(dst), ids[0]), "restore")
    assert snapshot_of(dst) == snapshot_of(src)

    ok(plakar.run("at", store, "backup", "-no-progress", str(src)), "second backup")
    grown = spot.size() - first
    assert grown < 0.05 * first, (
        f"a second backup of the same tree grew the store by {grown} of {first} bytes"
    )
    assert len(snapshots(plakar, store)) == 2
    ok(plakar.run("at", store, "check"), "check after the second backup")

    if mode == "encrypted":
        wrong = plakar.run("at", store, "ls", env={"PLAKAR_PASSPHRASE": "not the passphrase"})
        assert wrong.returncode != 0, "an encrypted repository opened with a wrong passphrase"
