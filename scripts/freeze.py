"""Self-contained Plakar packages: the connectors frozen with PyInstaller, no Python on the host.

    scripts/package --frozen [NAME...] [--version vX.Y.Z] [--out DIR]

One PyInstaller onedir (`kloset-connector` + `_internal/`) holds every integration; it is
built once and cached under .build/frozen/<key>/, keyed by a hash of the sources, this
script, the interpreter and every installed distribution's version, so an unchanged tree
never rebuilds. Each package `<name>-frozen` carries a copy of that onedir under lib/ and, as
its executables, a 16 KB exec wrapper (scripts/freeze_exec.c) per connector that runs
lib/kloset-connector under the connector's own name (scripts/freeze_entry.py dispatches on
it). See docs/PACKAGING.md: Self-contained build.
"""

from __future__ import annotations

import argparse
import fnmatch
import gzip
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
sys.path[:0] = [str(ROOT / "sdk"), str(ROOT / "integrations")]
from kloset_cli.manifest import check_manifest, check_package  # noqa: E402

sys.path[:0] = [str(SCRIPTS)]
from package_build import plakar_pkg_create  # noqa: E402

CACHE = ROOT / ".build" / "frozen"
DIST = ROOT / "dist" / "plakar"
ALL = ["fs", "s3", "sftp", "gdrive", "onedrive"]
#: Appended to the manifest name: Plakar names allow only [A-Za-z0-9-], and a distinct name
#: keeps the frozen .ptar beside the launcher one (install one or the other: same protocols).
SUFFIX = "-frozen"
PROGRAM = "kloset-connector"
#: Plakar names a package file after Go's GOARCH.
GOARCH = {"x86_64": "amd64", "aarch64": "arm64"}
#: Never imported by a serving connector: the SDK's test and tool parts, and what only a
#: runtime hook would load at every start (setuptools' hook alone costs ~100 ms of CPU).
EXCLUDE = ["kloset_sdk.harness", "kloset_sdk.testing", "kloset_sdk.examples", "kloset_cli",
           "grpc_tools", "pytest", "hypothesis", "moto", "yaml", "tkinter", "setuptools",
           "pkg_resources", "_distutils_hack", "distutils", "invoke"]  # fmt: skip
#: google-api-python-client's ~500 discovery documents (~110 MB): gdrive reads drive v3 only.
KEEP_DOCS = {"drive.v3.json"}
#: botocore's service models (~450, 28 MB): s3 uses S3, and STS/SSO/sign-in when a profile
#: assumes a role or signs in. Each client creation lists the data directory (~25 ms for 450).
KEEP_BOTO = {"s3", "sts", "sso", "sso-oidc", "signin"}
#: PyInstaller runtime hooks that would run at every start (~30 ms of CPU together) for what no
#: connector does: start multiprocessing children (s3transfer imports multiprocessing but only
#: its process pool, unused, starts any), pkgutil.iter_modules over the archive, and
#: inspect.getsource of frozen code. An empty list in our hooks directory overrides PyInstaller's.
NO_RTHOOKS = ("multiprocessing", "pkgutil", "inspect")
#: What of the onedir (under _internal/) only some integrations import:
#: each package drops the rest.
ONLY_FOR = {
    "boto3": {"s3"},
    "botocore": {"s3"},
    "s3transfer": {"s3"},
    "paramiko": {"sftp"},
    "msal": {"onedrive"},
    "nacl": {"sftp"},
    "bcrypt": {"sftp"},
    "googleapiclient": {"gdrive"},
    "httplib2": {"gdrive"},
    "cryptography": {"sftp", "gdrive", "onedrive"},
    "_cffi_backend.cpython-*.so": {"sftp", "gdrive", "onedrive"},
}


def _sources() -> list[Path]:
    files = [SCRIPTS / "freeze.py", SCRIPTS / "freeze_entry.py", SCRIPTS / "freeze_exec.c"]
    for top in [ROOT / "sdk" / "kloset_sdk", *(ROOT / "integrations").glob("kloset_*")]:
        files += [p for p in top.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return sorted(files)


def cache_key() -> str:
    """Hash of everything the frozen program is made of (sources, interpreter, libraries)."""
    h = hashlib.sha256()
    for path in _sources():
        h.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    h.update(f"{sys.version}\0{platform.machine()}\0{os.confstr('CS_GNU_LIBC_VERSION')}".encode())
    dists = sorted(f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions())
    h.update("\n".join(dists).encode())
    return h.hexdigest()[:20]


def _prune(internal: Path) -> None:
    docs = internal / "googleapiclient" / "discovery_cache" / "documents"
    for doc in docs.glob("*.json") if docs.is_dir() else []:
        if doc.name not in KEEP_DOCS:
            doc.unlink()
    models = internal / "botocore" / "data"
    for service in models.iterdir() if models.is_dir() else []:
        if service.is_dir() and service.name not in KEEP_BOTO:
            shutil.rmtree(service)
    if models.is_dir():
        _trim_endpoints(models)


def _trim_endpoints(models: Path) -> None:
    """endpoints.json down to the kept services: every client creation parses it, and its
    1.2 MB (~450 services in 8 partitions) cost ~20 ms of the s3 exporter's Init."""
    prefixes = set(KEEP_BOTO)
    for model in models.glob("*/*/service-2.json*"):
        raw = model.read_bytes()
        doc = json.loads(gzip.decompress(raw) if model.suffix == ".gz" else raw)
        prefixes.add(doc["metadata"]["endpointPrefix"])
    path = models / "endpoints.json"
    doc = json.loads(path.read_text())
    for partition in doc["partitions"]:
        services = partition["services"]
        partition["services"] = {k: v for k, v in services.items() if k in prefixes}
    path.write_text(json.dumps(doc, indent=1) + "\n")


def _hooks_dir(work: Path) -> Path:
    """A PyInstaller hooks directory whose rthooks.dat maps NO_RTHOOKS to an empty script
    (PyInstaller takes the first directory's hooks for a module; an empty list would not count)."""
    hooks = work / "hooks"
    (hooks / "rthooks").mkdir(parents=True, exist_ok=True)
    (hooks / "rthooks" / "pyi_rth_kloset_skip.py").write_text(
        '"""Replaces a PyInstaller hook."""\n'
    )
    table = {name: ["pyi_rth_kloset_skip.py"] for name in NO_RTHOOKS}
    (hooks / "rthooks.dat").write_text(repr(table) + "\n")
    return hooks


def glibc_floor() -> tuple[int, int]:
    """The build machine's glibc: libpython and the stdlib's extensions are linked against it,
    so the frozen program needs at least that version."""
    have = os.confstr("CS_GNU_LIBC_VERSION") or ""  # "glibc 2.36"
    name, _, version = have.partition(" ")
    major, _, minor = version.partition(".")
    if name != "glibc" or not major.isdigit():
        raise SystemExit(f"freeze: the build machine has no glibc ({have!r})")
    return int(major), int(minor.split(".")[0] or 0)


def compile_wrapper(cc: str, out: Path, floor: tuple[int, int]) -> None:
    """scripts/freeze_exec.c -> out, refusing to start on a glibc older than `floor`."""
    major, minor = floor
    proc = subprocess.run(
        [cc, "-O2", "-s", f"-DGLIBC_FLOOR_MAJOR={major}", f"-DGLIBC_FLOOR_MINOR={minor}"]
        + ["-o", str(out), str(SCRIPTS / "freeze_exec.c")],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"freeze: compiling the exec wrapper failed:\n{proc.stderr}")


def freeze(log: bool = True) -> Path:
    """The cached build directory (onedir `kloset-connector/` and the `exec` wrapper)."""
    key = cache_key()
    done = CACHE / key
    if (done / "BUILT").exists():
        return done
    CACHE.mkdir(parents=True, exist_ok=True)
    pyinstaller = Path(sys.executable).parent / "pyinstaller"
    if not pyinstaller.exists():
        raise SystemExit(
            "freeze: PyInstaller is not installed in this virtualenv:"
            f" {Path(sys.executable).parent / 'pip'} install 'pyinstaller>=6,<7'"
        )
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise SystemExit("freeze: no C compiler (cc/gcc) for the 16 KB exec wrapper")
    t0 = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=CACHE))
    try:
        integrations = [f"kloset_{n}" for n in ALL]
        cmd = [str(pyinstaller), "--noconfirm", "--onedir", "--strip", "--name", PROGRAM]
        cmd += ["--log-level", "WARN", "--distpath", str(tmp), "--workpath", str(tmp / "work")]
        # Modules as .pyc files under _internal/, not in the zlib archive: every connector
        # starts 20-50 ms sooner (no decompression), for 7-9 MB more per package directory.
        cmd += ["--debug", "noarchive"]
        cmd += ["--specpath", str(tmp / "work"), "--collect-submodules", "kloset_sdk"]
        cmd += ["--additional-hooks-dir", str(_hooks_dir(tmp / "work"))]
        cmd += ["--paths", str(ROOT / "sdk"), "--paths", str(ROOT / "integrations")]
        for mod in integrations:
            cmd += ["--collect-submodules", mod]
        for mod in EXCLUDE:
            cmd += ["--exclude-module", mod]
        cmd.append(str(SCRIPTS / "freeze_entry.py"))
        env = {**os.environ, "PYTHONPATH": f"{ROOT / 'sdk'}:{ROOT / 'integrations'}"}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise SystemExit(f"freeze: pyinstaller failed:\n{proc.stderr[-4000:]}")
        _prune(tmp / PROGRAM / "_internal")
        compile_wrapper(cc, tmp / "exec", glibc_floor())
        shutil.rmtree(tmp / "work")
        (tmp / "BUILT").write_text(f"{time.monotonic() - t0:.1f}\n")
        try:
            os.rename(tmp, done)
        except OSError:
            if not (done / "BUILT").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    # Keep the 3 newest builds (~110 MB each); never one built in the last hour, which another
    # checkout sharing .build/ may be copying from right now.
    builds = sorted(
        (p for p in CACHE.iterdir() if (p / "BUILT").exists()),
        key=lambda p: (p / "BUILT").stat().st_mtime,
        reverse=True,
    )
    for old in builds[3:]:
        if time.time() - (old / "BUILT").stat().st_mtime > 3600:
            shutil.rmtree(old, ignore_errors=True)
    if log:
        print(f"freeze: built {done.name} in {time.monotonic() - t0:.1f}s", flush=True)
    return done


def build_package(name: str, build: Path, dist: Path) -> Path:
    """dist/<name>-frozen/: manifest, validators, one wrapper per connector, lib/ = the onedir."""
    src = ROOT / "manifests" / name / "manifest.yaml"
    manifest = yaml.safe_load(src.read_text())
    errs = check_manifest(manifest, str(src.relative_to(ROOT)))
    if errs:
        raise SystemExit(f"package {name}: manifest problems:\n  " + "\n  ".join(errs))
    out = dist / f"{name}{SUFFIX}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    drop = [pattern for pattern, users in ONLY_FOR.items() if name not in users]

    def ignore(folder: str, names: list[str]) -> set[str]:
        if Path(folder) != build / PROGRAM / "_internal":
            return set()
        return {n for n in names for p in drop if fnmatch.fnmatch(n, p)}

    shutil.copytree(build / PROGRAM, out / "lib", symlinks=False, ignore=ignore)
    manifest["name"] += SUFFIX
    manifest["display_name"] = f"{manifest['display_name']}, self-contained"
    for conn in manifest["connectors"]:
        exe = out / conn["executable"]
        shutil.copyfile(build / "exec", exe)
        exe.chmod(0o755)
        if conn.get("validator"):
            shutil.copyfile(src.parent / conn["validator"], out / conn["validator"])
    (out / "lib" / PROGRAM).chmod(0o755)
    lib_files = sorted(
        p.relative_to(out).as_posix() for p in (out / "lib").rglob("*") if p.is_file()
    )
    conns = manifest["connectors"]
    conns[0]["extra_files"] = list(conns[0].get("extra_files") or []) + lib_files
    (out / "manifest.yaml").write_text(
        f"# Generated by scripts/package --frozen from manifests/{name}/manifest.yaml\n"
        + yaml.safe_dump(manifest, sort_keys=False)
    )
    errs = check_package(out)
    if errs:
        raise SystemExit(f"package {name}: package problems:\n  " + "\n  ".join(errs[:20]))
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="scripts/package --frozen", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("names", nargs="*", help=f"integrations (default: {' '.join(ALL)})")
    ap.add_argument("--version", default="v0.1.0", help="package version for pkg create")
    ap.add_argument("--out", type=Path, default=DIST, help=f"output directory (default {DIST})")
    ap.add_argument("--no-ptar", action="store_true", help="skip plakar pkg create")
    a = ap.parse_args(argv)
    names = a.names or ALL
    bad = [n for n in names if n not in ALL]
    if bad:
        ap.error(f"unknown integration(s) {bad}; known: {ALL}")
    if sys.platform != "linux":
        raise SystemExit("freeze: the self-contained build is Linux only (PyInstaller onedir)")
    t0 = time.monotonic()
    build = freeze()
    print(f"freeze: {build} ready in {time.monotonic() - t0:.1f}s", flush=True)
    failed = []
    for name in names:
        try:
            out = build_package(name, build, a.out.resolve())
            size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
            print(f"package: {out.name}: {out} ({size / 1e6:.1f} MB)", flush=True)
            if not a.no_ptar:
                machine = platform.machine()
                plakar_pkg_create(out, a.version, ("linux", GOARCH.get(machine, machine)))
        except SystemExit as exc:
            print(exc, file=sys.stderr)
            failed.append(name)
    print(
        f"package --frozen: done in {time.monotonic() - t0:.1f}s"
        + (f"; FAILED: {' '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
