"""Where each integration lives in the end-to-end tests, and how to read it back from there.

Every call hands out a fresh location on the session's real servers (SeaweedFS, sshd) or on
one Drive / Graph emulator per session. What a connector wrote is read back through the
backend itself (boto3, the sshd's directory on this machine, the emulators' state), never
through the connector under test.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Integrations in the order the matrices run them.
NAMES = ("fs", "s3", "sftp", "gdrive", "onedrive")
PROTOCOL = {"fs": "posixfs", "s3": "s3", "sftp": "sftp", "gdrive": "gdrive", "onedrive": "onedrive"}


@dataclass
class Spot:
    """One location of one integration: its Plakar location, its other keys, its reader."""

    name: str
    location: str
    keys: dict[str, str]
    #: rel path -> bytes of every regular file stored below the location (read from the backend).
    files: Callable[[], dict[str, bytes]]
    extra: dict[str, Any] = field(default_factory=dict)

    def kv(self) -> list[str]:
        """`key=value` words for `plakar store|source|destination add NAME LOCATION ...`."""
        return [f"{k}={v}" for k, v in self.keys.items()]

    def size(self) -> int:
        return sum(len(b) for b in self.files().values())


class E2EBackends:
    """Fresh spots per (integration); servers start on first use, emulators once a session."""

    def __init__(self, tmp: Path, fixture: Callable[[str], Any]) -> None:
        self.tmp = tmp
        self.fixture = fixture
        self._drive: Any = None
        self._graph: Any = None

    @staticmethod
    def fresh() -> str:
        return f"e2e-{uuid.uuid4().hex[:12]}"

    # -- the servers ------------------------------------------------------------------------

    @property
    def seaweedfs(self) -> Any:
        return self.fixture("seaweedfs")

    @property
    def sshd(self) -> Any:
        return self.fixture("sshd")

    @property
    def drive(self) -> Any:
        if self._drive is None:
            from tests.emulators.drive import DriveEmulator

            self._drive = DriveEmulator().start()
        return self._drive

    @property
    def graph(self) -> Any:
        if self._graph is None:
            from tests.emulators.graph import GraphEmulator

            self._graph = GraphEmulator().start()
        return self._graph

    def stop(self) -> None:
        for emu in (self._drive, self._graph):
            if emu is not None:
                emu.stop()

    # -- spots ------------------------------------------------------------------------------

    def spot(self, name: str, seed: dict[str, bytes] | None = None) -> Spot:
        """A new, empty location of `name`, or one holding `seed` (rel path -> bytes)."""
        spot: Spot = getattr(self, f"_{name}")(seed or {})
        return spot

    def _fs(self, seed: dict[str, bytes]) -> Spot:
        where = self.tmp / self.fresh()
        if seed:
            _write(where, seed)
        return Spot("fs", f"posixfs://{where}", {}, lambda: files_below(where), {"path": where})

    def _s3(self, seed: dict[str, bytes]) -> Spot:
        server = self.seaweedfs
        bucket = self.fresh()
        client = server.client()
        client.create_bucket(Bucket=bucket)
        prefix = "data"
        for rel, data in seed.items():
            client.put_object(Bucket=bucket, Key=f"{prefix}/{rel}", Body=data)

        def files() -> dict[str, bytes]:
            out = {}
            for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=prefix + "/"
            ):
                for obj in page.get("Contents", []):
                    body = client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
                    out[obj["Key"][len(prefix) + 1 :]] = body
            return out

        keys = {
            "access_key": server.access_key,
            "secret_access_key": server.secret_key,
            "use_tls": "false",
        }
        loc = f"s3://{server.host_port}/{bucket}/{prefix}"
        return Spot("s3", loc, keys, files, {"bucket": bucket, "prefix": prefix, "client": client})

    def _sftp(self, seed: dict[str, bytes]) -> Spot:
        server = self.sshd
        where = server.root_dir / self.fresh()
        if seed:
            _write(where, seed)
        keys = {"identity": str(server.key_path), "known_hosts": str(server.known_hosts_path)}
        loc = f"sftp://{server.user}@{server.host}:{server.port}{where}"
        return Spot("sftp", loc, keys, lambda: files_below(where), {"path": where})

    def _gdrive(self, seed: dict[str, bytes]) -> Spot:
        from tests.emulators.drive import CLIENT_ID, CLIENT_SECRET

        emu = self.drive
        folder = self.fresh()
        folder_id = emu.add_folder(folder)
        ids: dict[str, str] = {"": folder_id}
        for rel, data in sorted(seed.items()):
            parts = rel.split("/")
            for i in range(1, len(parts)):
                sub = "/".join(parts[:i])
                if sub not in ids:
                    ids[sub] = emu.add_folder(parts[i - 1], ids["/".join(parts[: i - 1])])
            ids[rel] = emu.add_file(parts[-1], data, ids["/".join(parts[:-1])])

        def files() -> dict[str, bytes]:
            out = {}
            for path, what in emu.tree(folder_id).items():
                if isinstance(what, int):
                    out[path] = emu.get_content(emu.find(path, folder_id))
            return out

        keys = {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": emu.issue_refresh_token(),
            "api_endpoint": emu.url,
            "token_uri": emu.token_uri,
        }
        return Spot(
            "gdrive", f"gdrive://{folder}", keys, files, {"folder_id": folder_id, "ids": ids}
        )

    def _onedrive(self, seed: dict[str, bytes]) -> Spot:
        emu = self.graph
        folder = self.fresh()
        emu.add_folder(f"/{folder}")
        for rel, data in sorted(seed.items()):
            parts = rel.split("/")
            for i in range(1, len(parts)):
                sub = f"/{folder}/" + "/".join(parts[:i])
                if not emu.exists(sub):
                    emu.add_folder(sub)
            emu.add_file(f"/{folder}/{rel}", data)

        def files() -> dict[str, bytes]:
            base = f"/{folder}/"
            return {
                path[len(base) :]: data
                for path, data in emu.tree().items()
                if path.startswith(base) and data is not None
            }

        keys = {
            "client_id": emu.client_id,
            "client_secret": emu.client_secret,
            "tenant": emu.tenant_id,
            "drive_id": emu.default_drive_id,
            "graph_endpoint": emu.graph_url,
            "authority_host": emu.base_url,
            "ca_bundle": emu.ca_cert_path,
        }
        return Spot("onedrive", f"onedrive:///{folder}", keys, files, {"folder": folder})


def _write(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def files_below(root: Path) -> dict[str, bytes]:
    """rel path -> bytes of every regular file below root (symlinks left out)."""
    if not root.exists():
        return {}
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }
