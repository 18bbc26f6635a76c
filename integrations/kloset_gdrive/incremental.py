"""Incremental backups with the changes API: a stored page token plus the item map.

Plakar snapshots are complete trees, so an incremental run still emits every path; what it
saves is the asking. The first run fetches a start page token *before* walking (a change made
during the walk is then seen again next time rather than lost), walks in full, and keeps the
Index (id -> metadata, in an SQLite file: kloset_sdk.statedb) and the token. A later run asks
`changes.list` from that token, applies the changes to the stored Index, and derives the tree
again: unchanged files get the same FileInfo, so kloset's cache does not even open them, and
the Drive sees a handful of requests.
Folders that appear through a change (moved in from elsewhere) are listed; nothing else is.

The new token and Index are committed only after the Import ended and every record was acked
(the importer decides when): a later run changes the stored file inside one transaction, a
full walk writes a new file that replaces it, so an interrupted backup leaves the old state
and simply replays the same changes. Files
that failed (a download refused, `canDownload: false`, an Open or ack error) do not hold the
state back: it is saved with their ids in `failed`, and the next run fetches exactly those
items again (one files.get each) besides the changes, so nothing is lost and a single bad
file does not turn every later backup into a full walk.
A token Drive no longer accepts, a state written for another config, or a damaged file falls
back to a full walk.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kloset_sdk.oauth import default_dir
from kloset_sdk.statedb import StateDB

from .client import FILE_FIELDS, PAGE_SIZE, DriveClient
from .errors import ApiError
from .index import SCHEMA, SHARED_ROOT, Index, Meta, is_folder
from .options import GdriveOptions

log = logging.getLogger(__name__)
VERSION = 2  # 1 was a JSON file holding every item: read as "no state", a full walk


@dataclass
class State:
    """The stored run: its page token, its root, the files it missed; the items are in db."""

    db: StateDB
    token: str
    root: Meta
    failed: list[str] = field(default_factory=list)  # ids whose content the last run missed


def state_path(opts: GdriveOptions) -> Path:
    if opts.state_file:
        return Path(opts.state_file).expanduser()
    return default_dir() / f"gdrive-state-{opts.fingerprint()}.sqlite"


def load(opts: GdriveOptions) -> State | None:
    """The stored state, open in a transaction the importer commits or rolls back."""
    path = state_path(opts)
    db = StateDB.resume(path, VERSION, opts.fingerprint())
    if db is None:
        log.info("incremental: no usable state at %s, walking the whole Drive", path)
        return None
    try:
        failed = [str(i) for i in db.meta("failed") or []]
        return State(db, str(db.meta("token")), dict(db.meta("root")), failed)
    except (sqlite3.DatabaseError, TypeError, ValueError) as exc:
        log.warning("incremental: %s is damaged (%s); walking the whole Drive", db.path, exc)
        db.close()
        return None


def fresh(opts: GdriveOptions) -> StateDB:
    """A new state, which replaces the stored one only when saved."""
    return StateDB.fresh(state_path(opts), SCHEMA, VERSION, opts.fingerprint())


def save(db: StateDB, token: str, root: Meta, failed: list[str]) -> None:
    db.set_meta("token", token)
    db.set_meta("root", root)
    db.set_meta("failed", failed)
    db.commit()


def changes(
    client: DriveClient, token: str, drive_id: str | None
) -> tuple[list[dict[str, Any]], str]:
    """Every change since `token` (in one shared drive, or My Drive and shared items), and the
    token to start from next time."""
    kw: dict[str, Any] = {
        "pageToken": token,
        "pageSize": PAGE_SIZE,
        "includeRemoved": True,
        "spaces": "drive",
        "fields": "nextPageToken,newStartPageToken,"
        f"changes(changeType,removed,fileId,file({FILE_FIELDS}))",
    }
    if drive_id:
        kw.update(driveId=drive_id, includeItemsFromAllDrives=True, supportsAllDrives=True)
    out: list[dict[str, Any]] = []
    while True:
        page = client.call(client.service.changes().list(**kw), "changes")
        out.extend(page.get("changes", []))
        if page.get("newStartPageToken"):
            return out, str(page["newStartPageToken"])
        kw["pageToken"] = page["nextPageToken"]


def recheck(client: DriveClient, ids: list[str]) -> list[dict[str, Any]]:
    """The items the last run failed on, as changes: their metadata now, or removed."""
    from kloset_sdk import KlosetError, NotFound

    out: list[dict[str, Any]] = []
    for file_id in ids:
        try:
            out.append({"fileId": file_id, "file": client.get(file_id, FILE_FIELDS)})
        except NotFound:
            out.append({"fileId": file_id, "removed": True})
        except KlosetError as exc:  # kept as it was: its record is sent and tried again
            log.warning("incremental: %s could not be fetched again: %s", file_id, exc)
    return out


def token_refused(exc: BaseException) -> bool:
    """Drive answers 400 (invalid value) or 404/410 for a page token it no longer honours."""
    cause = exc.__cause__
    return isinstance(cause, ApiError) and cause.status in (400, 404, 410)


def restore_index(state: State, drive_id: str | None) -> Index:
    """The stored Index; folders of our own corpus count as listed (the changes API covers
    them), folders reached through shortcuts into other shared drives are listed again."""
    index = Index(state.db)
    index.put(state.root)
    index.list_only_drive(drive_id)
    if index.has_child_of(SHARED_ROOT):
        index.mark_listed([SHARED_ROOT])
    return index


def apply(index: Index, found: list[dict[str, Any]], opts: GdriveOptions, root_id: str) -> int:
    """Fold changes into the Index; returns how many items changed."""
    n = 0
    for change in found:
        if change.get("changeType", "file") != "file":
            continue
        file_id = change.get("fileId", "")
        meta = change.get("file")
        n += 1
        if change.get("removed") or not meta or (meta.get("trashed") and not opts.include_trashed):
            if file_id != root_id:
                index.remove(file_id)
            continue
        old = index.get(file_id)
        if opts.shared_with_me and not any(p in index for p in meta.get("parents") or ()):
            was_top = old is not None and SHARED_ROOT in (old.get("parents") or ())
            if was_top or meta.get("sharedWithMeTime"):
                meta = {**meta, "parents": [SHARED_ROOT]}
        if old is not None and old.get("parents") == [] and file_id != root_id:
            meta = {**meta, "parents": []}  # a shortcut target kept outside the tree
        index.put(meta)
        if is_folder(meta) and old is None:
            index.unlist(file_id)
    return n
