"""The frozen packages' exec wrapper (scripts/freeze_exec.c), compiled as freeze.py does.

On a glibc older than the build machine's it must stop with one line naming both versions
and the package to use instead (exit 1, nothing on stdout, which is Plakar's wire); on a
recent enough one it execs lib/kloset-connector with its own path as argv[0].
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from freeze import compile_wrapper, glibc_floor  # noqa: E402

CC = shutil.which("cc") or shutil.which("gcc")
pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler (scripts/setup installs gcc)")


def build(tmp_path: Path, floor: tuple[int, int]) -> Path:
    pkg = tmp_path / "pkg"
    (pkg / "lib").mkdir(parents=True)
    assert CC is not None
    compile_wrapper(CC, pkg / "s3Importer", floor)
    return pkg / "s3Importer"


def test_the_floor_is_this_machines_glibc() -> None:
    have = os.confstr("CS_GNU_LIBC_VERSION") or ""
    major, minor = glibc_floor()
    assert have.startswith(f"glibc {major}.{minor}")


def test_an_older_glibc_gets_one_line_and_exit_1(tmp_path: Path) -> None:
    major, minor = glibc_floor()
    wrapper = build(tmp_path, (major, minor + 1))
    proc = subprocess.run([str(wrapper)], capture_output=True, text=True, timeout=10)
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert f"needs glibc {major}.{minor + 1} or newer" in lines[0]
    assert f"this system has glibc {major}.{minor}" in lines[0]
    assert "launcher package" in lines[0]


def test_a_recent_enough_glibc_execs_the_program_as_itself(tmp_path: Path) -> None:
    wrapper = build(tmp_path, glibc_floor())
    program = wrapper.parent / "lib" / "kloset-connector"
    proc = subprocess.run([str(wrapper)], capture_output=True, text=True, timeout=10)
    assert proc.returncode == 127 and "cannot run" in proc.stderr  # no program yet
    src = tmp_path / "echo_argv.c"
    src.write_text(
        "#include <stdio.h>\n"
        "int main(int argc, char **argv) {\n"
        '  for (int i = 0; i < argc; i++) fprintf(stderr, "%s\\n", argv[i]);\n'
        "  return 7;\n}\n"
    )
    assert CC is not None
    subprocess.run([CC, "-o", str(program), str(src)], check=True, timeout=60)
    proc = subprocess.run([str(wrapper), "a", "b c"], capture_output=True, text=True, timeout=10)
    assert proc.returncode == 7, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [str(wrapper), "a", "b c"]
