"""Where each packaged connector runs in the tests: a local directory, the real SeaweedFS and
sshd of the session, and the Drive and Graph emulators. Every call gives a fresh location."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

SAMPLE = {"a.txt": b"hello\n", "sub/b.bin": os.urandom(300_000), "sub/deeper/empty": b""}


def write_tree(root: Path) -> Path:
    for rel, data in SAMPLE.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


class Backends:
    """Configs per (integration, kind); servers come from callables so only needed ones start."""

    def __init__(self, tmp: Path, fixture: Callable[[str], Any]) -> None:
        self.tmp = tmp
        self.fixture = fixture
        self._drive: Any = None
        self._graph: Any = None

    def fresh(self) -> str:
        return f"pkg-{uuid.uuid4().hex[:12]}"

    def config(self, name: str, kind: str) -> dict[str, str]:
        """Importers read SAMPLE (or a seeded drive); exporters and stores get an empty spot."""
        return getattr(self, f"_{name}")(kind)

    def _fs(self, kind: str) -> dict[str, str]:
        where = self.tmp / self.fresh()
        if kind == "importer":
            write_tree(where)
        return {"location": f"posixfs://{where}"}

    def _s3(self, kind: str) -> dict[str, str]:
        server = self.fixture("seaweedfs")
        bucket = self.fresh()
        client = server.client()
        client.create_bucket(Bucket=bucket)
        if kind == "importer":
            for rel, data in SAMPLE.items():
                client.put_object(Bucket=bucket, Key=f"data/{rel}", Body=data)
        return {
            "location": f"s3://{server.host_port}/{bucket}/data",
            "access_key": server.access_key,
            "secret_access_key": server.secret_key,
            "use_tls": "false",
        }

    def _sftp(self, kind: str) -> dict[str, str]:
        server = self.fixture("sshd")
        where = server.root_dir / self.fresh()
        if kind == "importer":
            write_tree(where)
        return {
            "location": f"sftp://{server.user}@{server.host}:{server.port}{where}",
            "identity": str(server.key_path),
            "known_hosts": str(server.known_hosts_path),
        }

    def _gdrive(self, kind: str) -> dict[str, str]:
        from tests.emulators.drive import CLIENT_ID, CLIENT_SECRET, DriveEmulator, seed_sample

        if self._drive is None:
            self._drive = DriveEmulator().start()
            seed_sample(self._drive)
        emu = self._drive
        return {
            "location": "gdrive://" if kind == "importer" else f"gdrive://{self.fresh()}",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": emu.issue_refresh_token(),
            "api_endpoint": emu.url,
            "token_uri": emu.token_uri,
        }

    def _onedrive(self, kind: str) -> dict[str, str]:
        from tests.emulators.graph import GraphEmulator, seed_sample

        if self._graph is None:
            self._graph = GraphEmulator().start()
            seed_sample(self._graph)
        emu = self._graph
        return {
            "location": "onedrive:///" if kind == "importer" else f"onedrive:///{self.fresh()}",
            "client_id": emu.client_id,
            "client_secret": emu.client_secret,
            "tenant": emu.tenant_id,
            "drive_id": emu.default_drive_id,
            "graph_endpoint": emu.graph_url,
            "authority_host": emu.base_url,
            "ca_bundle": emu.ca_cert_path,
        }

    def stop(self) -> None:
        for emu in (self._drive, self._graph):
            if emu is not None:
                emu.stop()
