"""Tree walk: list folders in parallel (a bounded pool), yield entries as pages arrive.

The importer's fallback when Graph refuses a delta enumeration (listing.py), which costs one
request per 1,000 items where this costs at least one per folder.

A folder costs one request per 1,000 children, so a deep tree is dominated by latency: listing
`workers` folders at once hides it. Each folder's entry is queued before its own listing is
submitted, so a directory always reaches the host before its children.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .api import DriveItem, join, parse_item
from .client import GraphClient

log = logging.getLogger(__name__)


@dataclass
class Entry:
    path: str
    item: DriveItem | None = None
    error: BaseException | None = None  # listing this folder failed (the walk goes on)


_DONE = object()


def walk(client: GraphClient, start: DriveItem, start_path: str, workers: int) -> Iterator[Entry]:
    """Every item below `start` (not `start` itself); skipped items are logged, not yielded."""
    out: queue.Queue[object] = queue.Queue()
    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="onedrive-walk")
    pending = [0]
    lock = threading.Lock()

    def submit(folder: DriveItem, path: str) -> None:
        with lock:
            pending[0] += 1
        pool.submit(list_folder, folder, path)

    def list_folder(folder: DriveItem, path: str) -> None:
        try:
            for obj in client.children(f"/items/{folder.id}"):
                if stop.is_set():
                    return
                item = parse_item(obj)
                child = join(path, item.name)
                reason = item.skipped_reason
                if reason:
                    log.warning("skipping %s: %s", child, reason)
                    continue
                out.put(Entry(child, item))
                if item.is_container:
                    submit(item, child)
        except Exception as exc:  # reported as an error record for this folder
            out.put(Entry(path, None, exc))
        finally:
            out.put(_DONE)

    try:
        submit(start, start_path)
        while True:
            with lock:
                if pending[0] == 0 and out.empty():
                    return
            got = out.get()
            if got is _DONE:
                with lock:
                    pending[0] -= 1
                continue
            assert isinstance(got, Entry)
            yield got
    finally:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
