"""Start-up of a packaged connector (shipped as lib/kloset_boot.py by scripts/package).

Plakar runs each executable directly, with whatever `python3` is on PATH and nothing
installed (docs/PROTOCOL.md: Manifests and packages). The package carries its Python code as
one zip (lib/site.zip) and the native wheels for every supported CPython of its OS and arch
(lib/wheels/). On the first run for this interpreter, both are unpacked into a private cache
directory, named after the build and platform, built under a temporary name and renamed into
place, so concurrent first runs never see half a tree. Later runs only add that directory to
sys.path: Python then imports from plain files with its own bytecode cache, which is what
keeps Init under a second (P17).

Standard library only. The module must parse and refuse cleanly on old interpreters (macOS's
/usr/bin/python3 is 3.9, CentOS 7's is 3.6), so no `from __future__ import annotations`, no
3.8+ syntax: annotations that use newer typing are strings.
"""

import json
import os
import shutil
import sys
import tempfile
import zipfile
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
#: Lowest CPython the packages are built for.
MIN_PYTHON = (3, 10)
#: uname -m as each OS's wheels spell it.
ARCH = {
    "linux": {"amd64": "x86_64", "arm64": "aarch64"},
    "darwin": {"amd64": "x86_64", "aarch64": "arm64"},
}


class Refused(Exception):
    """This interpreter or machine cannot run the package; the message says why, in one line."""


def fail(message: str) -> None:
    sys.stderr.write(f"kloset connector: {message}\n")
    sys.stderr.flush()
    sys.exit(1)


def facts() -> "dict[str, Any]":
    """What the build choice depends on, read from the running interpreter and machine."""
    import sysconfig

    out: dict[str, Any] = {
        "implementation": sys.implementation.name,
        "version": tuple(sys.version_info[:3]),
        "executable": sys.executable or "python3",
        "platform": sys.platform,
        "machine": os.uname().machine,
        "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        "glibc": "",
        "mac": "",
    }
    if sys.platform == "darwin":
        import platform

        out["mac"] = platform.mac_ver()[0]
    else:
        try:
            out["glibc"] = os.confstr("CS_GNU_LIBC_VERSION") or ""
        except (ValueError, OSError):
            pass
    return out


def _version(text: str) -> "tuple[int, int]":
    parts = [int(x) for x in text.split(".")[:2] if x.isdigit()] + [0, 0]
    return (parts[0], parts[1])


def choose(index: "dict[str, Any]", f: "dict[str, Any]") -> str:
    """The index.json target for interpreter/machine facts `f`, or Refused with the reason."""
    ver = ".".join(str(x) for x in f["version"])
    if f["implementation"] != "cpython":
        raise Refused(
            f"this package needs CPython 3.10 or newer; {f['executable']} is"
            f" {f['implementation']} {ver}"
        )
    if tuple(f["version"][:2]) < MIN_PYTHON:
        hint = ""
        if f["platform"] == "darwin":
            hint = (
                " (macOS's own /usr/bin/python3 is 3.9: install CPython 3.10+ from python.org"
                " or Homebrew and put its python3 first on PATH)"
            )
        raise Refused(
            f"this package needs CPython 3.10 or newer; {f['executable']} is Python {ver}{hint}"
        )
    if f["platform"].startswith("linux"):
        os_name = "linux"
    elif f["platform"] == "darwin":
        os_name = "darwin"
    else:
        raise Refused(f"no build for this operating system ({f['platform']})")
    arch = ARCH[os_name].get(f["machine"], f["machine"])
    py = f"cp{f['version'][0]}{f['version'][1]}"
    tag = f"{py}-{os_name}-{arch}"
    want = (index.get("os", "linux"), index.get("arch", arch))
    if (os_name, arch) != want and tag not in index["targets"]:
        raise Refused(
            f"this is the {want[0]} {want[1]} package; this machine is {os_name} {arch}"
            f" ({f['executable']}): install the {os_name} {arch} package"
        )
    if f["free_threaded"]:
        raise Refused(
            f"free-threaded CPython ({py}t) is not supported: the native wheels are built for"
            f" the regular build; run the package with a regular python3 {ver[:4]}"
        )
    unavailable = index.get("unavailable", {})
    if tag in unavailable:
        raise Refused(
            f"{index.get('name', 'this connector')} cannot run on CPython"
            f" {f['version'][0]}.{f['version'][1]} ({os_name} {arch}): {unavailable[tag]}"
        )
    if tag not in index["targets"]:
        raise Refused(
            f"no build for this platform ({tag}, {f['platform']}); this package supports"
            f" {', '.join(sorted(index['targets']))}"
        )
    entry = index["targets"][tag]
    if os_name == "linux":
        found = f["glibc"]
        if not found.startswith("glibc "):
            raise Refused(
                "this package needs a glibc Linux (manylinux); this system has no glibc"
                f" ({found!r})"
            )
        if _version(found.split()[1]) < _version(entry["glibc"]):
            raise Refused(
                f"this package needs glibc {entry['glibc']} or newer; this system has {found}"
            )
    else:
        have = _version(f["mac"])
        if have == (10, 16):  # an interpreter built against an old SDK, on macOS 11 or newer
            have = (11, 0)
        if have < _version(entry["macos"]):
            raise Refused(
                f"this package needs macOS {entry['macos']} or newer; this Mac runs"
                f" {f['mac'] or 'an unknown version'}"
            )
    return tag


def cache_root() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "kloset-connectors")


def remove_stale(parent: str, max_age: float = 3600.0) -> None:
    """Half-built trees of runs that were killed mid-unpack (Plakar SIGKILLs plugins, P15)."""
    import time

    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        path = os.path.join(parent, name)
        try:
            if name.startswith(".tmp-") and time.time() - os.stat(path).st_mtime > max_age:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass


def unpack(index: "dict[str, Any]", tag: str, dest: str) -> None:
    """Extract site.zip and this platform's wheels into `dest`, atomically."""
    target = index["targets"][tag]
    parent = os.path.dirname(dest)
    os.makedirs(parent, exist_ok=True)
    remove_stale(parent)
    tmp = tempfile.mkdtemp(prefix=".tmp-", dir=parent)
    try:
        for name in ["site.zip"] + [f"wheels/{w}" for w in target["wheels"]]:
            with zipfile.ZipFile(os.path.join(HERE, name)) as zf:
                zf.extractall(tmp)
        open(os.path.join(tmp, ".complete"), "w").close()
        try:
            os.rename(tmp, dest)
        except OSError:
            if not os.path.exists(os.path.join(dest, ".complete")):
                raise
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)


def prepare() -> str:
    """The directory holding this package's code for this interpreter, unpacking if needed."""
    with open(os.path.join(HERE, "index.json")) as f:
        index = json.load(f)
    try:
        tag = choose(index, facts())
    except Refused as exc:
        fail(str(exc))
        raise
    name = f"{index['build']}-{tag}"
    for root in (
        cache_root(),
        os.path.join(tempfile.gettempdir(), f"kloset-connectors-{os.getuid()}"),
    ):
        dest = os.path.join(root, name)
        if os.path.exists(os.path.join(dest, ".complete")):
            return dest
        try:
            unpack(index, tag, dest)
            return dest
        except OSError as exc:
            sys.stderr.write(f"kloset connector: cannot unpack into {root}: {exc}\n")
    fail("no writable cache directory (set XDG_CACHE_HOME)")
    raise AssertionError("unreachable")


def isolate(code_dir: str) -> None:
    """Our code first; drop site-packages and PYTHONPATH so a system copy of grpc, protobuf or
    a `google` package cannot shadow the versions this package was tested with."""
    extra = set(os.environ.get("PYTHONPATH", "").split(os.pathsep)) - {""}
    keep = [
        p
        for p in sys.path
        if p
        and p != HERE
        and p != os.path.dirname(HERE)
        and p not in extra
        and "site-packages" not in p
        and "dist-packages" not in p
    ]
    sys.path[:] = [code_dir, *keep]


def serve(name: str, kind: str) -> None:
    """Unpack if needed, then serve `kloset_<name>`'s `kind` connector on stdin/stdout."""
    sys.stdout = sys.stderr  # a stray print while importing must never reach the wire (P16)
    isolate(prepare())
    import importlib

    from kloset_sdk.entrypoint import serve as serve_kind
    from kloset_sdk.registry import LazyConnectors, connector_specs

    mod = importlib.import_module(f"kloset_{name}")
    serve_kind(kind, LazyConnectors(tuple(mod.PROTOCOLS), connector_specs(mod)[kind]))
