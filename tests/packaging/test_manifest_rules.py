"""Each manifest against the rules `plakar pkg create` and Plakar's loader apply (§7, P24).

The negative cases build a tiny package by hand and break one rule each, so a checker that
quietly accepts everything cannot pass.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from kloset_cli.manifest import check_manifest, check_package, load
from tests.conftest import ROOT
from tests.packaging.conftest import available


@pytest.mark.parametrize("name", available())
def test_source_manifest_is_valid(name: str) -> None:
    path = ROOT / "manifests" / name / "manifest.yaml"
    assert check_manifest(load(path), str(path)) == []


@pytest.mark.parametrize("name", available())
def test_built_package_passes_pkg_create_rules(packages: dict[str, Path], name: str) -> None:
    pkg = packages[name]
    assert check_package(pkg) == []
    manifest = load(pkg / "manifest.yaml")
    listed = {"manifest.yaml"}
    for conn in manifest["connectors"]:
        exe = pkg / conn["executable"]
        assert os.stat(exe).st_mode & 0o111, f"{exe} lacks an execute bit"
        assert exe.read_text().startswith("#!/usr/bin/env python3\n")
        assert isinstance(json.loads((pkg / conn["validator"]).read_text()), dict)
        listed |= {conn["executable"], conn["validator"], *conn.get("extra_files", [])}
    on_disk = {p.relative_to(pkg).as_posix() for p in pkg.rglob("*") if p.is_file()}
    assert on_disk == listed, "every file in the package is listed, every listed file exists"
    assert all(not (pkg / f).is_dir() for f in listed), "pkg create does not recurse directories"


# -- the checker itself -------------------------------------------------------------------------
def make_pkg(tmp_path: Path, **conn_overrides: Any) -> Path:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "demoStorage").write_text("#!/bin/sh\n")
    (pkg / "demoStorage").chmod(0o755)
    (pkg / "storage.schema.json").write_text('{"type": "object"}')
    (pkg / "lib").mkdir()
    (pkg / "lib" / "site.zip").write_bytes(b"PK")
    conn: dict[str, Any] = {
        "type": "storage",
        "class": "file-storage",
        "subclass": "",
        "protocols": ["demo"],
        "location_flags": ["localfs"],
        "executable": "demoStorage",
        "validator": "storage.schema.json",
        "extra_files": ["lib/site.zip"],
    }
    conn.update(conn_overrides)
    conn = {k: v for k, v in conn.items() if v is not None}
    manifest = {"name": "demo", "api_version": "v1.1.0", "connectors": [conn]}
    (pkg / "manifest.yaml").write_text(yaml.safe_dump(manifest))
    return pkg


def test_checker_accepts_a_good_package(tmp_path: Path) -> None:
    assert check_package(make_pkg(tmp_path)) == []


@pytest.mark.parametrize(
    ("override", "expect"),
    [
        ({"location_flags": ["localfs", "bogus"]}, "unknown location flag 'bogus'"),
        ({"flags": ["localfs"]}, "unknown key 'flags'"),
        ({"class": "cloud"}, "class 'cloud'"),
        ({"subclass": "gdrive"}, "subclass 'gdrive'"),
        ({"protocols": ["fs"]}, "Plakar built-in storage"),
        ({"protocols": ["ptar+https"]}, "Plakar built-in storage"),
        ({"protocols": ["x"]}, "2+ chars"),
        ({"type": "store"}, "type 'store'"),
        ({"executable": None}, "missing executable"),
        ({"extra_files": ["lib/site.zip", "lib/missing.zip"]}, "lib/missing.zip: listed but"),
        ({"extra_files": ["lib"]}, "lib: listed but not a regular file"),
        ({"extra_files": []}, "lib/site.zip: in the package directory but not listed"),
        ({"extra_files": ["lib/site.zip", "../outside"]}, "not below the manifest"),
    ],
)
def test_checker_rejects(tmp_path: Path, override: dict[str, Any], expect: str) -> None:
    (tmp_path / "outside").write_text("x")
    errs = check_package(make_pkg(tmp_path, **override))
    assert any(expect in e for e in errs), errs


def test_checker_rejects_missing_execute_bit(tmp_path: Path) -> None:
    pkg = make_pkg(tmp_path)
    (pkg / "demoStorage").chmod(0o644)
    assert any("no execute bit" in e for e in check_package(pkg))


def test_checker_rejects_validator_that_is_not_an_object(tmp_path: Path) -> None:
    pkg = make_pkg(tmp_path)
    (pkg / "storage.schema.json").write_text("[1, 2]")
    assert any("not a JSON object" in e for e in check_package(pkg))


def test_checker_rejects_bad_top_level(tmp_path: Path) -> None:
    errs = check_manifest({"name": "my_pkg", "tag": ["x"], "connectors": []})
    assert any("name 'my_pkg'" in e for e in errs)
    assert any("unknown key 'tag'" in e for e in errs)
    assert any("api_version" in e for e in errs)
    assert any("non-empty list" in e for e in errs)


def test_importer_and_exporter_builtins() -> None:
    def conn(typ: str, proto: str) -> dict[str, Any]:
        return {
            "name": "x",
            "api_version": "v1.1.0",
            "connectors": [{"type": typ, "protocols": [proto], "executable": "e"}],
        }

    assert any("built-in importer" in e for e in check_manifest(conn("importer", "tar+gz")))
    assert any("built-in exporter" in e for e in check_manifest(conn("exporter", "stdout")))
    assert check_manifest(conn("importer", "posixfs")) == []
