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
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kloset_sdk.errors import KlosetError
from kloset_sdk.oauth import TokenFile, default_dir

from .api import SELECT, DriveItem, join, parse_item
from .client import PAGE, GraphClient, ResyncRequired

log = logging.getLogger(__name__)
VERSION = 1


def default_state_path(drive_url: str, root: str) -> Path:
    digest = hashlib.sha256(f"{drive_url}|{root}".encode()).hexdigest()[:16]
    return default_dir() / f"onedrive-delta-{digest}.json"


@dataclass
class DeltaState:
    drive_url: str
    items: dict[str, DriveItem] = field(default_factory=dict)
    link: str | None = None
    root_id: str | None = None

    @classmethod
    def load(cls, file: TokenFile, drive_url: str) -> DeltaState:
        if not file.exists():
            return cls(drive_url)
        try:
            data = file.load()
            if data.get("version") != VERSION or data.get("drive") != drive_url:
                log.warning("%s belongs to another drive or version: starting over", file.path)
                return cls(drive_url)
            items = {k: DriveItem.from_state(k, v) for k, v in data["items"].items()}
            return cls(drive_url, items, data.get("delta_link"), data.get("root_id"))
        except (KlosetError, KeyError, TypeError, ValueError) as exc:
            log.warning("%s is unreadable (%s): starting over with a full listing", file.path, exc)
            return cls(drive_url)

    def save(self, file: TokenFile) -> None:
        file.save(
            {
                "version": VERSION,
                "drive": self.drive_url,
                "delta_link": self.link,
                "root_id": self.root_id,
                "items": {k: v.to_state() for k, v in self.items.items()},
            }
        )


def sync(client: GraphClient, old: DeltaState) -> tuple[DeltaState, int]:
    """The state after applying every change since `old.link`; also how many items changed."""
    new = DeltaState(old.drive_url, dict(old.items), None, old.root_id)
    try:
        changed = _apply(client, new, old.link)
    except ResyncRequired as exc:
        log.warning("delta token refused (%s): listing the whole drive again", exc)
        new = DeltaState(old.drive_url)
        changed = _apply(client, new, None)
    return new, changed


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
                state.items.pop(item.id, None)
                continue
            if item.kind == "root":
                state.root_id = item.id
            state.items[item.id] = item
        if page.get("@odata.deltaLink"):
            state.link = str(page["@odata.deltaLink"])
    if state.link is None:
        raise KlosetError("delta: Graph ended the listing without a deltaLink")
    return changed


def tree(state: DeltaState, root: str) -> Iterator[tuple[str, DriveItem]]:
    """(path, item) for `root`, its ancestors and everything below it, parents first.

    Items under a skipped item (a OneNote notebook, the vault) or whose parent is gone from
    the map (a deleted folder whose children Graph did not list) have no path: not emitted.
    """
    memo: dict[str, str | None] = {}

    def path_of(item_id: str | None) -> str | None:
        chain: list[DriveItem] = []
        cur = item_id
        while cur is not None and cur not in memo:
            item = state.items.get(cur)
            if item is None:
                break
            if item.kind == "root":
                memo[cur] = "/"
                break
            chain.append(item)
            cur = item.parent_id
        base = memo.get(cur) if cur is not None else None
        for item in reversed(chain):
            base = None if base is None or item.skipped_reason else join(base, item.name)
            memo[item.id] = base
        return memo.get(item_id) if item_id is not None else None

    def wanted(path: str) -> bool:
        if root == "/" or path == root or path.startswith(root + "/"):
            return True
        return path == "/" or root.startswith(path + "/")  # an ancestor of the root

    out: list[tuple[str, DriveItem]] = []
    for item_id, item in state.items.items():
        if item.skipped_reason:
            parent = path_of(item.parent_id)
            if parent is not None and wanted(join(parent, item.name)):
                log.warning("skipping %s: %s", join(parent, item.name), item.skipped_reason)
            continue
        path = path_of(item_id)
        if path is not None and wanted(path):
            out.append((path, item))
    out.sort(key=lambda pair: pair[0])
    yield from out
