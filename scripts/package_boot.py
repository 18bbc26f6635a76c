"""Start-up of a packaged connector (shipped as lib/kloset_boot.py by scripts/package).

Plakar runs each executable directly, with whatever `python3` is on PATH and nothing
installed (docs/PROTOCOL.md: Manifests and packages). The package carries its Python code as one zip
(lib/site.zip) and
the native wheels for every supported CPython/arch (lib/wheels/). On the first run for this
interpreter, both are unpacked into a private cache directory, named after the build and
platform, built under a temporary name and renamed into place, so concurrent first runs never
see half a tree. Later runs only add that directory to sys.path: Python then imports from plain
files with its own bytecode cache, which is what keeps Init under a second (P17).

Standard library only; stays valid on Python 3.10.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ARCH = {"amd64": "x86_64", "arm64": "aarch64"}


def fail(message: str) -> None:
    sys.stderr.write(f"kloset connector: {message}\n")
    sys.stderr.flush()
    sys.exit(1)


def platform_tag() -> str:
    machine = os.uname().machine
    return f"cp{sys.version_info.major}{sys.version_info.minor}-{ARCH.get(machine, machine)}"


def check_libc(need: str) -> None:
    """Native wheels are manylinux (glibc): say so plainly on musl or an old glibc."""
    try:
        found = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError):
        found = ""
    if not found.startswith("glibc "):
        fail(f"this package needs a glibc Linux (manylinux); this system has no glibc ({found!r})")
    have = tuple(int(x) for x in found.split()[1].split(".")[:2])
    want = tuple(int(x) for x in need.split("."))
    if have < want:
        fail(f"this package needs glibc {need} or newer; this system has {found}")


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


def unpack(index: dict[str, object], tag: str, dest: str) -> None:
    """Extract site.zip and this platform's wheels into `dest`, atomically."""
    target = index["targets"][tag]  # type: ignore[index]
    check_libc(target["glibc"])
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
    tag = platform_tag()
    if tag not in index["targets"]:
        fail(
            f"no build for this platform ({tag}, {sys.platform}); this package supports"
            f" {', '.join(sorted(index['targets']))}"
        )
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
