"""Folder ids by path, created on demand: what the exporter and the store write into.

Graph addresses writes by parent id, so every folder is resolved once and cached. Creation uses
`conflictBehavior: fail`; a 409 means another worker (or an earlier run) made it first, and
the existing folder is looked up instead. Names are case-insensitive on OneDrive: the cache is
keyed by the casefolded path so `Docs` and `docs` resolve to the same folder.
"""

from __future__ import annotations

import threading
from typing import Any

from kloset_sdk import Fatal
from kloset_sdk.records import format_rfc3339

from .api import DriveItem, child_address, join, parse_item, path_address
from .client import GraphClient, ItemNotFound, NameConflict


class Folders:
    def __init__(self, client: GraphClient) -> None:
        self.client = client
        self._ids: dict[str, str] = {}
        self._lock = threading.Lock()
        self._creating: dict[str, threading.Lock] = {}

    def known(self, path: str) -> str | None:
        with self._lock:
            return self._ids.get(_key(path))

    def remember(self, path: str, item_id: str) -> None:
        with self._lock:
            self._ids[_key(path)] = item_id

    def forget(self, path: str) -> None:
        """Drop `path` and everything below it (after a delete)."""
        key = _key(path)
        with self._lock:
            for k in [k for k in self._ids if k == key or k.startswith(key.rstrip("/") + "/")]:
                del self._ids[k]

    def lookup(self, path: str) -> DriveItem | None:
        try:
            item = parse_item(self.client.item(path_address(path)))
        except ItemNotFound:
            return None
        if item.is_container:
            self.remember(path, item.id)
        return item

    def ensure(self, path: str, mtime_ns: int | None = None) -> str:
        """The id of folder `path`, creating it and its parents as needed."""
        found = self.known(path)
        if found is not None:
            return found
        with self._lock:
            gate = self._creating.setdefault(_key(path), threading.Lock())
        with gate:  # one creator per path; the others wait and read the cache
            found = self.known(path)
            if found is not None:
                return found
            if path == "/":
                root = parse_item(self.client.item("/root"))
                self.remember("/", root.id)
                return root.id
            parent, _, name = path.rstrip("/").rpartition("/")
            parent_id = self.ensure(parent or "/")
            item_id = self._create(parent_id, parent or "/", name, mtime_ns)
            self.remember(path, item_id)
            return item_id

    def _create(self, parent_id: str, parent: str, name: str, mtime_ns: int | None) -> str:
        body: dict[str, Any] = {
            "name": name,
            "folder": {},
            "@microsoft.graph.conflictBehavior": "fail",
        }
        if mtime_ns is not None:
            body["fileSystemInfo"] = {"lastModifiedDateTime": format_rfc3339(mtime_ns)}
        try:
            return str(self.client.json("POST", f"/items/{parent_id}/children", json=body)["id"])
        except NameConflict:
            existing = parse_item(self.client.item(child_address(parent_id, name)))
            if not existing.is_container:
                raise Fatal(f"{join(parent, name)} exists and is not a folder") from None
            return existing.id


def _key(path: str) -> str:
    return ("/" + "/".join(p for p in path.split("/") if p)).casefold()
