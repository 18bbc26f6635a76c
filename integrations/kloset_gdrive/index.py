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

import posixpath
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from .export_formats import FOLDER

Meta = dict[str, Any]
#: Parent id standing for "Shared with me", which is a view, not a folder.
SHARED_ROOT = "kloset:shared-with-me"


class Index:
    """Drive items by id; `listed` holds the folders whose children are all known."""

    def __init__(self, items: Iterable[Meta] = ()) -> None:
        self.items: dict[str, Meta] = {}
        self.children: dict[str, set[str]] = defaultdict(set)
        self.listed: set[str] = set()
        for meta in items:
            self.put(meta)

    def __contains__(self, file_id: str) -> bool:
        return file_id in self.items

    def get(self, file_id: str) -> Meta | None:
        return self.items.get(file_id)

    def put(self, meta: Meta) -> None:
        file_id = meta["id"]
        old = self.items.get(file_id)
        if old is not None:
            for parent in old.get("parents") or ():
                self.children[parent].discard(file_id)
        self.items[file_id] = meta
        for parent in meta.get("parents") or ():
            self.children[parent].add(file_id)

    def remove(self, file_id: str) -> None:
        old = self.items.pop(file_id, None)
        if old is not None:
            for parent in old.get("parents") or ():
                self.children[parent].discard(file_id)
        self.listed.discard(file_id)

    def kids(self, folder_id: str) -> list[Meta]:
        return [self.items[i] for i in sorted(self.children.get(folder_id, ()))]

    def keep_only(self, ids: set[str]) -> None:
        """Forget everything the last walk did not reach (moved away, deleted with a folder)."""
        for file_id in [i for i in self.items if i not in ids]:
            self.remove(file_id)

    def folders(self) -> list[str]:
        return [i for i, m in self.items.items() if is_folder(m)]


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
