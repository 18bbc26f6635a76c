"""Wheels for every target platform, cached in .build/wheels, and per-integration closures.

One `pip download --only-binary=:all:` per target (CPython version x OS x arch) resolves the
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
SDK_REQUIRES = ["grpcio", "protobuf"]
INTEGRATION_REQUIRES = {
    "fs": ["pathspec"],
    "s3": ["boto3"],
    "sftp": ["paramiko"],
    "gdrive": [
        "google-api-python-client",
        "google-auth",
        "google-auth-oauthlib",
        "requests",
        "urllib3",
    ],
    "onedrive": ["msal", "requests", "urllib3"],
}
PYTHONS = ["3.10", "3.11", "3.12", "3.13", "3.14"]
#: (os, arch) pairs built by default, arch as the OS itself names it (uname -m).
PLATFORMS = [("linux", "x86_64"), ("linux", "aarch64"), ("darwin", "x86_64"), ("darwin", "arm64")]
OSES = ["linux", "darwin"]
ARCHES = sorted({a for _, a in PLATFORMS})
#: manylinux tags accepted; glibc 2.17 (manylinux2014) is the floor, so CentOS 7 era and newer.
MANYLINUX = ["manylinux2014", "manylinux_2_17", "manylinux_2_28"]
#: Highest macOS a wheel may require: pip accepts macosx_11_0_<arch> and everything older
#: (universal2 included), so macOS 11 (Big Sur, 2020) is the floor of the darwin packages.
MACOS = "11_0"
#: Plakar's names (Go's GOOS/GOARCH) for an (os, arch): they name the .ptar files.
GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def normalize_arch(os_name: str, arch: str) -> str:
    """The arch as `os_name` spells it: Linux says aarch64, macOS says arm64."""
    arch = {"amd64": "x86_64", "x64": "x86_64"}.get(arch, arch)
    if os_name == "darwin":
        return {"aarch64": "arm64"}.get(arch, arch)
    return {"arm64": "aarch64"}.get(arch, arch)


@dataclass(frozen=True)
class Target:
    python: str  # "3.11"
    arch: str  # "x86_64", "aarch64" (linux), "arm64" (darwin)
    os: str = "linux"  # "linux" | "darwin"

    @property
    def tag(self) -> str:
        """What the launcher computes for a running interpreter: cp311-linux-x86_64."""
        return f"cp{self.python.replace('.', '')}-{self.os}-{self.arch}"

    @property
    def platform(self) -> tuple[str, str]:
        """Plakar's (GOOS, GOARCH): one .ptar per pair."""
        return (self.os, GOARCH[self.arch])

    def pip_platforms(self) -> list[str]:
        if self.os == "darwin":
            return [f"macosx_{MACOS}_{self.arch}"]
        return [f"{ml}_{self.arch}" for ml in MANYLINUX]

    def marker_env(self) -> dict[str, str]:
        return {
            "python_version": self.python,
            "python_full_version": self.python + ".0",
            "platform_machine": self.arch,
            "sys_platform": self.os,
            "os_name": "posix",
            "platform_system": {"linux": "Linux", "darwin": "Darwin"}[self.os],
            "implementation_name": "cpython",
            "platform_python_implementation": "CPython",
            "extra": "",
        }


def host_target() -> Target:
    import os

    os_name = "darwin" if sys.platform == "darwin" else "linux"
    arch = normalize_arch(os_name, os.uname().machine)
    return Target(f"{sys.version_info.major}.{sys.version_info.minor}", arch, os_name)


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


def all_requirements(names: list[str] | None = None) -> list[str]:
    """Pinned requirements of the SDK plus `names` (default: every integration)."""
    pins = pinned_requirements()
    chosen = INTEGRATION_REQUIRES if names is None else {n: INTEGRATION_REQUIRES[n] for n in names}
    wanted = set(SDK_REQUIRES) | {n for reqs in chosen.values() for n in reqs}
    return sorted(pins.get(canonicalize_name(n), n) for n in wanted)


#: Per target directory: integration -> why it cannot be built there (pip's own words).
UNAVAILABLE = ".unavailable.json"


def _pip_download(target: Target, reqs: list[str], dest: Path) -> str | None:
    """None on success, else the reason pip gave (its 'No matching distribution' line)."""
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
    for plat in target.pip_platforms():
        cmd += ["--platform", plat]
    proc = subprocess.run(cmd + reqs, capture_output=True, text=True)
    if proc.returncode == 0:
        return None
    found = re.findall(r"No matching distribution found for (\S+)", proc.stderr)
    if found:
        return f"no {target.tag} wheel of {found[-1]} on the package index"
    if "Could not find a version that satisfies" in proc.stderr or "ResolutionImpossible" in (
        proc.stderr
    ):
        return f"pip found no {target.tag} wheels satisfying: {proc.stderr.strip()[-300:]}"
    raise SystemExit(f"package: pip download for {target.tag} failed:\n{proc.stderr[-3000:]}")


def download(target: Target, quiet: bool = True) -> Path:
    """The wheel directory for `target`, downloading only when the requirements changed.

    One pip run for every integration at once; if pip finds no wheel for some requirement
    (a new CPython before a dependency ships for it), each integration is resolved alone, and
    the ones that still fail are written to UNAVAILABLE with pip's reason: the build then
    ships the others and each package says plainly where it cannot run."""
    reqs = all_requirements()
    dest = CACHE / target.tag
    stamp = dest / ".stamp"
    want = hashlib.sha256(json.dumps([reqs, target.pip_platforms()]).encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == want:
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    unavailable: dict[str, str] = {}
    if _pip_download(target, reqs, dest) is not None:
        for name in INTEGRATION_REQUIRES:
            reason = _pip_download(target, all_requirements([name]), dest)
            if reason is not None:
                unavailable[name] = reason
    (dest / UNAVAILABLE).write_text(json.dumps(unavailable, indent=1, sort_keys=True) + "\n")
    stamp.write_text(want)
    return dest


def unavailable_in(directory: Path) -> dict[str, str]:
    path = directory / UNAVAILABLE
    return json.loads(path.read_text()) if path.exists() else {}


def download_all(targets: list[Target]) -> dict[Target, Path]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(targets, pool.map(download, targets), strict=True))


@dataclass(frozen=True)
class Wheel:
    path: Path
    name: str  # canonical distribution name
    pure: bool
    #: Lowest glibc (manylinux) or macOS version the wheel's tags accept; (0, 0) if pure.
    floor: tuple[int, int]
    requires: tuple[str, ...]


def read_wheel(path: Path) -> Wheel:
    name, _ver, _build, tags = parse_wheel_filename(path.name)
    pure = all(t.platform == "any" for t in tags)
    floor = (0, 0)
    if not pure:
        found = []
        for t in tags:
            m = re.match(r"(?:manylinux|macosx)_(\d+)_(\d+)_", t.platform)
            if m:
                found.append((int(m.group(1)), int(m.group(2))))
            elif t.platform.startswith("manylinux2014"):
                found.append((2, 17))
            elif t.platform.startswith("manylinux1"):
                found.append((2, 5))
        floor = min(found) if found else (0, 0)
    with zipfile.ZipFile(path) as zf:
        meta_name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(zf.read(meta_name).decode())
    return Wheel(
        path, canonicalize_name(name), pure, floor, tuple(meta.get_all("Requires-Dist") or ())
    )


def closure(wheels: dict[str, Wheel], roots: list[str], target: Target) -> list[Wheel]:
    """The wheels `roots` need on `target`, following Requires-Dist without extras."""
    env = target.marker_env()
    seen: dict[str, Wheel] = {}
    todo = [canonicalize_name(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in wheels:
            raise LookupError(f"no {target.tag} wheel of {name} was downloaded")
        seen[name] = wheels[name]
        for spec in wheels[name].requires:
            req = Requirement(spec)
            if req.marker is not None and not Marker(str(req.marker)).evaluate(env):
                continue
            todo.append(canonicalize_name(req.name))
    return sorted(seen.values(), key=lambda w: w.name)


def wheels_in(directory: Path) -> dict[str, Wheel]:
    return {w.name: w for w in (read_wheel(p) for p in sorted(directory.glob("*.whl")))}


#: Extension modules a distribution must bring as native code (a pure fallback wheel, such
#: as protobuf's py3-none-any, would import but run its slow pure-Python implementation).
NATIVE_MODULES = {
    "grpcio": "grpc/_cython/cygrpc",
    "protobuf": "google/_upb/_message",
    "cryptography": "cryptography/hazmat/bindings/_rust",
    "cffi": "_cffi_backend",
    "bcrypt": "bcrypt/_bcrypt",
    "pynacl": "nacl/_sodium",
}


def supported_tags(target: Target) -> set[str]:
    """Every wheel tag a CPython of `target` accepts (what pip on that machine would take)."""
    from packaging import tags

    version = tuple(int(x) for x in target.python.split("."))
    if target.os == "darwin":
        major, minor = (int(x) for x in MACOS.split("_"))
        plats = list(tags.mac_platforms((major, minor), target.arch))
    else:
        plats = [f"manylinux_2_{m}_{target.arch}" for m in range(28, 4, -1)]
        plats += [
            f"{old}_{target.arch}" for old in ("manylinux2014", "manylinux2010", "manylinux1")
        ]
    abi = f"cp{target.python.replace('.', '')}"
    out = tags.cpython_tags(version, [abi], plats)
    found = {str(t) for t in out}
    found |= {str(t) for t in tags.compatible_tags(version, abi, plats)}
    return found


def extension_suffixes(target: Target) -> tuple[str, ...]:
    """The file endings CPython `target` imports an extension module from."""
    ver = target.python.replace(".", "")
    if target.os == "darwin":
        return (f".cpython-{ver}-darwin.so", ".abi3.so")
    return (f".cpython-{ver}-{target.arch}-linux-gnu.so", ".abi3.so")


def requirements_of(name: str) -> list[str]:
    """The distributions integration `name` needs at run time (SDK included)."""
    return SDK_REQUIRES + INTEGRATION_REQUIRES[name]
