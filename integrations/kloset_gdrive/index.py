"""What we know about a Drive: items by id, children by parent, and how names become paths.

Drive is a graph of ids, not a tree of names: a folder may hold two files called `report.pdf`,
a name may contain `/`, and an item may have several parents. The walk fills an `Index`; the
tree is derived from it deterministically, so the same Drive gives the same paths on every run
(which is what lets kloset's cache skip unchanged files on the next backup).

Naming rules (documented in README.md):
- `/` in a name becomes `／` (U+FF0F, as rclone does); `.`, `..` and empty names get a `_` prefix.
- A Google Doc's name gets the extension of its export format (`Budget` -> `Budget.xlsx`).
- When several children of a folder end up with the same name, the oldest (createdTime, then
  id) keeps it and every other one gets `~<file id>` before its extension
  (`report~1AbC….pdf`): stable across runs, whatever is added or removed later.
"""

from __future__ import annotations

import json
import posixpath
from collections import defaultdict
from collections.abc import Iterable
from itertools import islice
from typing import Any

from kloset_sdk.statedb import StateDB

from .export_formats import FOLDER

Meta = dict[str, Any]
#: Parent id standing for "Shared with me", which is a view, not a folder.
SHARED_ROOT = "kloset:shared-with-me"
PUT_BATCH = 1000  # items written to the Index at once

#: Items by id (the metadata as Drive sent it, JSON), children by parent, the folders whose
#: children are all known. `used` (what this run's tree reached) and `paths` (file record path
#: -> id, to place an ack error) live for one run only.
SCHEMA = """
CREATE TABLE items (id TEXT PRIMARY KEY, meta TEXT NOT NULL, folder INTEGER NOT NULL,
                    drive TEXT NOT NULL, target TEXT);
CREATE TABLE parents (parent TEXT NOT NULL, child TEXT NOT NULL, PRIMARY KEY (parent, child))
    WITHOUT ROWID;
CREATE INDEX parents_by_child ON parents (child);
CREATE TABLE listed (id TEXT PRIMARY KEY) WITHOUT ROWID
"""
RUN_SCHEMA = """
CREATE TEMP TABLE used (id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TEMP TABLE paths (path TEXT PRIMARY KEY, id TEXT NOT NULL) WITHOUT ROWID
"""


class Index:
    """Drive items by id, in a StateDB: a million items cost disk pages, not a million dicts.

    Every item is decoded again when read: callers keep what they need, not the Index."""

    def __init__(self, db: StateDB | None = None) -> None:
        self.db = db if db is not None else StateDB.scratch(SCHEMA)
        self.db.script(RUN_SCHEMA)

    def __contains__(self, file_id: str) -> bool:
        return self.db.one("SELECT 1 FROM items WHERE id = ?", (file_id,)) is not None

    def __len__(self) -> int:
        row = self.db.one("SELECT count(*) FROM items")
        return int(row[0]) if row else 0

    def get(self, file_id: str) -> Meta | None:
        row = self.db.one("SELECT meta FROM items WHERE id = ?", (file_id,))
        return None if row is None else _decode(row[0])

    def put(self, meta: Meta) -> None:
        self.put_many([meta])

    def put_many(self, metas: Iterable[Meta]) -> None:
        """Store (or replace) items, PUT_BATCH at a time (a listing may be a million items);
        a replaced item's old parents are forgotten."""
        it = iter(metas)
        while batch := list(islice(it, PUT_BATCH)):
            self._put_batch(batch)

    def _put_batch(self, metas: list[Meta]) -> None:
        rows = [
            (
                m["id"],
                json.dumps(m, separators=(",", ":")),
                int(is_folder(m)),
                m.get("driveId") or "",
                (m.get("shortcutDetails") or {}).get("targetId"),
            )
            for m in metas
        ]
        db = self.db
        db.executemany("DELETE FROM parents WHERE child = ?", [(r[0],) for r in rows])
        db.executemany("INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?, ?)", rows)
        db.executemany(
            "INSERT OR IGNORE INTO parents VALUES (?, ?)",
            [(p, m["id"]) for m in metas for p in m.get("parents") or ()],
        )

    def remove(self, file_id: str) -> None:
        self.db.execute("DELETE FROM parents WHERE child = ?", (file_id,))
        self.db.execute("DELETE FROM items WHERE id = ?", (file_id,))
        self.db.execute("DELETE FROM listed WHERE id = ?", (file_id,))

    def kids(self, folder_id: str) -> list[Meta]:
        rows = self.db.query(
            "SELECT i.meta FROM parents p JOIN items i ON i.id = p.child"
            " WHERE p.parent = ? ORDER BY p.child",
            (folder_id,),
        )
        return [_decode(r[0]) for r in rows]

    def shortcut_targets(self, folder_ids: Iterable[str]) -> list[str]:
        """The targets of the shortcuts directly inside these folders."""
        out: list[str] = []
        for folder_id in folder_ids:
            rows = self.db.query(
                "SELECT i.target FROM parents p JOIN items i ON i.id = p.child"
                " WHERE p.parent = ? AND i.target IS NOT NULL",
                (folder_id,),
            )
            out.extend(str(r[0]) for r in rows)
        return out

    # -- listed folders ------------------------------------------------------------------------
    def is_listed(self, folder_id: str) -> bool:
        return self.db.one("SELECT 1 FROM listed WHERE id = ?", (folder_id,)) is not None

    def mark_listed(self, folder_ids: Iterable[str]) -> None:
        self.db.executemany("INSERT OR IGNORE INTO listed VALUES (?)", [(i,) for i in folder_ids])

    def unlist(self, folder_id: str) -> None:
        self.db.execute("DELETE FROM listed WHERE id = ?", (folder_id,))

    def mark_all_folders_listed(self) -> None:
        """Every folder known counts as listed (the whole corpus was listed)."""
        self.db.execute("INSERT OR IGNORE INTO listed SELECT id FROM items WHERE folder = 1")

    def list_only_drive(self, drive_id: str | None) -> None:
        """The folders of one drive (None: My Drive) count as listed, and no other."""
        self.db.execute("DELETE FROM listed")
        self.db.execute(
            "INSERT INTO listed SELECT id FROM items WHERE folder = 1 AND drive = ?",
            (drive_id or "",),
        )

    def has_child_of(self, parent_id: str) -> bool:
        return (
            self.db.one("SELECT 1 FROM parents WHERE parent = ? LIMIT 1", (parent_id,)) is not None
        )

    # -- this run's tree -----------------------------------------------------------------------
    def mark_used(self, file_ids: Iterable[str]) -> None:
        self.db.executemany("INSERT OR IGNORE INTO used VALUES (?)", [(i,) for i in file_ids])

    def keep_only_used(self) -> None:
        """Forget everything this walk did not reach (moved away, deleted with a folder)."""
        for table, column in (("parents", "child"), ("listed", "id"), ("items", "id")):
            self.db.execute(f"DELETE FROM {table} WHERE {column} NOT IN (SELECT id FROM used)")

    def remember_paths(self, pairs: Iterable[tuple[str, str]]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO paths VALUES (?, ?)", list(pairs))

    def id_of_path(self, path: str) -> str | None:
        row = self.db.one("SELECT id FROM paths WHERE path = ?", (path,))
        return None if row is None else str(row[0])

    def close(self) -> None:
        self.db.close()


def _decode(text: str) -> Meta:
    meta: Meta = json.loads(text)
    return meta


def is_folder(meta: Meta) -> bool:
    return meta.get("mimeType") == FOLDER


def sanitize(name: str) -> str:
    name = name.replace("/", "\uff0f").replace("\x00", "")
    if name in ("", ".", ".."):
        name = "_" + name
    return name


def with_suffix(name: str, file_id: str, is_dir: bool) -> str:
    """`report.pdf` -> `report~<id>.pdf`; folders and extension-less names get it at the end."""
    stem, ext = (name, "") if is_dir else posixpath.splitext(name)
    return f"{stem}~{file_id}{ext}"


def distinct_names(entries: list[tuple[str, Meta]]) -> list[tuple[str, Meta]]:
    """(wanted name, meta) -> (final name, meta), sorted by name, no two names alike."""
    groups: dict[str, list[Meta]] = defaultdict(list)
    for name, meta in entries:
        groups[name].append(meta)
    out: list[tuple[str, Meta]] = []
    for name, metas in groups.items():
        metas.sort(key=lambda m: (m.get("createdTime") or "", m["id"]))
        out.append((name, metas[0]))
        for meta in metas[1:]:
            out.append((with_suffix(name, meta["id"], is_folder(meta)), meta))
    out.sort(key=lambda e: e[0])
    return out


def join(parent: str, name: str) -> str:
    return "/" + name if parent == "/" else f"{parent}/{name}"
