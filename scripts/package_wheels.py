"""Wheels for every target platform, cached in .build/wheels, and per-integration closures.

One `pip download --only-binary=:all:` per target (CPython version x Linux arch) resolves the
union of all integrations' requirements; a stamp file makes a warm cache skip pip entirely.
Each integration then takes only the distributions its own requirements reach, found by
following `Requires-Dist` in the downloaded wheels with markers evaluated for that target, so
the s3 package never carries google or msal.
"""

from __future__ import annotations

import email.parser
import hashlib
import json
import re
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import tomllib
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".build" / "wheels"

#: What each integration needs at run time besides the SDK (names as in pyproject).
SDK_REQUIRES = ["grpcio", "protobuf", "jsonschema"]
INTEGRATION_REQUIRES = {
    "fs": ["pathspec"],
    "s3": ["boto3"],
    "sftp": ["paramiko"],
    "gdrive": ["google-api-python-client", "google-auth", "google-auth-oauthlib", "requests"],
    "onedrive": ["msal", "requests"],
}
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
ARCHES = ["x86_64", "aarch64"]
#: manylinux tags accepted; glibc 2.17 (manylinux2014) is the floor, so CentOS 7 era and newer.
MANYLINUX = ["manylinux2014", "manylinux_2_17", "manylinux_2_28"]


@dataclass(frozen=True)
class Target:
    python: str  # "3.11"
    arch: str  # "x86_64"

    @property
    def tag(self) -> str:
        return f"cp{self.python.replace('.', '')}-{self.arch}"


def host_target() -> Target:
    import os

    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(os.uname().machine, os.uname().machine)
    return Target(f"{sys.version_info.major}.{sys.version_info.minor}", arch)


def pinned_requirements() -> dict[str, str]:
    """name -> requirement string with the specifier pyproject declares."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    deps = project["dependencies"] + [d for n in INTEGRATION_REQUIRES for d in extras.get(n, [])]
    out = {}
    for dep in deps:
        req = Requirement(dep)
        out[canonicalize_name(req.name)] = dep
    return out


def all_requirements() -> list[str]:
    pins = pinned_requirements()
    names = set(SDK_REQUIRES) | {n for reqs in INTEGRATION_REQUIRES.values() for n in reqs}
    return sorted(pins.get(canonicalize_name(n), n) for n in names)


def download(target: Target, quiet: bool = True) -> Path:
    """The wheel directory for `target`, downloading only when the requirements changed."""
    reqs = all_requirements()
    dest = CACHE / target.tag
    stamp = dest / ".stamp"
    want = hashlib.sha256(json.dumps([reqs, MANYLINUX]).encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == want:
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    abi = "cp" + target.python.replace(".", "")
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--only-binary=:all:",
        "--python-version",
        target.python,
        "--implementation",
        "cp",
        "--abi",
        abi,
        "--abi",
        "abi3",
        "--abi",
        "none",
        "-d",
        str(dest),
    ]
    for ml in MANYLINUX:
        cmd += ["--platform", f"{ml}_{target.arch}"]
    proc = subprocess.run(cmd + reqs, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"package: pip download for {target.tag} failed:\n{proc.stderr[-3000:]}")
    stamp.write_text(want)
    return dest


def download_all(targets: list[Target]) -> dict[Target, Path]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(targets, pool.map(download, targets), strict=True))


@dataclass(frozen=True)
class Wheel:
    path: Path
    name: str  # canonical distribution name
    pure: bool
    glibc: tuple[int, int]  # lowest glibc the wheel's tags accept; (0, 0) if pure
    requires: tuple[str, ...]


def read_wheel(path: Path) -> Wheel:
    name, _ver, _build, tags = parse_wheel_filename(path.name)
    pure = all(t.platform == "any" for t in tags)
    glibc = (0, 0)
    if not pure:
        found = []
        for t in tags:
            m = re.match(r"manylinux_(\d+)_(\d+)_", t.platform)
            if m:
                found.append((int(m.group(1)), int(m.group(2))))
            elif t.platform.startswith("manylinux2014"):
                found.append((2, 17))
        glibc = min(found) if found else (2, 17)
    with zipfile.ZipFile(path) as zf:
        meta_name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(zf.read(meta_name).decode())
    return Wheel(
        path, canonicalize_name(name), pure, glibc, tuple(meta.get_all("Requires-Dist") or ())
    )


def closure(wheels: dict[str, Wheel], roots: list[str], target: Target) -> list[Wheel]:
    """The wheels `roots` need on `target`, following Requires-Dist without extras."""
    env = {
        "python_version": target.python,
        "python_full_version": target.python + ".0",
        "platform_machine": target.arch,
        "sys_platform": "linux",
        "os_name": "posix",
        "platform_system": "Linux",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "extra": "",
    }
    seen: dict[str, Wheel] = {}
    todo = [canonicalize_name(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in wheels:
            raise SystemExit(
                f"package: {name} is required but no wheel was downloaded for {target.tag}"
            )
        seen[name] = wheels[name]
        for spec in wheels[name].requires:
            req = Requirement(spec)
            if req.marker is not None and not Marker(str(req.marker)).evaluate(env):
                continue
            todo.append(canonicalize_name(req.name))
    return sorted(seen.values(), key=lambda w: w.name)


def wheels_in(directory: Path) -> dict[str, Wheel]:
    return {w.name: w for w in (read_wheel(p) for p in sorted(directory.glob("*.whl")))}
