"""How each connector is started against its test server, and how to look at the server directly.

A `Backend` holds the plugin argv, the config (optionally routed through a FaultProxy), and two
probes that bypass the plugin: `present()` reads every object stored under its final name, and
`leftovers()` lists temporary names (or unfinished uploads) still on the server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kloset_sdk import Resource
from kloset_sdk.layout import DIRS, LISTED, parse_key
from tests.conftest import example_argv, plugin_argv

MiB = 1 << 20
Objects = dict[tuple[Resource, bytes], bytes]

PROTO = {
    "memstore": "mem",
    "tree": "tree",
    "fs": "posixfs",
    "s3": "s3",
    "sftp": "sftp",
    "gdrive": "gdrive",
    "onedrive": "onedrive",
}


@dataclass
class Backend:
    connector: str
    kind: str
    config: dict[str, str]
    present: Callable[[], Objects] | None = None
    leftovers: Callable[[], list[str]] = list
    files: Callable[[], dict[str, bytes]] | None = None  # exporter/importer: tree on the server
    seed: Callable[[dict[str, bytes]], None] = lambda files: None  # importer: write a tree
    #: Every name on the whole server (not only under the root) that contains a marker.
    anywhere: Callable[[str], list[str]] = lambda marker: []
    secrets: dict[str, str] = field(default_factory=dict)
    server: Any = None
    root: str = ""  # the location's path on the server (for importer/exporter)

    @property
    def proto(self) -> str:
        return PROTO[self.connector]

    @property
    def argv(self) -> list[str]:
        if self.connector == "memstore":
            return example_argv("memstore")
        if self.connector == "tree":
            return example_argv("tree", self.kind)
        return plugin_argv(self.connector, self.kind)


def _walk_local(root: Path) -> Objects:
    out: Objects = {}
    for res in LISTED:
        top = root / DIRS[res]
        if not top.is_dir():
            continue
        for p in top.rglob("*"):
            mac = parse_key(res, p.name)
            if mac is not None and p.is_file() and not p.is_symlink():
                out[(res, mac)] = p.read_bytes()
    return out


def _local_tree(root: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    if not root.exists():
        return out
    for p in root.rglob("*"):
        if p.is_file() and not p.is_symlink():
            out["/" + str(p.relative_to(root))] = p.read_bytes()
    return out


# -- fs and the SDK examples -------------------------------------------------------------------


def fs_backend(kind: str, tmp: Path, connector: str = "fs") -> Backend:
    root = tmp / ("repo" if kind == "storage" else "tree")
    if kind != "storage":
        root.mkdir(parents=True, exist_ok=True)
    proto = PROTO[connector]
    b = Backend(connector, kind, {"location": f"{proto}://{root}"}, root=str(root))
    b.anywhere = lambda marker: [str(p) for p in tmp.rglob(f"*{marker}*")]
    if kind == "storage":
        b.present = lambda: _walk_local(root)
        b.leftovers = lambda: sorted(
            str(p.relative_to(root)) for p in root.rglob(".kloset-*") if root.exists()
        )
    else:
        b.files = lambda: _local_tree(root)
        b.leftovers = lambda: sorted(
            str(p.relative_to(root))
            for p in root.rglob("*")
            if p.name.startswith(".") or p.name.endswith(".tmp~")
        )
        b.seed = lambda files: _seed_local(root, files)
    return b


def _seed_local(root: Path, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        p = root / path.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)


def memstore_backend() -> Backend:
    return Backend("memstore", "storage", {"location": "mem://reliability"})


# -- s3 (SeaweedFS) ----------------------------------------------------------------------------


def s3_backend(kind: str, server: Any, bucket: str, host_port: str | None = None) -> Backend:
    prefix = "repo" if kind == "storage" else "tree"
    config = {
        "location": f"s3://{host_port or server.host_port}/{bucket}/{prefix}",
        "access_key": server.access_key,
        "secret_access_key": server.secret_key,
        "use_tls": "false",
        "max_retries": "4",
        "timeout": "10",
    }
    if kind != "importer":
        config["part_size"] = str(5 * MiB)
    client = server.client()

    def objects() -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix + "/"
        ):
            for o in page.get("Contents", []):
                body = client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
                out[o["Key"][len(prefix) :]] = body
        return out

    def present() -> Objects:
        out: Objects = {}
        for key, body in objects().items():
            for res in LISTED:
                if key.startswith(f"/{DIRS[res]}/"):
                    mac = parse_key(res, key)
                    if mac is not None:
                        out[(res, mac)] = body
        return out

    def leftovers() -> list[str]:
        ups = client.list_multipart_uploads(Bucket=bucket, Prefix=prefix + "/")
        return sorted(f"multipart upload of {u['Key']}" for u in ups.get("Uploads", []))

    def anywhere(marker: str) -> list[str]:
        keys = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys += [o["Key"] for o in page.get("Contents", []) if marker in o["Key"]]
        return keys

    b = Backend(
        "s3",
        kind,
        config,
        leftovers=leftovers,
        secrets={"secret_access_key": server.secret_key},
        server=server,
        root=prefix,
        anywhere=anywhere,
    )
    if kind == "storage":
        b.present = present
    else:
        b.files = objects

        def seed(files: dict[str, bytes]) -> None:
            for path, data in files.items():
                client.put_object(Bucket=bucket, Key=prefix + path, Body=data)

        b.seed = seed
    return b


# -- sftp (OpenSSH sshd) -----------------------------------------------------------------------


def sftp_backend(
    kind: str, server: Any, tmp: Path, port: int | None = None, **extra: str
) -> Backend:
    remote = server.root_dir / f"r-{uuid.uuid4().hex[:12]}"
    remote.mkdir()
    root = remote / ("repo" if kind == "storage" else "tree")
    if kind != "storage":
        root.mkdir()
    tmp.mkdir(parents=True, exist_ok=True)
    ssh_config = tmp / "empty_ssh_config"
    ssh_config.write_text("")
    config = {
        "location": f"sftp://{server.user}@{server.host}:{port or server.port}{root}",
        "identity": str(server.key_path),
        "host_key_fingerprint": server.host_key_fingerprint,
        "ssh_config": str(ssh_config),
        "connect_timeout": "5",
    }
    config.update(extra)

    def leftovers() -> list[str]:
        return sorted(str(p.relative_to(remote)) for p in remote.rglob("*.tmp-*"))

    b = Backend("sftp", kind, config, leftovers=leftovers, server=server, root=str(root))
    b.anywhere = lambda marker: [str(p) for p in server.root_dir.rglob(f"*{marker}*")]
    if kind == "storage":
        b.present = lambda: _walk_local(root)
    else:
        b.files = lambda: _local_tree(root)

        def export_leftovers() -> list[str]:
            return sorted(
                str(p.relative_to(remote))
                for p in remote.rglob("*")
                if ".tmp" in p.name or p.name.startswith(".")
            )

        b.leftovers = export_leftovers
        b.seed = lambda files: _seed_local(root, files)
    return b


# -- gdrive (Drive emulator) -------------------------------------------------------------------


def gdrive_backend(kind: str, emu: Any, **extra: str) -> Backend:
    from tests.emulators.drive import CLIENT_ID, CLIENT_SECRET

    folder = f"r-{uuid.uuid4().hex[:12]}"
    refresh = emu.issue_refresh_token()
    config = {
        "location": f"gdrive://{folder}",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": refresh,
        "api_endpoint": emu.url + "/",
        "token_uri": emu.token_uri,
        "max_retries": "5",
    }
    config.update(extra)

    def walk() -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        try:
            top = emu.find(folder)
        except KeyError:
            return out
        stack = [(top, "")]
        while stack:
            fid, path = stack.pop()
            for item in emu.children(fid):
                if getattr(item, "trashed", False):
                    continue
                p = f"{path}/{item.name}"
                if item.mime_type == "application/vnd.google-apps.folder":
                    stack.append((item.id, p))
                elif item.content is not None:
                    out[p] = bytes(item.content)
        return out

    def present() -> Objects:
        out: Objects = {}
        for path, body in walk().items():
            for res in LISTED:
                if path.startswith(f"/{DIRS[res]}/"):
                    mac = parse_key(res, path)
                    if mac is not None:
                        out[(res, mac)] = body
        return out

    def leftovers() -> list[str]:
        return sorted(p for p in walk() if ".tmp" in p.rsplit("/", 1)[-1])

    b = Backend(
        "gdrive",
        kind,
        config,
        leftovers=leftovers,
        secrets={"client_secret": CLIENT_SECRET, "refresh_token": refresh},
        server=emu,
        root=folder,
        anywhere=lambda marker: [p for p in emu.tree() if marker in p],
    )
    if kind == "storage":
        b.present = present
    else:
        b.files = walk

        def seed(files: dict[str, bytes]) -> None:
            try:
                top = emu.find(folder)
            except KeyError:
                top = emu.add_folder(folder)
            for path, data in files.items():
                parent = top
                *dirs, name = path.strip("/").split("/")
                for d in dirs:
                    match = [c for c in emu.children(parent) if c.name == d]
                    parent = match[0].id if match else emu.add_folder(d, parent)
                emu.add_file(name, data, parent)

        b.seed = seed
    return b


# -- onedrive (Graph emulator) -----------------------------------------------------------------


def onedrive_backend(kind: str, emu: Any, **extra: str) -> Backend:
    folder = f"r-{uuid.uuid4().hex[:12]}"
    config = {
        "location": f"onedrive:///{folder}",
        "client_id": emu.client_id,
        "client_secret": emu.client_secret,
        "tenant": emu.tenant_id,
        "drive_id": emu.default_drive_id,
        "graph_endpoint": emu.graph_url,
        "authority_host": emu.base_url,
        "ca_bundle": emu.ca_cert_path,
    }
    config.update(extra)

    def walk() -> dict[str, bytes]:
        prefix = f"/{folder}/"
        return {
            p[len(prefix) - 1 :]: data
            for p, data in emu.tree().items()
            if p.startswith(prefix) and data is not None
        }

    def present() -> Objects:
        out: Objects = {}
        for path, body in walk().items():
            for res in LISTED:
                if path.startswith(f"/{DIRS[res]}/"):
                    mac = parse_key(res, path)
                    if mac is not None:
                        out[(res, mac)] = body
        return out

    def leftovers() -> list[str]:
        return sorted(p for p in walk() if ".tmp" in p.rsplit("/", 1)[-1])

    b = Backend(
        "onedrive",
        kind,
        config,
        leftovers=leftovers,
        secrets={"client_secret": emu.client_secret},
        server=emu,
        root=folder,
        anywhere=lambda marker: [p for p in emu.tree() if marker in p],
    )
    if kind == "storage":
        b.present = present
    else:
        b.files = walk

        def seed(files: dict[str, bytes]) -> None:
            for path, data in files.items():
                emu.add_file(f"/{folder}{path}", data)

        b.seed = seed
    return b


# -- one entry point for tests -----------------------------------------------------------------


def make_backend(
    connector: str,
    kind: str,
    request: pytest.FixtureRequest,
    tmp: Path,
    *,
    via: Callable[[str, int], Any] | None = None,
    **extra: str,
) -> Backend:
    """The backend of `connector` for a `kind` connector; servers are started on first use.

    `via(host, port)` returns a FaultProxy to route S3/SFTP traffic through.
    """
    if connector == "memstore":
        return memstore_backend()
    if connector in ("fs", "tree"):
        return fs_backend(kind, tmp, connector)
    if connector == "s3":
        server = request.getfixturevalue("seaweedfs")
        bucket = f"r-{uuid.uuid4().hex[:16]}"
        server.client().create_bucket(Bucket=bucket)
        hp = None
        if via is not None:
            proxy = via("127.0.0.1", server.port)
            hp = proxy.host_port
        b = s3_backend(kind, server, bucket, hp)
        b.config.update(extra)
        return b
    if connector == "sftp":
        server = request.getfixturevalue("sshd")
        port = via("127.0.0.1", server.port).port if via is not None else None
        return sftp_backend(kind, server, tmp, port, **extra)
    if connector == "gdrive":
        return gdrive_backend(kind, request.getfixturevalue("_drive_server"), **extra)
    if connector == "onedrive":
        return onedrive_backend(kind, request.getfixturevalue("_graph_server"), **extra)
    raise ValueError(connector)


def env_for(backend: Backend, base: dict[str, str]) -> dict[str, str]:
    env = dict(base)
    if backend.connector == "onedrive":
        env.pop("REQUESTS_CA_BUNDLE", None)
        env.pop("CURL_CA_BUNDLE", None)
    return env


def exists(path: str) -> bool:
    return os.path.exists(path)
