"""Incremental listing with `/root/delta`: a stored item map plus the deltaLink that follows it.

A backup must describe the whole tree every time, but only what changed should cost requests.
So the state file keeps every item of the drive (id -> name, parent, kind, size, mtime,
hashes); a run asks Graph for the changes since the stored deltaLink (usually one page),
applies them (new, modified, renamed, moved, `deleted` facets) and emits the full tree from
the map. Only changed files carry a fresh download URL; kloset's cache skips opening the rest.

Graph may refuse an old token with 410 resyncRequired: the map is then rebuilt from a full
delta enumeration. The new state is written by the importer only after the host acked every
record (auth.py's TokenFile: atomic, 0600, since deltaLinks are bearer-like capabilities).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from kloset_sdk.errors import KlosetError, NotFound
from kloset_sdk.oauth import default_dir
from kloset_sdk.statedb import StateDB

from .api import SELECT, DriveItem, join, parse_item
from .client import PAGE, GraphClient, ResyncRequired

log = logging.getLogger(__name__)
VERSION = 2  # 1 was a JSON file holding every item: read as "no state", a full enumeration
#: `data` is DriveItem.to_state(); `url` a download URL Graph sent this run (cleared on save).
SCHEMA = """
CREATE TABLE items (id TEXT PRIMARY KEY, parent TEXT, name TEXT NOT NULL, data TEXT NOT NULL,
                    url TEXT, url_at REAL);
CREATE INDEX items_by_parent ON items (parent, name)
"""


def default_state_path(drive_url: str, root: str) -> Path:
    digest = hashlib.sha256(f"{drive_url}|{root}".encode()).hexdigest()[:16]
    return default_dir() / f"onedrive-delta-{digest}.sqlite"


class DeltaState:
    """Every item of the drive (SQLite: kloset_sdk.statedb), the deltaLink that follows them,
    and the root's id. Changes are kept only by `commit()`; `close()` alone drops them."""

    def __init__(self, db: StateDB, drive_url: str) -> None:
        self.db = db
        self.drive_url = drive_url
        self.link: str | None = db.meta("delta_link")
        self.root_id: str | None = db.meta("root_id")

    @classmethod
    def open(cls, path: str | Path, drive_url: str) -> DeltaState:
        """The stored state, or a new empty one (nothing stored, another drive, unreadable)."""
        db = StateDB.resume(path, VERSION, drive_url)
        if db is not None:
            try:
                return cls(db, drive_url)
            except (KlosetError, TypeError, ValueError) as exc:
                log.warning("%s is unreadable (%s): starting over with a full listing", path, exc)
                db.close()
        return cls(StateDB.fresh(path, SCHEMA, VERSION, drive_url), drive_url)

    @classmethod
    def scratch(cls, drive_url: str, items: Iterable[DriveItem] = ()) -> DeltaState:
        """A state kept nowhere (tests, tools)."""
        state = cls(StateDB.scratch(SCHEMA), drive_url)
        for item in items:
            state.put(item)
        return state

    def __len__(self) -> int:
        row = self.db.one("SELECT count(*) FROM items")
        return int(row[0]) if row else 0

    def put(self, item: DriveItem) -> None:
        url_at = time.time() - (time.monotonic() - item.url_time) if item.download_url else None
        self.db.execute(
            "INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?, ?, ?)",
            (
                item.id,
                item.parent_id,
                item.name,
                json.dumps(item.to_state(), separators=(",", ":")),
                item.download_url,
                url_at,
            ),
        )

    def remove(self, item_id: str) -> None:
        self.db.execute("DELETE FROM items WHERE id = ?", (item_id,))

    def clear(self) -> None:
        self.db.execute("DELETE FROM items")
        self.link = self.root_id = None

    def get(self, item_id: str) -> DriveItem | None:
        row = self.db.one("SELECT id, data, url, url_at FROM items WHERE id = ?", (item_id,))
        return None if row is None else _item(row)

    def children(self, parent_id: str, name: str | None = None) -> list[DriveItem]:
        """A folder's children by name (those called `name` only, if given)."""
        if name is None:
            rows = self.db.query(
                "SELECT id, data, url, url_at FROM items WHERE parent = ? ORDER BY name",
                (parent_id,),
            )
        else:
            rows = self.db.query(
                "SELECT id, data, url, url_at FROM items WHERE parent = ? AND name = ?",
                (parent_id, name),
            )
        return [_item(r) for r in rows]

    def commit(self) -> None:
        self.db.set_meta("delta_link", self.link)
        self.db.set_meta("root_id", self.root_id)
        self.db.execute("UPDATE items SET url = NULL, url_at = NULL WHERE url IS NOT NULL")
        self.db.commit()

    def close(self) -> None:
        self.db.close()


def _item(row: tuple[Any, ...]) -> DriveItem:
    item_id, data, url, url_at = row
    item = DriveItem.from_state(item_id, json.loads(data))
    if url:
        item.download_url = url
        item.url_time = time.monotonic() - (time.time() - float(url_at))
    return item


def sync(client: GraphClient, state: DeltaState) -> int:
    """Apply every change since `state.link` to `state`; returns how many items changed."""
    link, state.link = state.link, None
    try:
        return _apply(client, state, link)
    except ResyncRequired as exc:
        log.warning("delta token refused (%s): listing the whole drive again", exc)
        state.clear()
        return _apply(client, state, None)


def _apply(client: GraphClient, state: DeltaState, link: str | None) -> int:
    if link:
        pages = client.pages(link)
    else:
        pages = client.pages("/root/delta", {"$top": str(PAGE), "$select": SELECT})
    changed = 0
    for page in pages:
        for obj in page.get("value", []):
            item = parse_item(obj)
            changed += 1
            if item.kind == "deleted":
                state.remove(item.id)
                continue
            if item.kind == "root":
                state.root_id = item.id
            state.put(item)
        if page.get("@odata.deltaLink"):
            state.link = str(page["@odata.deltaLink"])
    if state.link is None:
        raise KlosetError("delta: Graph ended the listing without a deltaLink")
    return changed


def tree(state: DeltaState, root: str) -> Iterator[tuple[str, DriveItem]]:
    """(path, item) for `root`'s ancestors, `root` and everything below it, parents first
    (depth first, by name), one folder's children in memory at a time.

    Items under a skipped item (a OneNote notebook, the vault) or whose parent is gone from
    the map (a deleted folder whose children Graph did not list) have no path: not emitted.
    Raises NotFound (on the first step) when `root` is not in the map.
    """
    top = state.get(state.root_id) if state.root_id else None
    chain: list[tuple[str, DriveItem]] = []
    if top is not None:
        chain.append(("/", top))
        for part in [p for p in root.split("/") if p]:
            found = [c for c in state.children(chain[-1][1].id, part) if not c.skipped_reason]
            if not found:
                chain = []
                break
            chain.append((join(chain[-1][0], part), found[0]))
    if not chain:
        raise NotFound(f"location {root} does not exist on the drive")
    yield from chain
    path, start = chain[-1]
    if not start.is_container:
        return
    stack: list[Iterator[tuple[str, DriveItem]]] = [_kids(state, path, start)]
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            continue
        yield entry
        if entry[1].is_container:
            stack.append(_kids(state, *entry))


def _kids(state: DeltaState, path: str, folder: DriveItem) -> Iterator[tuple[str, DriveItem]]:
    for item in state.children(folder.id):
        child = join(path, item.name)
        if item.skipped_reason:
            log.warning("skipping %s: %s", child, item.skipped_reason)
            continue
        yield child, item
