"""The Python seeding API of GraphEmulator: build drives, folders, files, notebooks and the
vault, change them as another client would, and read the drive back (``tree``, ``get_item``)."""

from __future__ import annotations

import os
import posixpath
from typing import TYPE_CHECKING, Any

from .state import Drive, GraphError, GraphState, Item


class SeedingApi:
    """Mixed into GraphEmulator; works on ``self.state`` under its lock."""

    state: GraphState

    if TYPE_CHECKING:

        @property
        def base_url(self) -> str: ...

    def _target(self, path_or_id: str, drive_id: str | None) -> tuple[Drive, Item]:
        drive = self.state.drive(drive_id)
        if path_or_id in drive.items:
            return drive, drive.items[path_or_id]
        return drive, self.state.resolve(drive, drive.items[drive.root_id], path_or_id)

    def add_drive(
        self,
        drive_type: str = "business",
        site_id: str | None = None,
        name: str | None = None,
        quota_total: int | None = None,
    ) -> str:
        """Another drive (``business``/``documentLibrary``/``personal``); returns its id."""
        kwargs: dict[str, Any] = {} if quota_total is None else {"quota_total": quota_total}
        return self.state.add_drive(drive_type, site_id, name, **kwargs)

    def site_id_of(self, drive_id: str) -> str | None:
        return self.state.drive(drive_id).site_id

    def set_quota(self, total: int, drive_id: str | None = None) -> None:
        self.state.drive(drive_id).quota_total = total

    def add_folder(self, path: str, drive_id: str | None = None) -> str:
        """Create a folder and missing parents (no-op if it exists); returns its id."""
        with self.state.lock:
            drive = self.state.drive(drive_id)
            return self.state.ensure_folder(drive, drive.items[drive.root_id], path).id

    def add_file(
        self,
        path: str,
        data: bytes,
        modified: float | None = None,
        created: float | None = None,
        drive_id: str | None = None,
    ) -> str:
        """Create (or replace) a file, creating parent folders; returns its id."""
        with self.state.lock:
            drive = self.state.drive(drive_id)
            parent_path, name = posixpath.split(path.rstrip("/"))
            parent = self.state.ensure_folder(drive, drive.items[drive.root_id], parent_path)
            item, _ = self.state.put_file(
                drive, parent, name, data, "replace", modified, created, check_quota=False
            )
            return item.id

    def update(
        self,
        path_or_id: str,
        data: bytes,
        modified: float | None = None,
        drive_id: str | None = None,
    ) -> str:
        """New content for an existing file (a new version)."""
        with self.state.lock:
            drive, item = self._target(path_or_id, drive_id)
            parent = drive.items[item.parent_id or drive.root_id]
            self.state.put_file(drive, parent, item.name, data, "replace", modified, None, item)
            return item.id

    def add_onenote(self, path: str, drive_id: str | None = None) -> str:
        """A OneNote notebook: a ``package`` item holding section files."""
        with self.state.lock:
            drive = self.state.drive(drive_id)
            parent_path, name = posixpath.split(path.rstrip("/"))
            parent = self.state.ensure_folder(drive, drive.items[drive.root_id], parent_path)
            item = self.state.create_folder(drive, parent, name, "fail")
            item.kind = "package"
            for section in ("Quick Notes.one", "Open Notebook.onetoc2"):
                self.state.put_file(drive, item, section, os.urandom(2048), check_quota=False)
            self.state._touch(drive, item)
            return item.id

    def add_vault(self, name: str = "Personal Vault", drive_id: str | None = None) -> str:
        """The Personal Vault (``specialFolder.name == "vault"``), locked, with a file in it."""
        with self.state.lock:
            drive = self.state.drive(drive_id)
            root = drive.items[drive.root_id]
            vault = self.state.create_folder(drive, root, name, "fail")
            vault.special = "vault"
            self.state.put_file(drive, vault, "passport.pdf", b"%PDF-1.4 secret", check_quota=False)
            self.state._touch(drive, vault)
            return vault.id

    def rename(self, path_or_id: str, new_name: str, drive_id: str | None = None) -> str:
        with self.state.lock:
            drive, item = self._target(path_or_id, drive_id)
            self.state.patch(drive, item, {"name": new_name}, "fail")
            return item.id

    def move(
        self,
        path_or_id: str,
        new_parent: str,
        new_name: str | None = None,
        drive_id: str | None = None,
    ) -> str:
        with self.state.lock:
            drive, item = self._target(path_or_id, drive_id)
            _, parent = self._target(new_parent, drive_id)
            body: dict[str, Any] = {"parentReference": {"id": parent.id}}
            if new_name:
                body["name"] = new_name
            self.state.patch(drive, item, body, "fail")
            return item.id

    def delete(self, path_or_id: str, drive_id: str | None = None) -> None:
        with self.state.lock:
            drive, item = self._target(path_or_id, drive_id)
            self.state.delete(drive, item)

    def get_content(self, path_or_id: str, drive_id: str | None = None) -> bytes:
        with self.state.lock:
            return self._target(path_or_id, drive_id)[1].data

    def get_item(self, path_or_id: str, drive_id: str | None = None) -> dict[str, Any]:
        """The driveItem JSON Graph would return for it."""
        with self.state.lock:
            drive, item = self._target(path_or_id, drive_id)
            return self.state.item_json(drive, item, self.base_url)

    def item_id(self, path: str, drive_id: str | None = None) -> str:
        with self.state.lock:
            return self._target(path, drive_id)[1].id

    def exists(self, path_or_id: str, drive_id: str | None = None) -> bool:
        try:
            self.item_id(path_or_id, drive_id)
        except GraphError:
            return False
        return True

    def tree(self, drive_id: str | None = None) -> dict[str, bytes | None]:
        """Every path (``/a/b.txt``) with its content; None for folders and packages."""
        with self.state.lock:
            drive = self.state.drive(drive_id)
            return {
                self.state.path_of(drive, i): (i.data if i.kind == "file" else None)
                for i in drive.items.values()
                if i.kind != "root"
            }
