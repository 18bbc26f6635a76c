"""Issue 3: import a tree with every entry kind, restore it elsewhere, compare everything.

Once through the Python harness (importer -> exporter as a host would), and through gohost
(grpc-go, Plakar's stack) for both directions.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kloset_sdk import Record
from kloset_sdk.harness import ExporterClient, Imported, ImporterClient, PluginProcess
from tests.conftest import plugin_argv, run_gohost
from tests.requires import require_root

from .trees import MiB, assert_same_tree, make_tree, regular_bytes, xattrs_of


@pytest.fixture(autouse=True)
def _root() -> None:
    """The tree has devices and owners: root only, and never skipped in CI."""
    require_root("the tree has devices and owners")


def host_export_items(run_records: list[Imported], root: str) -> list[tuple[Record, bytes | None]]:
    """What kloset sends to restore `root`: the subtree stripped of `root`, parents first,
    then every xattr record under its unstripped snapshot path (docs/PROTOCOL.md: Exporter, Newer
    kloset versions)."""
    tree, xattrs = [], []
    for item in run_records:
        rec: Record = item.record
        if rec.error:
            continue
        if rec.is_xattr:
            xattrs.append((rec, item.data if item.data is not None else b""))
            continue
        if rec.pathname != root and not rec.pathname.startswith(root + "/"):
            continue
        rec.pathname = rec.pathname[len(root) :] or "/"
        content = (item.data or b"") if rec.is_regular else None
        tree.append((rec, content))
    tree.sort(key=lambda rc: [p for p in rc[0].pathname.split("/") if p])
    xattrs.sort(key=lambda rc: (rc[0].pathname, rc[0].xattr_name))
    return tree + xattrs


def test_harness_roundtrip(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "restored"
    make_tree(src)
    with PluginProcess(plugin_argv("fs", "importer")) as proc:
        imp = ImporterClient(proc)
        ident = imp.init({"location": f"posixfs://{src}"}, proto="posixfs", maxconcurrency=8)
        assert (ident.type, ident.root) == ("posixfs", str(src))
        run = imp.scan(keep_data=True)
        imp.close()
    assert run.finished and not run.errors, run.errors
    paths = [r.record.pathname for r in run.records if not r.record.is_xattr]
    assert paths[0] == "/" and str(src) in paths  # ancestors of the root come first
    with PluginProcess(plugin_argv("fs", "exporter")) as proc:
        exp = ExporterClient(proc)
        ident = exp.init({"location": f"posixfs://{dst}"}, proto="posixfs")
        assert ident.flags & 32  # EXPORTXATTR: the host must send xattrs
        items = host_export_items(run.records, str(src))
        result = exp.export(items)
        exp.close()
    assert not result.errors, result.errors
    assert len(result.results) == len(items)
    assert_same_tree(src, dst)
    assert os.lstat(dst / "links" / "a").st_ino == os.lstat(dst / "sub dir" / "c").st_ino
    assert xattrs_of(dst / "link-rel") == {"trusted.onlink": b"on the link"}
    assert os.lstat(dst / "sparse.img").st_blocks <= 16  # 4 KiB of data, not 16 MiB


def test_gohost_import_and_export(tmp_path: Path) -> None:
    src = tmp_path / "src"
    numbers = make_tree(src, big=8 * MiB)
    out = run_gohost(
        "import",
        plugin_argv("fs", "importer"),
        "posixfs",
        {"location": f"posixfs://{src}"},
        "-j",
        "16",
        "-out",
        str(tmp_path / "records.jsonl"),
    )
    jsonl = tmp_path / "records.jsonl"
    lines = jsonl.read_text().splitlines() if jsonl.exists() else []
    bad = [ln for ln in lines if '"error"' in ln or '"open_error"' in ln]
    assert out["ok"] and out["errors"] == 0, (bad, out["_stderr"][-2000:])
    assert out["bytes"] == regular_bytes(src) + numbers["xattr_bytes"]
    assert (out["type"], out["root"], out["flags"]) == ("posixfs", str(src), 1)

    # gohost sends a plain directory walk (no owners, xattrs, links or devices)
    plain = tmp_path / "plain"
    make_tree(plain, full=False, big=3 * MiB)
    dst = tmp_path / "from-gohost"
    out = run_gohost(
        "export",
        plugin_argv("fs", "exporter"),
        "posixfs",
        {"location": f"posixfs://{dst}"},
        "-from",
        str(plain),
    )
    assert out["ok"], out
    assert_same_tree(plain, dst, links=False)
