"""Tree walk: list folders in parallel (a bounded pool), yield entries as pages arrive.

The importer's fallback when Graph refuses a delta enumeration (listing.py), which costs one
request per 1,000 items where this costs at least one per folder.

A folder costs one request per 1,000 children, so a deep tree is dominated by latency: listing
`workers` folders at once hides it (kloset_sdk.walk). Each folder's entry is yielded before
the folder is descended into, so a directory always reaches the host before its children.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from kloset_sdk.walk import Descend, parallel_walk

from .api import DriveItem, join, parse_item
from .client import GraphClient

log = logging.getLogger(__name__)


@dataclass
class Entry:
    path: str
    item: DriveItem | None = None
    error: BaseException | None = None  # listing this folder failed (the walk goes on)


Folder = tuple[DriveItem, str]  # the item and its path


def walk(client: GraphClient, start: DriveItem, start_path: str, workers: int) -> Iterator[Entry]:
    """Every item below `start` (not `start` itself); skipped items are logged, not yielded."""

    def list_folder(folder: Folder) -> Iterator[Entry | Descend[Folder]]:
        parent, path = folder
        for obj in client.children(f"/items/{parent.id}"):
            item = parse_item(obj)
            child = join(path, item.name)
            reason = item.skipped_reason
            if reason:
                log.warning("skipping %s: %s", child, reason)
                continue
            yield Entry(child, item)
            if item.is_container:
                yield Descend((item, child))

    return parallel_walk(
        [(start, start_path)],
        list_folder,
        on_error=lambda folder, exc: [Entry(folder[1], None, exc)],  # an error record for it
        workers=workers,
        name="onedrive-walk",
    )
