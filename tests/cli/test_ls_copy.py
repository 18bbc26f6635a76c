"""`klosetctl ls` and `klosetctl copy` through real plugin processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.conftest import cli_env, klosetctl


def tree_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_ls_lists_paths_types_sizes(src_tree: Path) -> None:
    proc = klosetctl("ls", f"tree://{src_tree}")
    assert proc.returncode == 0, proc.stderr
    lines = {ln.split()[-1]: ln.split() for ln in proc.stdout.splitlines()}
    assert lines["/sub/b.bin"][:2] == ["file", "2500000"]
    assert lines["/sub"][0] == "dir"
    assert lines["/sub/empty"][:2] == ["file", "0"]
    assert proc.stderr == ""


def test_ls_json_with_the_fs_integration(src_tree: Path) -> None:
    proc = klosetctl("ls", str(src_tree), "--json")  # a plain path means posixfs
    assert proc.returncode == 0, proc.stderr
    rows = {r["path"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert rows[f"{src_tree}/a.txt"]["size"] == 6
    assert rows[f"{src_tree}/sub"]["type"] == "dir"


def test_ls_unknown_protocol_is_one_clear_line() -> None:
    proc = klosetctl("ls", "nosuchproto://x")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "nosuchproto" in proc.stderr


def test_copy_streams_with_progress_and_summary(src_tree: Path, tmp_path: Path) -> None:
    dst = tmp_path / "dst"
    dst.mkdir()
    summary = tmp_path / "s.json"
    proc = klosetctl(
        "copy",
        f"tree://{src_tree}",
        f"tree://{dst}",
        "--progress",
        "plain",
        "--summary-json",
        str(summary),
    )
    assert proc.returncode == 0, proc.stderr
    assert tree_files(dst) == tree_files(src_tree)
    assert "copy: 4/4 files, 2.5 MB/2.5 MB" in proc.stderr  # totals from the statistics pass
    assert "copied 4 files" in proc.stderr and ": ok" in proc.stderr
    data = json.loads(summary.read_text())
    assert data["files"] == 4 and data["bytes"] == 2_501_006 and data["failed"] == []


def test_copy_posixfs_to_posixfs_with_options_from_env_and_file(
    src_tree: Path, tmp_path: Path
) -> None:
    dst = tmp_path / "restored"
    cfg = tmp_path / "dst.conf"
    cfg.write_text(f"location=posixfs://{dst}\n")
    env = cli_env(KLOSET_SRC_LOCATION=f"posixfs://{src_tree}")
    proc = klosetctl("copy", "", "", "--dst-config", str(cfg), "--progress", "none", env=env)
    assert proc.returncode == 0, proc.stderr
    assert tree_files(dst) == tree_files(src_tree)


def test_copy_failed_records_give_nonzero_exit(tmp_path: Path) -> None:
    dst = tmp_path / "dst"
    dst.mkdir()
    proc = klosetctl("copy", "flaky://x", f"flaky://{dst}", "--progress", "plain")
    assert proc.returncode == 1, proc.stderr
    err = proc.stderr
    assert "FAILED /unreadable: permission denied" in err  # error record from the importer
    assert "FAILED /midfail.bin: read failed mid-file" in err  # Open broke after 2 MiB
    assert "FAILED /reject-me.txt" in err and "refused by the destination" in err  # exporter
    assert "3 failed" in err
    # the copy went on after each failure, in a new Export stream after the mid-file one
    assert sorted(tree_files(dst)) == ["after.txt", "ok.txt"]
    assert (dst / "after.txt").read_bytes() == b"after!"


def test_copy_rich_progress_renders(src_tree: Path, tmp_path: Path) -> None:
    dst = tmp_path / "dst"
    dst.mkdir()
    proc = klosetctl("copy", f"tree://{src_tree}", f"tree://{dst}", "--progress", "rich")
    assert proc.returncode == 0, proc.stderr
    assert "4/4 files" in proc.stderr and "MB" in proc.stderr


def test_copy_interrupted_exits_130_and_stops_its_plugins(tmp_path: Path) -> None:
    dst = tmp_path / "dst"
    dst.mkdir()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kloset_cli",
            "copy",
            "slow://x",
            f"tree://{dst}",
            "--progress",
            "plain",
            "--no-count",
        ],
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while len(list(dst.iterdir())) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    children = child_pids(proc.pid)
    assert len(children) == 2, "one importer and one exporter plugin"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted" in err
    assert len(list(dst.iterdir())) < 1000
    time.sleep(0.5)
    assert not [p for p in children if Path(f"/proc/{p}").exists()], "plugins outlived Ctrl-C"


def child_pids(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def test_copy_carries_xattrs_when_the_exporter_asks(tmp_path: Path) -> None:
    """posixfs declares EXPORTXATTR: xattr records follow the tree, as kloset sends them."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("hi")
    try:
        os.setxattr(src / "f", "user.color", b"blue")
    except OSError as exc:
        pytest.skip(f"no user xattrs here: {exc}")
    proc = klosetctl("copy", str(src), str(tmp_path / "dst"), "--progress", "none")
    assert proc.returncode == 0, proc.stderr
    assert os.getxattr(tmp_path / "dst" / "f", "user.color") == b"blue"
