"""Platform choice and completeness of the packages: the launcher's pick under faked
interpreters and machines, the index/wheels check on real builds, and a darwin package.

The full multi-platform build never runs here (minutes of downloads). The darwin test builds
one package for one CPython: on a cold wheel cache that is one `pip download` of macOS wheels
(39 wheels, 50 MB: the union for all five integrations) from the same index the host build uses.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.packaging.conftest import available, executable

sys.path.insert(0, str(ROOT / "scripts"))
import package_boot as boot
from package_build import build_one, verify_package
from package_wheels import CACHE, Target, host_target

INDEX: dict[str, Any] = {
    "name": "fs",
    "os": "linux",
    "arch": "x86_64",
    "targets": {f"cp3{m}-linux-x86_64": {"wheels": [], "glibc": "2.17"} for m in range(10, 15)},
    "unavailable": {},
}
MAC_INDEX: dict[str, Any] = {
    "name": "s3",
    "os": "darwin",
    "arch": "arm64",
    "targets": {f"cp3{m}-darwin-arm64": {"wheels": [], "macos": "11.0"} for m in range(10, 15)},
    "unavailable": {"cp314-darwin-arm64": "no cp314-darwin-arm64 wheel of grpcio"},
}


def facts(**over: Any) -> dict[str, Any]:
    base = {
        "implementation": "cpython",
        "version": (3, 12, 4),
        "executable": "/usr/bin/python3",
        "platform": "linux",
        "machine": "x86_64",
        "free_threaded": False,
        "glibc": "glibc 2.31",
        "mac": "",
    }
    return {**base, **over}


def refused(index: dict[str, Any], **over: Any) -> str:
    with pytest.raises(boot.Refused) as info:
        boot.choose(index, facts(**over))
    message = str(info.value)
    assert "\n" not in message, "one line"
    return message


@pytest.mark.parametrize("minor", [10, 11, 12, 13, 14])
def test_linux_picks_the_running_cpython(minor: int) -> None:
    assert boot.choose(INDEX, facts(version=(3, minor, 0))) == f"cp3{minor}-linux-x86_64"


def test_linux_arm64_machine_name_is_aarch64() -> None:
    index = {**INDEX, "arch": "aarch64", "targets": {"cp312-linux-aarch64": {"glibc": "2.17"}}}
    assert boot.choose(index, facts(machine="aarch64")) == "cp312-linux-aarch64"
    assert boot.choose(index, facts(machine="arm64")) == "cp312-linux-aarch64"
    assert "linux aarch64 package; this machine is linux x86_64" in refused(index)


def test_darwin_picks_by_machine_and_checks_macos() -> None:
    mac = {"platform": "darwin", "machine": "arm64", "glibc": "", "mac": "14.5"}
    assert boot.choose(MAC_INDEX, facts(**mac)) == "cp312-darwin-arm64"
    assert boot.choose(MAC_INDEX, facts(**{**mac, "machine": "aarch64"})) == "cp312-darwin-arm64"
    # An interpreter built against an old SDK reports 10.16 on macOS 11 and newer.
    assert boot.choose(MAC_INDEX, facts(**{**mac, "mac": "10.16"})) == "cp312-darwin-arm64"
    assert "needs macOS 11.0 or newer; this Mac runs 10.15.7" in refused(
        MAC_INDEX, **{**mac, "mac": "10.15.7"}
    )
    # x86_64 python3 under Rosetta on Apple silicon: the arm64 package has no build for it.
    assert "darwin arm64 package; this machine is darwin x86_64" in refused(
        MAC_INDEX, **{**mac, "machine": "x86_64"}
    )
    assert "this is the darwin arm64 package; this machine is linux x86_64" in refused(MAC_INDEX)


def test_macos_system_python_39_is_refused_plainly() -> None:
    message = refused(MAC_INDEX, platform="darwin", machine="arm64", mac="14.5", version=(3, 9, 6))
    assert message.startswith("this package needs CPython 3.10 or newer; /usr/bin/python3 is")
    assert "Python 3.9.6" in message and "macOS's own /usr/bin/python3 is 3.9" in message


def test_unavailable_target_names_the_integration_and_reason() -> None:
    mac = {"platform": "darwin", "machine": "arm64", "mac": "14.5", "version": (3, 14, 0)}
    assert refused(MAC_INDEX, **mac) == (
        "s3 cannot run on CPython 3.14 (darwin arm64): no cp314-darwin-arm64 wheel of grpcio"
    )


@pytest.mark.parametrize(
    ("over", "expect"),
    [
        ({"version": (3, 15, 0)}, "no build for this platform (cp315-linux-x86_64, linux)"),
        ({"free_threaded": True, "version": (3, 14, 0)}, "free-threaded CPython (cp314t)"),
        ({"implementation": "pypy"}, "needs CPython 3.10 or newer; /usr/bin/python3 is pypy"),
        ({"glibc": ""}, "needs a glibc Linux (manylinux); this system has no glibc"),
        ({"glibc": "glibc 2.12"}, "needs glibc 2.17 or newer; this system has glibc 2.12"),
        ({"platform": "win32"}, "no build for this operating system (win32)"),
    ],
)
def test_refusals(over: dict[str, Any], expect: str) -> None:
    assert expect in refused(INDEX, **over)


def test_boot_module_parses_on_old_pythons() -> None:
    """It must get as far as refusing on old interpreters (3.7 is the oldest grammar ast
    checks; test_old_python_gets_one_line runs 3.6 for real where pyenv has it)."""
    source = (ROOT / "scripts" / "package_boot.py").read_text()
    ast.parse(source, feature_version=(3, 7))
    launcher = (ROOT / "scripts" / "package_build.py").read_text()
    template = launcher.split("LAUNCHER = '''", 1)[1].split("'''", 1)[0]
    ast.parse(template.format(display="x", kind="storage", name="fs"), feature_version=(3, 7))


def old_pythons() -> list[Path]:
    root = Path.home() / ".pyenv" / "versions"
    return sorted(root.glob("3.[6-9].*/bin/python3")) if root.is_dir() else []


@pytest.mark.skipif(not old_pythons(), reason="no CPython 3.6-3.9 in pyenv on this machine")
def test_old_python_gets_one_line(packages: dict[str, Path], tmp_path: Path) -> None:
    """The real launcher under each old CPython here: exit 1, one stderr line, empty stdout."""
    for python in old_pythons():
        bindir = tmp_path / python.parent.parent.name
        bindir.mkdir()
        (bindir / "python3").symlink_to(python)
        env = {"PATH": f"{bindir}:/usr/bin:/bin", "HOME": str(tmp_path)}
        proc = subprocess.run(
            [executable(packages["fs"], "storage")],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 1 and proc.stdout == "", (python, proc)
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and "needs CPython 3.10 or newer" in lines[0], (python, lines)


@pytest.mark.parametrize("name", available())
def test_host_packages_resolve_completely(packages: dict[str, Path], name: str) -> None:
    assert verify_package(packages[name]) == []
    index = json.loads((packages[name] / "lib" / "index.json").read_text())
    assert list(index["targets"]) == [host_target().tag]


def test_verify_catches_a_missing_or_foreign_native_wheel(
    packages: dict[str, Path], tmp_path: Path
) -> None:
    pkg = shutil.copytree(packages["fs"], tmp_path / "fs")
    path = pkg / "lib" / "index.json"
    index = json.loads(path.read_text())
    ((tag, entry),) = index["targets"].items()
    entry["wheels"] = [w for w in entry["wheels"] if not w.startswith("grpcio-")]
    path.write_text(json.dumps(index))
    assert any("no native grpc/_cython/cygrpc" in e for e in verify_package(pkg))
    index = json.loads(packages["fs"].joinpath("lib", "index.json").read_text())
    index["targets"] = {"cp311-darwin-arm64": index["targets"][tag]}
    index.update(os="darwin", arch="arm64")
    path.write_text(json.dumps(index))
    errs = verify_package(pkg)
    assert any("grpcio-" in e and "does not install on CPython 3.11 darwin" in e for e in errs)


def test_missing_dependency_marks_target_unavailable(
    packages: dict[str, Path], tmp_path: Path
) -> None:
    """A CPython some dependency has no wheel for is named in the index, not a failed build,
    and the launcher run there says which integration cannot run and why."""
    host = host_target()
    lacking = tmp_path / "wheels"
    lacking.mkdir()
    for whl in (CACHE / host.tag).glob("*.whl"):
        if not whl.name.startswith("grpcio-"):
            shutil.copy(whl, lacking)
    other = Target("3.99", host.arch, host.os)
    out = build_one(
        "fs", [host, other], {host: CACHE / host.tag, other: lacking}, "v0.1.0", tmp_path
    )
    index = json.loads((out / "lib" / "index.json").read_text())
    assert list(index["targets"]) == [host.tag]
    assert index["unavailable"] == {other.tag: f"no {other.tag} wheel of grpcio was downloaded"}
    f = facts(version=(3, 99, 0), machine=host.arch, platform=host.os, glibc="glibc 2.36")
    with pytest.raises(boot.Refused, match=r"^fs cannot run on CPython 3\.99 \(linux "):
        boot.choose(index, f)


def test_darwin_package_layout(tmp_path: Path) -> None:
    """fs for macOS arm64 and this CPython: macOS wheels only, floor recorded, Plakar's name."""
    py = f"{sys.version_info[0]}.{sys.version_info[1]}"
    proc = subprocess.run(
        [str(ROOT / "scripts" / "package"), "fs", "--os", "darwin", "--arch", "arm64"]
        + ["--python", py, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-2000:]
    pkg = tmp_path / "fs"
    assert verify_package(pkg) == []
    index = json.loads((pkg / "lib" / "index.json").read_text())
    tag = f"cp{py.replace('.', '')}-darwin-arm64"
    assert (index["os"], index["arch"], list(index["targets"])) == ("darwin", "arm64", [tag])
    assert index["targets"][tag]["macos"] == "11.0"
    wheels = sorted(p.name for p in (pkg / "lib" / "wheels").iterdir())
    assert wheels and all("macosx_" in w for w in wheels), wheels
    assert any(w.startswith("grpcio-") for w in wheels)
    assert [p.name for p in tmp_path.glob("*.ptar")] == ["posixfs_v0.1.0_darwin_arm64.ptar"]
    mac = facts(platform="darwin", machine="arm64", mac="13.6", version=sys.version_info[:3])
    assert boot.choose(index, mac) == tag


def test_download_names_the_integration_a_missing_wheel_stops(
    packages: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real pip, offline: an index (a directory) without bcrypt resolves every integration
    but sftp, and the reason recorded for sftp is pip's, naming the missing wheel."""
    import package_wheels

    host = host_target()
    index_dir = tmp_path / "index"
    index_dir.mkdir()
    for whl in (CACHE / host.tag).glob("*.whl"):
        if not whl.name.startswith("bcrypt-"):
            shutil.copy(whl, index_dir)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index_dir))
    monkeypatch.setattr(package_wheels, "CACHE", tmp_path / "cache")
    dest = package_wheels.download(host)
    unavailable = package_wheels.unavailable_in(dest)
    assert list(unavailable) == ["sftp"], unavailable
    assert unavailable["sftp"].startswith(f"no {host.tag} wheel of bcrypt"), unavailable
    with pytest.raises(SystemExit, match=f"no target can be built:\n  {host.tag}: no "):
        build_one("sftp", [host], {host: dest}, "v0.1.0", tmp_path / "d")
    assert verify_package(build_one("fs", [host], {host: dest}, "v0.1.0", tmp_path / "d")) == []
