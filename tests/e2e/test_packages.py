"""The packages as Plakar sees them: `pkg create` names, `pkg add` installs, `pkg list` lists,
and every connector of every manifest is registered by a plakar that loaded them."""

from __future__ import annotations

from pathlib import Path

import yaml

from kloset_sdk.harness.plakar import PTAR_NAME, PlakarHome
from tests.conftest import ROOT
from tests.e2e.conftest import PACKAGES
from tests.e2e.run import ok

#: Protocols Plakar v1.1.4 has built in: a package registering one of them is refused.
BUILTIN = {"fs", "ptar", "ptar+http", "ptar+https", "http", "https", "stdin", "stdout", "stderr",
           "tar", "tgz", "tar+gz", "tar+gzip"}  # fmt: skip


def test_ptar_names_follow_plakar_rules(ptars: dict[str, Path]) -> None:
    for name, ptar in ptars.items():
        m = PTAR_NAME.match(ptar.name)
        assert m, ptar.name
        assert m["name"] == PACKAGES[name] and m["os"] == "linux", ptar.name
        assert m["arch"] in ("amd64", "arm64"), ptar.name


def test_pkg_list_shows_every_package(plakar: PlakarHome, ptars: dict[str, Path]) -> None:
    listed = ok(plakar.run("pkg", "list"), "pkg list").split()
    want = {f"{PTAR_NAME.match(p.name)['name']}@{PTAR_NAME.match(p.name)['version']}"  # type: ignore[index]
            for p in ptars.values()}  # fmt: skip
    assert set(listed) == want, listed
    installed = sorted(p.name for p in plakar.plugins_dir.glob("*.ptar"))
    assert installed == sorted(p.name for p in ptars.values())


def test_no_builtin_protocol_is_shadowed() -> None:
    for name in PACKAGES:
        manifest = yaml.safe_load((ROOT / "manifests" / name / "manifest.yaml").read_text())
        for conn in manifest["connectors"]:
            assert not set(conn["protocols"]) & BUILTIN, (name, conn["protocols"])


def test_a_package_with_an_unknown_flag_is_refused(
    plakar: PlakarHome, tmp_path: Path, ptars: dict[str, Path]
) -> None:
    """Why the manifests name no `exportxattr`: kloset v1.1.3 refuses the whole package."""
    pkg = tmp_path / "flagged"
    pkg.mkdir()
    exe = pkg / "flaggedImporter"
    exe.write_text("#!/bin/sh\nexit 1\n")
    exe.chmod(0o755)
    (pkg / "manifest.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "flagged",
                "api_version": "v1.1.0",
                "connectors": [
                    {
                        "type": "importer",
                        "protocols": ["flagged"],
                        "location_flags": ["exportxattr"],
                        "executable": "flaggedImporter",
                    }
                ],
            }
        )
    )
    ok(plakar.run("pkg", "create", str(pkg / "manifest.yaml"), "v0.0.1", cwd=tmp_path), "create")
    (ptar,) = tmp_path.glob("flagged_*.ptar")  # pkg create does not parse the flags...
    added = plakar.run("pkg", "add", str(ptar))  # ...pkg add does, and refuses the package
    assert added.returncode != 0
    assert 'unknown flag: "exportxattr"' in added.stdout + added.stderr
    assert "flagged@" not in plakar.run("pkg", "list").stdout
