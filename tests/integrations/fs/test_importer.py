"""Importer: record fields, order, excludes, one-file-system, unreadable entries."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from kloset_fs.walk import NameCache, parent_records
from kloset_sdk import modes
from kloset_sdk.harness import ImporterClient, ImportRun, PluginProcess
from tests.conftest import plugin_argv
from tests.requires import needs_root, require_tool, unavailable

from .trees import MiB, make_tree


def scan(
    root: Path,
    argv: Sequence[str] | None = None,
    host_excludes: Sequence[str] = (),
    **config: str,
) -> ImportRun:
    with PluginProcess(list(argv or plugin_argv("fs", "importer"))) as proc:
        client = ImporterClient(proc)
        client.init(
            {"location": f"posixfs://{root}", **config}, proto="posixfs", excludes=host_excludes
        )
        run = client.scan(keep_data=True)
        client.close()
    assert run.finished
    return run


def rels(run: ImportRun, root: Path) -> set[str]:
    base = str(root)
    return {p[len(base) :] or "/" for p in run.by_path() if p == base or p.startswith(base + "/")}


@needs_root()
def test_records_carry_every_field(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_tree(src, big=MiB)
    run = scan(src, workers="3")
    assert not run.errors, run.errors
    order = [r.record.pathname for r in run.records if not r.record.is_xattr]
    # ancestors of the root first, `/` leading; then every directory before its children
    anc = [str(p) for p in reversed(src.parents)]
    assert order[: len(anc) + 1] == [*anc, str(src)]
    seen = set()
    for p in order:
        assert p == "/" or os.path.dirname(p) in seen, p
        seen.add(p)
    recs = run.by_path()
    for rel in ("/one", "/setuid", "/link-rel", "/null-dev", "/sub dir", "/sparse.img"):
        rec = recs[f"{src}{rel}"].record
        st = os.lstat(f"{src}{rel}")
        info = rec.info
        assert info is not None
        assert info.mode == modes.from_st_mode(st.st_mode), rel
        assert (info.mtime_ns, info.dev, info.ino) == (st.st_mtime_ns, st.st_dev, st.st_ino)
        assert (info.uid, info.gid, info.nlink) == (st.st_uid, st.st_gid, st.st_nlink)
        assert info.size == st.st_size
    assert recs[f"{src}/setuid"].record.info.mode & modes.MODE_SETUID  # type: ignore[union-attr]
    assert recs[f"{src}/setuid"].record.info.username == "root"  # type: ignore[union-attr]
    assert recs[f"{src}/link-rel"].record.target == "one"
    assert recs[f"{src}/null-dev"].record.info.flags == os.makedev(1, 3)  # type: ignore[union-attr]
    assert recs[f"{src}/links/b"].record.info.nlink == 3  # type: ignore[union-attr]
    assert recs[f"{src}/one"].data == b"x"
    assert sorted(recs[f"{src}/one"].record.xattrs) == ["user.color", "user.empty"]
    xa = run.xattrs()
    assert xa[(f"{src}/one", "user.color")].data == b"blue"
    assert xa[(f"{src}/link-rel", "trusted.onlink")].data == b"on the link"
    assert xa[(f"{src}/sub dir", "user.dir")].data == b"\x00\x01binary"
    assert all(r.record.xattr_type == 0 for r in xa.values())


def test_excludes_with_negation(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for rel in ("a.log", "keep.log", "b.txt", "skip/x.txt", "sub/c.log", "sub/keep.log", "o/n.o"):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(rel)
    # host excludes (Init options) and the `excludes` option add up
    run = scan(src, host_excludes=["*.log", "!keep.log"], excludes='["skip/", "*.o"]')
    assert rels(run, src) == {"/", "/keep.log", "/b.txt", "/sub", "/sub/keep.log", "/o"}


@needs_root()
def test_dont_traverse_fs(tmp_path: Path) -> None:
    src = tmp_path / "src"
    mnt = src / "mnt"
    mnt.mkdir(parents=True)
    (src / "here.txt").write_text("same fs")
    if subprocess.run(["mount", "-t", "tmpfs", "none", str(mnt)]).returncode != 0:
        unavailable("cannot mount a tmpfs here")
    try:
        (mnt / "other.txt").write_text("another fs")
        assert rels(scan(src), src) == {"/", "/here.txt", "/mnt", "/mnt/other.txt"}
        assert rels(scan(src, dont_traverse_fs="true"), src) == {"/", "/here.txt", "/mnt"}
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


@pytest.fixture
def world_tree() -> Iterator[Path]:
    """A tree outside pytest's 0700 tmp dir, so an unprivileged plugin can reach it."""
    top = Path(tempfile.mkdtemp(prefix="kloset-fs-"))
    os.chmod(top, 0o755)
    try:
        yield top
    finally:
        for p in top.rglob("*"):
            if p.is_dir() and not p.is_symlink():
                os.chmod(p, 0o755)
        shutil.rmtree(top)


@needs_root()
def test_unreadable_entries_are_error_records(world_tree: Path) -> None:
    for rel in ("ok/a.txt", "locked/hidden.txt", "z/after.txt"):
        (world_tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (world_tree / rel).write_text(rel)
    (world_tree / "secret.txt").write_text("no")
    for p in world_tree.rglob("*"):
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    os.chmod(world_tree / "locked", 0o000)
    os.chmod(world_tree / "secret.txt", 0o000)
    drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    require_tool("setpriv")
    run = scan(world_tree, argv=[*drop, *plugin_argv("fs", "importer")])
    errors = {r.record.pathname: r.record.error or r.open_error for r in run.errors}
    assert "Permission denied" in errors[f"{world_tree}/locked"]
    assert "Permission denied" in errors[f"{world_tree}/secret.txt"]  # fails at Open, lazily
    found = rels(run, world_tree)
    assert {"/ok/a.txt", "/z/after.txt", "/locked"} <= found  # the walk went on
    assert "/locked/hidden.txt" not in found


def test_symlinked_root_is_followed(tmp_path: Path) -> None:
    real = tmp_path / "real"
    (real / "d").mkdir(parents=True)
    (real / "d" / "f").write_text("x")
    link = tmp_path / "link"
    link.symlink_to(real)
    run = scan(link)
    paths = run.by_path()
    assert stat.S_ISLNK(modes.to_st_mode(paths[str(link)].record.info.mode))  # type: ignore[union-attr]
    assert paths[f"{real}/d/f"].data == b"x"


def test_ancestors_of_the_root(tmp_path: Path) -> None:
    assert parent_records("/", NameCache()) == []  # `/` itself comes from the walk, once
    recs = parent_records(f"{tmp_path}/missing/leaf", NameCache())
    paths = [r.pathname for r in recs if not r.error]
    assert paths == [str(p) for p in reversed(Path(f"{tmp_path}/missing/leaf").parents)]
    assert [r.pathname for r in recs if r.error] == [f"{tmp_path}/missing"]
    assert all(r.is_dir for r in recs if not r.error)
