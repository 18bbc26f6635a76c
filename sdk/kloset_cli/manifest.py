"""The rules `plakar pkg create` and Plakar's loader apply to a package (docs/PROTOCOL.md: Manifests
and packages).

Plakar's YAML decoder ignores unknown keys, so a typo (`flags`, `tag`, `extra_file`, all seen in
Plakar's own docs, P20) silently drops a setting. Checking the exact key set here turns those
into build errors. `check_package` adds what `pkg create` itself enforces on the files: each
executable has an execute bit and lies under the manifest directory, each validator is a JSON
object, every listed path is one regular file, and (our rule) nothing unlisted sits in the
package directory, because it would be silently left out of the .ptar.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from kloset_sdk.location import FLAG_NAMES
from kloset_sdk.registry import BUILTIN

#: The flags a manifest may name: kloset v1.1.3 (Plakar v1.1.4) parses only these, and one
#: unknown flag stops the whole package from loading. EXPORTXATTR is newer, and only a
#: connector's Init answer can carry it.
MANIFEST_FLAGS = [f for f in FLAG_NAMES if f != "exportxattr"]

TOP_KEYS = {
    "name",
    "display_name",
    "description",
    "tier",
    "contact",
    "homepage",
    "license",
    "tags",
    "api_version",
    "connectors",
}
CONNECTOR_KEYS = {
    "type",
    "class",
    "subclass",
    "validator",
    "protocols",
    "location_flags",
    "executable",
    "args",
    "extra_files",
}
REQUIRED_CONNECTOR_KEYS = {"type", "protocols", "executable"}
TYPES = ("importer", "exporter", "storage")
#: PlakarKorp/pkg var.go
CLASSES = {
    "",
    "unknown",
    "analytics",
    "block-storage",
    "compute",
    "database",
    "file-storage",
    "hypervisor",
    "identity",
    "messaging",
    "network",
    "object-storage",
    "observability",
    "registry",
    "security",
    "service",
}
SUBCLASSES = {
    "",
    "unknown",
    "azblob",
    "ftp",
    "gcs",
    "imap",
    "mongodb",
    "mysql",
    "pvc",
    "postgresql",
    "proxmox",
    "redis",
    "s3",
    "secret-manager",
    "sftp",
}
NAME_RE = re.compile(r"^[A-Za-z0-9-]+$")
PROTO_RE = re.compile(r"^[A-Za-z0-9+.-]{2,}$")


def load(path: Path) -> dict[str, Any]:
    import yaml

    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a YAML mapping")
    return data


def _str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def check_manifest(data: dict[str, Any], where: str = "manifest.yaml") -> list[str]:
    """Problems with the manifest's keys and values (no file-system checks)."""
    errs: list[str] = []
    for key in sorted(set(data) - TOP_KEYS):
        errs.append(f"{where}: unknown key {key!r} (Plakar would ignore it)")
    name = data.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        errs.append(f"{where}: name {name!r} must be [A-Za-z0-9-]+ (it names the .ptar)")
    if not isinstance(data.get("api_version"), str) or not data.get("api_version"):
        errs.append(f"{where}: api_version missing (official manifests use v1.1.0)")
    if "tags" in data and not _str_list(data["tags"]):
        errs.append(f"{where}: tags must be a list of strings")
    conns = data.get("connectors")
    if not isinstance(conns, list) or not conns:
        return errs + [f"{where}: connectors must be a non-empty list"]
    seen: set[tuple[str, str]] = set()
    for i, conn in enumerate(conns):
        at = f"{where}: connectors[{i}]"
        if not isinstance(conn, dict):
            errs.append(f"{at}: not a mapping")
            continue
        errs += [f"{at}: unknown key {k!r}" for k in sorted(set(conn) - CONNECTOR_KEYS)]
        errs += [f"{at}: missing {k}" for k in sorted(REQUIRED_CONNECTOR_KEYS - set(conn))]
        typ = conn.get("type")
        if typ not in TYPES:
            errs.append(f"{at}: type {typ!r} is not one of {', '.join(TYPES)}")
        if conn.get("class", "") not in CLASSES:
            errs.append(f"{at}: class {conn.get('class')!r} is not an allowed class")
        if conn.get("subclass", "") not in SUBCLASSES:
            errs.append(f"{at}: subclass {conn.get('subclass')!r} is not an allowed subclass")
        protos = conn.get("protocols", [])
        if not _str_list(protos) or not protos:
            errs.append(f"{at}: protocols must be a non-empty list of strings")
            protos = []
        for proto in protos:
            if not PROTO_RE.match(proto):
                errs.append(f"{at}: protocol {proto!r} is not 2+ chars of [A-Za-z0-9+.-] (P23)")
            if isinstance(typ, str) and proto in BUILTIN.get(typ, set()):
                errs.append(f"{at}: protocol {proto!r} is a Plakar built-in {typ} (§7.3)")
            if (str(typ), proto) in seen:
                errs.append(f"{at}: protocol {proto!r} registered twice as {typ}")
            seen.add((str(typ), proto))
        flags = conn.get("location_flags", [])
        if not _str_list(flags):
            errs.append(f"{at}: location_flags must be a list of strings")
        else:
            errs += [
                f"{at}: unknown location flag {f!r}: Plakar v1.1.4 would refuse to load the "
                f"package (known: {', '.join(MANIFEST_FLAGS)})"
                for f in flags
                if f not in MANIFEST_FLAGS
            ]
        for key in ("args", "extra_files"):
            if key in conn and not _str_list(conn[key]):
                errs.append(f"{at}: {key} must be a list of strings")
        for key in ("executable", "validator"):
            if key in conn and not isinstance(conn[key], str):
                errs.append(f"{at}: {key} must be a string path")
    return errs


def _inside(base: Path, rel: str) -> Path | None:
    path = (base / rel).resolve()
    return path if path == base or base in path.parents else None


def listed_files(data: dict[str, Any]) -> list[str]:
    """Every path `pkg create` puts in the package, manifest first."""
    out = ["manifest.yaml"]
    for conn in data.get("connectors") or []:
        for key in ("executable", "validator"):
            if isinstance(conn.get(key), str):
                out.append(conn[key])
        out += [f for f in conn.get("extra_files") or [] if isinstance(f, str)]
    return out


def check_package(directory: Path) -> list[str]:
    """All manifest rules plus the files: what must hold before `plakar pkg create` runs."""
    base = directory.resolve()
    mpath = base / "manifest.yaml"
    if not mpath.is_file():
        return [f"{base}: no manifest.yaml"]
    data = load(mpath)
    errs = check_manifest(data, str(mpath))
    listed: set[Path] = set()
    for conn in data.get("connectors") or []:
        if not isinstance(conn, dict):
            continue
        exe, validator = conn.get("executable"), conn.get("validator")
        for rel in [exe, validator, *(conn.get("extra_files") or [])]:
            if not isinstance(rel, str):
                continue
            path = _inside(base, rel)
            if path is None:
                errs.append(f"{rel}: not below the manifest directory")
                continue
            if not path.is_file():
                errs.append(f"{rel}: listed but not a regular file in {base}")
                continue
            listed.add(path)
        if isinstance(exe, str) and (p := _inside(base, exe)) and p.is_file():
            if not os.stat(p).st_mode & 0o111:
                errs.append(f"{exe}: executable has no execute bit")
        if isinstance(validator, str) and (p := _inside(base, validator)) and p.is_file():
            try:
                if not isinstance(json.loads(p.read_text()), dict):
                    errs.append(f"{validator}: validator is not a JSON object")
            except ValueError as exc:
                errs.append(f"{validator}: validator is not valid JSON ({exc})")
    listed.add(mpath)
    for path in sorted(base.rglob("*")):
        if path.is_file() and path.resolve() not in listed and "__pycache__" not in path.parts:
            errs.append(f"{path.relative_to(base)}: in the package directory but not listed")
    return errs
