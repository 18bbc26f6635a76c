"""Connectors by convention: kind K is the one concrete class of `kloset_<name>.<K>` (issue 14)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kloset_sdk.errors import ConfigError, Fatal
from kloset_sdk.registry import connector_specs, connectors, load_class, module_for

HEADER = (
    "from dataclasses import dataclass\n"
    "from kloset_sdk.importer import Importer\n\n"
    "@dataclass\n"
    "class Opts:\n"
    "    pass\n"
)
ONE = HEADER + textwrap.dedent(
    """
    class Base(Importer[Opts]):
        pass

    class Real(Base):
        type_name = "one"

        def records(self):
            return iter(())
    """
)


def _package(root: Path, name: str, init: str, modules: dict[str, str]) -> None:
    pkg = root / f"kloset_{name}"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(f'NAME = "{name}"\nPROTOCOLS = ("{name}",)\n' + init)
    for mod, text in modules.items():
        (pkg / f"{mod}.py").write_text(text)


def test_integrations_derive_their_kinds() -> None:
    for name in ("fs", "s3", "sftp", "gdrive", "onedrive"):
        specs = connector_specs(module_for(name))
        assert specs == {k: f"kloset_{name}.{k}" for k in ("importer", "exporter", "storage")}
        cls = load_class(specs["storage"])
        assert cls.__module__ == f"kloset_{name}.storage" and cls.type_name


def test_nothing_heavy_is_imported_before_init() -> None:
    code = (
        "import sys\n"
        "from kloset_sdk.registry import connectors\n"
        "table = connectors('s3', 'importer')\n"
        "assert 'boto3' not in sys.modules and 'kloset_s3.importer' not in sys.modules\n"
        "assert list(table) == ['s3']\n"
        "print(table['s3'].__name__, 'boto3' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # Loading the class does not import boto3 either: S3Connection builds the client in the
    # background once Init has its options (kloset_sdk.lazy).
    assert out.stdout.split() == ["S3Importer", "False"]


def test_convention_and_explicit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    _package(tmp_path, "conv1", "", {"importer": ONE})
    assert connectors("conv1", "importer")["conv1"].__name__ == "Real"
    with pytest.raises(ConfigError, match=r'"conv1" has no storage \(has: importer\)'):
        connectors("conv1", "storage")
    _package(tmp_path, "expl1", 'CONNECTORS = {"storage": "kloset_expl1.other:Real"}\n', {})
    (tmp_path / "kloset_expl1" / "other.py").write_text(ONE)
    (tmp_path / "kloset_expl1" / "importer.py").write_text(ONE)  # ignored: CONNECTORS wins
    assert connector_specs(module_for("expl1")) == {"storage": "kloset_expl1.other:Real"}
    assert connectors("expl1", "storage")["expl1"].__name__ == "Real"


def test_zero_or_two_classes_name_the_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    two = ONE + "\nclass Other(Real):\n    type_name = 'two'\n"
    _package(tmp_path, "bad1", "", {"importer": two, "storage": HEADER})
    with pytest.raises(Fatal, match=r"kloset_bad1\.importer: .*found 2 \(Other, Real\)"):
        connectors("bad1", "importer")["bad1"]
    with pytest.raises(Fatal, match=r"kloset_bad1\.storage: .*found 0 \(none\)"):
        connectors("bad1", "storage")["bad1"]
