"""Wire compatibility with grpc-go, Plakar's own stack: gohost drives the SDK's example plugins."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import example_argv, run_gohost

MiB = 1 << 20


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    root = tmp_path_factory.mktemp("wire-src")
    files = {
        "empty.bin": b"",
        "one.bin": b"x",
        "exact-1MiB.bin": os.urandom(MiB),
        "fifty-MiB.bin": os.urandom(50 * MiB),
        "name with spaces.txt": b"spaces\n",
        "ünïcødé/日本語 ✓.txt": "non-ascii ✓\n".encode(),
    }
    for i in range(40):
        files[f"many/f{i:03d}.txt"] = f"file {i}\n".encode() * (i + 1)
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    (root / "link-to-one").symlink_to("one.bin")
    (root / "dangling").symlink_to("nowhere/at/all")
    os.setxattr(root / "one.bin", "user.color", b"blue")
    os.setxattr(root / "name with spaces.txt", "user.empty", b"")
    return root, files


def test_gohost_import_j16(tree: tuple[Path, dict[str, bytes]], tmp_path: Path) -> None:
    root, files = tree
    out = tmp_path / "records.jsonl"
    res = run_gohost(
        "import",
        example_argv("tree", "importer"),
        "tree",
        {"location": f"tree://{root}"},
        "-j",
        "16",
        "-out",
        str(out),
    )
    assert res["ok"], res
    assert res["errors"] == 0
    lines = [json.loads(ln) for ln in out.read_text().splitlines()]
    by_path = {ln["path"]: ln for ln in lines if not ln.get("xattr")}
    for rel, data in files.items():
        ln = by_path["/" + rel]
        assert ln["read"] == len(data), rel
        assert ln["sha256"] == hashlib.sha256(data).hexdigest(), rel
    assert by_path["/link-to-one"]["target"] == "one.bin"
    assert by_path["/link-to-one"]["mode"].startswith("L")
    assert by_path["/dangling"]["target"] == "nowhere/at/all"
    xattrs = {(ln["path"], ln["xattr"]): ln for ln in lines if ln.get("xattr")}
    assert xattrs[("/one.bin", "user.color")]["sha256"] == hashlib.sha256(b"blue").hexdigest()
    assert xattrs[("/name with spaces.txt", "user.empty")]["read"] == 0
    assert res["bytes"] == sum(len(d) for d in files.values()) + len(b"blue")


def test_gohost_export(tree: tuple[Path, dict[str, bytes]], tmp_path: Path) -> None:
    root, files = tree
    dst = tmp_path / "dst"
    dst.mkdir()
    res = run_gohost(
        "export",
        example_argv("tree", "exporter"),
        "tree",
        {"location": f"tree://{dst}"},
        "-from",
        str(root),
    )
    assert res["ok"], res
    for rel, data in files.items():
        assert (dst / rel).read_bytes() == data, rel
    assert os.readlink(dst / "link-to-one") == "one.bin"


def test_gohost_store(tmp_path: Path) -> None:
    res = run_gohost(
        "store",
        example_argv("memstore"),
        "mem",
        {"location": "mem://wire"},
        "-n",
        "3",
        "-size",
        str(4 * MiB),
    )
    assert res["ok"], res
    assert all(v == "ok" for v in res["checks"].values()), res["checks"]


def test_stray_print_to_stdout_does_not_corrupt_the_wire(tmp_path: Path) -> None:
    """P16: a library that prints to stdout (Python print and a raw write to fd 1)."""
    plugin = tmp_path / "noisy.py"
    plugin.write_text(
        textwrap.dedent("""
        import os, sys
        from kloset_sdk.examples.memstore import MemStorage

        class Noisy(MemStorage):
            def __init__(self, opts, ctx):
                import json; json.dump({"a": 1}, sys.stdout)  # a library writing to stdout
                print("hello from print() in Init")
                sys.stdout.write("and from sys.stdout\\n"); sys.stdout.flush()
                os.write(1, b"and a raw write to fd 1\\n")
                super().__init__(opts, ctx)
            def put(self, res, mac, data, flags):
                print("noisy put", res)
                return super().put(res, mac, data, flags)

        if __name__ == "__main__":
            from kloset_sdk import serve
            serve("storage", Noisy)
    """)
    )
    res = run_gohost(
        "store",
        [sys.executable, str(plugin)],
        "mem",
        {"location": "mem://n"},
        "-n",
        "2",
        "-size",
        str(MiB),
    )
    assert res["ok"], res
    assert "hello from print() in Init" in res["_stderr"]
    assert "and a raw write to fd 1" in res["_stderr"]


def test_manifest_args_are_accepted() -> None:
    """§9 item 5: the manifest's `args` are appended after argv[0]."""
    res = run_gohost(
        "store",
        example_argv("memstore") + ["--some-manifest-arg", "x"],
        "mem",
        {"location": "mem://args"},
        "-n",
        "1",
        "-size",
        "200000",
    )
    assert res["ok"], res
