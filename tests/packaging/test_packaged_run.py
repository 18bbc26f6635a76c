"""Run every packaged executable as Plakar would: through gohost (grpc-go), with a bare
`env -i PATH=/usr/bin:/bin` Debian python3 that has nothing installed, against local servers.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from kloset_sdk.harness import PluginProcess, StoreClient
from tests.conformance.storage import StorageConformance
from tests.conftest import ROOT, run_gohost
from tests.packaging.backends import Backends, write_tree
from tests.packaging.conftest import available, executable, protocol, unpack

sys.path.insert(0, str(ROOT / "scripts"))
from package_wheels import PYTHONS, host_target

KINDS = ("importer", "exporter", "storage")
CASES = [(n, k) for n in available() for k in KINDS]


@pytest.fixture(scope="module")
def backends(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backends]:
    b = Backends(tmp_path_factory.mktemp("backends"), request.getfixturevalue)
    yield b
    b.stop()


@pytest.mark.parametrize(("name", "kind"), CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_packaged_executable_under_gohost(
    packages: dict[str, Path],
    bare_env: dict[str, str],
    backends: Backends,
    tmp_path: Path,
    name: str,
    kind: str,
) -> None:
    pkg = packages[name]
    exe = executable(pkg, kind)
    config = backends.config(name, kind)
    mode = {"importer": "import", "exporter": "export", "storage": "store"}[kind]
    extra: list[str] = []
    if kind == "exporter":
        extra = ["-from", str(write_tree(tmp_path / "from"))]
    elif kind == "storage":
        extra = ["-n", "3", "-size", str(1 << 20)]
    out = run_gohost(mode, [exe], protocol(pkg, kind), config, *extra, env=bare_env, timeout=300)
    assert out.get("ok"), json.dumps({k: v for k, v in out.items() if k != "_stderr"})[:3000] + (
        "\n" + out["_stderr"][-3000:]
    )


def test_unsupported_platform_is_named(
    packages: dict[str, Path], bare_env: dict[str, str], tmp_path: Path
) -> None:
    """A package without a build for this CPython/arch says which one and what it supports."""
    pkg = shutil.copytree(packages["fs"], tmp_path / "fs")
    index = json.loads((pkg / "lib" / "index.json").read_text())
    index["targets"] = {"cp399-sparc64": next(iter(index["targets"].values()))}
    (pkg / "lib" / "index.json").write_text(json.dumps(index))
    proc = subprocess.run(
        [executable(pkg, "storage")], env=bare_env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1
    assert "no build for this platform (cp3" in proc.stderr and "cp399-sparc64" in proc.stderr
    assert proc.stdout == "", "nothing may reach stdout: it is the wire"


def cache_snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime_ns) of everything below root, keyed by relative path."""
    return {
        str(p.relative_to(root)): (st.st_size, st.st_mtime_ns)
        for p in sorted(root.rglob("*"))
        for st in [p.lstat()]
    }


def test_later_runs_reuse_the_unpacked_tree(packages: dict[str, Path], tmp_path: Path) -> None:
    """P17: only the first run unpacks; later runs start from the cached tree untouched.

    docs/PACKAGING.md has the start-up figures (scripts/package_startup.py); a test checks the
    mechanism, not a timing, so a busy machine cannot fail it. Unpacking again on every start,
    or writing into the cache (.pyc files, a lock left behind), changes the snapshot."""
    cache = tmp_path / "cache"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CACHE_HOME": str(cache)}
    exe = executable(packages["fs"], "storage")
    snapshots = []
    for i in range(3):
        with PluginProcess([exe], env=env) as proc:
            StoreClient(proc).init({"location": f"posixfs://{tmp_path}/s{i}"})
        snapshots.append(cache_snapshot(cache))
    assert any(name.endswith("/.complete") for name in snapshots[0]), sorted(snapshots[0])[:20]
    assert snapshots[1] == snapshots[0], "the second run changed the unpacked tree"
    assert snapshots[2] == snapshots[0], "the third run changed the unpacked tree"


def test_first_run_unpacks_atomically(packages: dict[str, Path], tmp_path: Path) -> None:
    """Concurrent first runs (Plakar starts two importers at once, §4.1) share one tree."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "c")}
    with ThreadPoolExecutor(3) as pool:
        dirs = list(pool.map(lambda _: unpack(packages["fs"], env), range(3)))
    assert len(set(dirs)) == 1 and Path(dirs[0], ".complete").exists()
    root = tmp_path / "c" / "kloset-connectors"
    assert [p.name for p in root.iterdir()] == [Path(dirs[0]).name], "no half-built trees left"
    assert Path(dirs[0], "grpc").is_dir() and Path(dirs[0], "kloset_fs").is_dir()


def pyenv_pythons() -> list[Path]:
    """Other CPythons on this machine (the image's pyenv), to run the launcher under each."""
    root = Path.home() / ".pyenv" / "versions"
    found = {}
    for d in sorted(root.glob("3.1[0-9]*")) if root.is_dir() else []:
        minor = ".".join(d.name.split(".")[:2])
        if minor in PYTHONS and minor != f"{sys.version_info[0]}.{sys.version_info[1]}":
            found[minor] = d / "bin" / "python3"
    return [p for p in found.values() if p.exists()]


@pytest.mark.skipif(not pyenv_pythons(), reason="no other CPython 3.10-3.13 on this machine")
def test_other_cpython_versions(tmp_path: Path) -> None:
    """The fs package built for the other CPythons found here serves under gohost on each."""
    versions = [".".join(p.parent.parent.name.split(".")[:2]) for p in pyenv_pythons()]
    args = [f"--python={v}" for v in versions] + ["--os", "linux", "--arch", host_target().arch]
    proc = subprocess.run(
        [str(ROOT / "scripts" / "package"), "fs", "--out", str(tmp_path / "dist"), *args],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    pkg = tmp_path / "dist" / "fs"
    for python in pyenv_pythons():
        bindir = tmp_path / f"bin-{python.parent.parent.name}"
        bindir.mkdir()
        (bindir / "python3").symlink_to(python)
        env = {
            "PATH": f"{bindir}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
        }
        unpack(pkg, env, str(python))
        out = run_gohost(
            "store",
            [executable(pkg, "storage")],
            "posixfs",
            {"location": f"posixfs://{tmp_path}/repo-{python.parent.parent.name}"},
            "-n",
            "2",
            "-size",
            str(1 << 20),
            env=env,
            timeout=300,
        )
        assert out.get("ok"), (python, out)


class TestPackagedFsStorageConformance(StorageConformance):
    """The storage conformance suite against the packaged posixfs store on a bare python3."""

    proto = "posixfs"

    @pytest.fixture(scope="class")
    @classmethod
    def storage_argv(cls, packages: dict[str, Path]) -> list[str]:  # type: ignore[override]
        return [executable(packages["fs"], "storage")]

    @pytest.fixture(scope="class")
    @classmethod
    def storage_config(  # type: ignore[override]
        cls, tmp_path_factory: pytest.TempPathFactory
    ) -> dict[str, str]:
        return {"location": f"posixfs://{tmp_path_factory.mktemp('conf')}/repo"}

    @pytest.fixture(scope="class")
    @classmethod
    def store_proc(  # type: ignore[override]
        cls, storage_argv: list[str], bare_env: dict[str, str]
    ) -> Iterator[PluginProcess]:
        with PluginProcess(storage_argv, env=bare_env) as proc:
            yield proc
