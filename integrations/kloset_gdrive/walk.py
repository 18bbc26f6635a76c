"""Walking a Drive with as few requests as possible, then deriving the tree from the Index.

Listing strategies (request counts are what Drive's per-user quota is charged for):
- the root of My Drive or of a shared drive: list the whole corpus, 1000 items a page, with no
  parent filter, and rebuild the tree from `parents` in memory. 10,000 files in 500 folders
  take 11 files.list calls, against 501 for rclone (one per folder) and 12 for an ideal
  `--fast-list` (50 folders a query, level by level); scripts/bench_drive.py measures it;
- any other folder: breadth first, one query for up to 50 folders at a time
  (`'A' in parents or 'B' in parents ...`), a few queries in flight, 1000 items a page;
- Shared with me: one `sharedWithMe = true` query, then as above.

Shortcuts are followed: to a file, its content is backed up under the shortcut's name; to a
folder, that folder's tree is walked there, unless it is one of the shortcut's own ancestors (a
loop), in which case the shortcut becomes a relative symlink to that ancestor.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from kloset_sdk import KlosetError

from . import export_formats as fmt
from .client import DriveClient, escape
from .index import SHARED_ROOT, Index, Meta, distinct_names, is_folder, join, sanitize
from .options import GdriveOptions

log = logging.getLogger(__name__)
PARENTS_PER_QUERY = 50  # longer `or` chains risk Drive's "query too complex"
LIST_WORKERS = 4


@dataclass
class Node:
    """One path of the tree: a folder, a file, an exported Doc, a symlink or a failure."""

    path: str
    kind: str  # "dir", "file", "doc", "link", "error"
    meta: Meta  # what the content and times come from (a shortcut's target when followed)
    export: fmt.Export | None = None
    target: str = ""
    error: str = ""


@dataclass
class Walker:
    client: DriveClient
    opts: GdriveOptions
    index: Index
    formats: dict[str, str] = field(default_factory=dict)

    # -- listing -----------------------------------------------------------------------------
    def _trash_filter(self) -> str:
        return "" if self.opts.include_trashed else "trashed = false"

    def list_corpus(self, root_id: str, drive_id: str | None) -> None:
        """Every item of My Drive (drive_id None) or of one shared drive, in 1000-item pages."""
        self.index.put_many(self.client.list(self._trash_filter(), drive_id=drive_id))
        self.index.mark_all_folders_listed()
        self.index.mark_listed([root_id])

    def list_shared_with_me(self) -> None:
        q = " and ".join(filter(None, ["sharedWithMe = true", self._trash_filter()]))
        found = list(self.client.list(q))
        ids = {m["id"] for m in found}
        self.index.put_many(
            meta
            if ids.intersection(meta.get("parents") or ())
            else {**meta, "parents": [SHARED_ROOT]}
            for meta in found  # those whose parents are not shared are the top of the view
        )
        self.index.mark_listed([SHARED_ROOT])

    def list_folders(self, folder_ids: list[str]) -> None:
        """Children of every folder given, 50 folders a query, queries side by side."""
        todo = [f for f in dict.fromkeys(folder_ids) if not self.index.is_listed(f)]
        if not todo:
            return
        by_drive: dict[str | None, list[str]] = {}
        for fid in todo:
            meta = self.index.get(fid) or {}
            by_drive.setdefault(meta.get("driveId"), []).append(fid)
        batches = [
            (drive, ids[i : i + PARENTS_PER_QUERY])
            for drive, ids in by_drive.items()
            for i in range(0, len(ids), PARENTS_PER_QUERY)
        ]

        def one(batch: tuple[str | None, list[str]]) -> list[Meta]:
            drive, ids = batch
            parents = " or ".join(f"{escape(i)} in parents" for i in ids)
            trash = self._trash_filter()
            q = f"({parents}) and {trash}" if trash else parents
            return list(self.client.list(q, drive_id=drive))

        with ThreadPoolExecutor(min(LIST_WORKERS, len(batches))) as pool:
            for metas in pool.map(one, batches):
                self.index.put_many(metas)
        self.index.mark_listed(todo)

    def fetch_targets(self, ids: list[str]) -> None:
        """Metadata of shortcut targets the listings did not bring (outside the corpus)."""
        todo = [i for i in dict.fromkeys(ids) if i not in self.index]
        if not todo:
            return

        def one(file_id: str) -> Meta | None:
            try:
                return self.client.get(file_id)
            except KlosetError as exc:
                log.warning("shortcut target %s is not reachable: %s", file_id, exc)
                return None

        with ThreadPoolExecutor(min(LIST_WORKERS, len(todo))) as pool:
            for meta in pool.map(one, todo):
                if meta is not None:
                    self.index.put({**meta, "parents": []})  # only reached through shortcuts

    # -- the tree ----------------------------------------------------------------------------
    def walk(self, root: Meta) -> Iterator[Node]:
        """Breadth first from root, parents before children, one folder's children at a time
        (memory is bounded by the widest folder); every id reached is marked used."""
        yield Node("/", "dir", root)
        self.index.mark_used([root["id"]])
        level: list[tuple[Meta, str, dict[str, str]]] = [(root, "/", {root["id"]: "/"})]
        while level:
            self.list_folders([m["id"] for m, _, _ in level])
            if not self.opts.skip_shortcuts:
                self.fetch_targets(self.index.shortcut_targets(m["id"] for m, _, _ in level))
            nxt: list[tuple[Meta, str, dict[str, str]]] = []
            for folder, path, ancestors in level:
                used: set[str] = set()
                for node, child_anc in self._children(folder, path, ancestors, used):
                    yield node
                    if child_anc is not None:
                        nxt.append((node.meta, node.path, child_anc))
                self.index.mark_used(used)
            level = nxt

    def _children(
        self, folder: Meta, path: str, ancestors: dict[str, str], used: set[str]
    ) -> list[tuple[Node, dict[str, str] | None]]:
        wanted: list[tuple[str, Meta]] = []
        for kid in self.index.kids(folder["id"]):
            if kid.get("trashed") and not self.opts.include_trashed:
                continue
            name = sanitize(kid.get("name", ""))
            if kid.get("shortcutDetails") and self.opts.skip_shortcuts:
                continue
            target = self._resolve(kid)
            if target is not None and fmt.is_google_apps(target.get("mimeType", "")):
                export = fmt.choose(
                    target["mimeType"], target.get("exportLinks") or {}, self.formats
                )
                if export is None:
                    log.warning(
                        "%s: %s cannot be exported; skipped", join(path, name), target["mimeType"]
                    )
                    continue
                name = fmt.with_extension(name, export.extension)
            wanted.append((name, kid))
        out: list[tuple[Node, dict[str, str] | None]] = []
        for name, kid in distinct_names(wanted):
            child = join(path, name)
            used.add(kid["id"])
            target = self._resolve(kid)
            if target is None:
                detail = kid.get("shortcutDetails", {}).get("targetId", "?")
                out.append(
                    (
                        Node(
                            child, "error", kid, error=f"shortcut target {detail} is not accessible"
                        ),
                        None,
                    )
                )
                continue
            used.add(target["id"])
            if is_folder(target):
                if target["id"] in ancestors:
                    link = posixpath.relpath(ancestors[target["id"]], posixpath.dirname(child))
                    out.append((Node(child, "link", kid, target=link), None))
                    continue
                out.append((Node(child, "dir", target), {**ancestors, target["id"]: child}))
            elif fmt.is_google_apps(target.get("mimeType", "")):
                export = fmt.choose(
                    target["mimeType"], target.get("exportLinks") or {}, self.formats
                )
                out.append((Node(child, "doc", target, export=export), None))
            else:
                out.append((Node(child, "file", target), None))
        return out

    def _resolve(self, meta: Meta) -> Meta | None:
        """The item itself, or a shortcut's target (None: unreachable)."""
        details = meta.get("shortcutDetails")
        if not details:
            return meta
        target = self.index.get(details.get("targetId", ""))
        if target is not None and target.get("trashed") and not self.opts.include_trashed:
            return None
        return target
