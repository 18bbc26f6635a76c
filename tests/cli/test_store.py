"""`klosetctl store check|bench` and `klosetctl plugin`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import PLUGINS, cli_env, klosetctl
from tests.conftest import ROOT, run_gohost


def test_store_check_passes_on_an_empty_location(tmp_path: Path) -> None:
    proc = klosetctl("store", "check", f"posixfs://{tmp_path}/repo")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "15 ok, 0 failed" in proc.stdout
    for name in ("ranged Get", "aborted Put leaves nothing", "List and Delete", "clean-up"):
        assert name in proc.stdout


def test_store_check_refuses_a_non_empty_location(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "precious.txt").write_text("keep me")
    proc = klosetctl("store", "check", f"posixfs://{tmp_path}/repo")
    assert proc.returncode == 2
    assert "Create failed" in proc.stderr and "needs an empty location" in proc.stderr
    assert (tmp_path / "repo" / "precious.txt").read_text() == "keep me"


def test_store_check_reports_failures(tmp_path: Path) -> None:
    """mem:// keeps Mode 6; asking for 2 makes exactly that check fail and the exit non-zero."""
    proc = klosetctl("store", "check", "mem://x", "--expect-mode", "2")
    assert proc.returncode == 1
    assert "FAIL" in proc.stdout and "Mode is 6, expected 2" in proc.stdout
    assert "14 ok, 1 failed" in proc.stdout


def test_store_bench_table(tmp_path: Path) -> None:
    proc = klosetctl(
        "store",
        "bench",
        f"posixfs://{tmp_path}/bench",
        "--size",
        "1MiB",
        "--count",
        "4",
        "--jobs",
        "2",
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "MB/s" in out and "p95 ms" in out
    for phase in ("put", "get", "get 4 KiB range"):
        assert f"│ {phase} " in out
    assert "new repository" in out


def test_plugin_serves_under_gohost(tmp_path: Path) -> None:
    """`klosetctl plugin` is what a packaged executable runs: grpc-go must drive it."""
    (tmp_path / "f.txt").write_text("x" * 5000)
    argv = [sys.executable, "-m", "kloset_cli", "plugin", "tree", "importer"]
    out = run_gohost(
        "import", argv, "tree", {"location": f"tree://{tmp_path}"}, env=cli_env(), timeout=120
    )
    assert out["ok"], out["_stderr"][-2000:]


def test_plugin_usage_errors() -> None:
    proc = klosetctl("plugin", "tree")
    assert proc.returncode == 2 and "usage: klosetctl plugin" in proc.stderr


def test_plugin_path_does_not_import_rich_or_argparse() -> None:
    """The spawn path stays lean (P17): serving must not pay for the CLI's imports."""
    code = (
        "import sys; sys.argv = ['klosetctl', 'plugin', 'tree', 'bogus'];"
        "from kloset_cli import main;"
        "import kloset_cli.main as m;"
        "assert 'rich' not in sys.modules and 'argparse' not in sys.modules, sorted(sys.modules)"
    )
    env = cli_env(PYTHONPATH=f"{PLUGINS}:{ROOT}:{ROOT / 'sdk'}")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
