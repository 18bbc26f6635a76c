"""An importer's item map in SQLite, so a million-entry source is not a million Python dicts.

The drive importers keep every item they list (a tree is derived from ids and parents, and an
incremental run needs the whole map again). As dicts that costs about 1.5 KiB an entry; in
SQLite it costs the rows on disk and a bounded page cache in memory.

Three ways to get one, and how each ends:
- `StateDB.scratch(schema)`: a temporary database for a run that keeps nothing; gone at close.
- `StateDB.fresh(path, schema, version, fingerprint)`: a new database beside `path`. Nothing is
  journalled (the file is not live yet); `commit()` flushes it and renames it over `path`, so an
  interrupted run leaves the previous state as it was. The new file is flock()ed while its run
  lives, so the next `fresh` deletes what a killed run left behind.
- `StateDB.resume(path, version, fingerprint)`: the stored state, changed inside one
  transaction: `commit()` makes the run durable, `close()` without it rolls everything back.
  None (with the reason logged) when the file is missing, is not a database of ours, or was
  written by another version or for another config: the caller starts over with `fresh`.

Files are private to the user (0600, in a 0700 directory), as the token files are: a state
holds item names and, for some connectors, capability-like links. One connection serves every
thread, behind a lock; queries return lists, so no cursor is shared between threads.
"""

from __future__ import annotations

import fcntl
import glob
import json
import logging
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["StateDB"]

log = logging.getLogger(__name__)
_META = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
CACHE_KIB = 16 * 1024  # page cache per database: what memory the map may take
SWEEP_AFTER = 60.0  # seconds: a leftover new state younger than this is left alone


class StateDB:
    def __init__(self, conn: sqlite3.Connection, path: Path, target: Path | None) -> None:
        self._conn = conn
        self.path = path  # the file in use
        self._target = target  # fresh: where commit() puts it; None: resumed or scratch
        self._lock = threading.RLock()
        self._closed = False
        self._scratch = False
        self._claim: int | None = None  # fresh: the flock'ed descriptor of the new file

    # -- opening -------------------------------------------------------------------------------
    @classmethod
    def scratch(cls, schema: str) -> StateDB:
        fd, name = tempfile.mkstemp(prefix="kloset-state-", suffix=".sqlite")
        os.close(fd)
        db = cls(_connect(Path(name), journal=False), Path(name), None)
        _unlink(Path(name))  # open already: nothing is left behind, even by a killed plugin
        db._scratch = True
        db.script(_META + ";" + schema)
        return db

    @classmethod
    def fresh(
        cls, path: str | os.PathLike[str], schema: str, version: int, fingerprint: str
    ) -> StateDB:
        target = Path(path).expanduser()
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, name = tempfile.mkstemp(prefix=f".{target.name}-", suffix=".new", dir=target.parent)
        os.fchmod(fd, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # ours while it lives: see _sweep
        _sweep(target)
        db = cls(_connect(Path(name), journal=False), Path(name), target)
        db._claim = fd
        db.script(_META + ";" + schema)
        db.set_meta("version", version)
        db.set_meta("fingerprint", fingerprint)
        return db

    @classmethod
    def resume(cls, path: str | os.PathLike[str], version: int, fingerprint: str) -> StateDB | None:
        file = Path(path).expanduser()
        if not file.exists():
            log.info("state: nothing at %s yet", file)
            return None
        try:
            conn = _connect(file, journal=True)
        except sqlite3.Error as exc:
            log.warning("state: %s cannot be opened (%s); starting over", file, exc)
            return None
        db = cls(conn, file, None)
        try:
            found = (db.meta("version"), db.meta("fingerprint"))
        except sqlite3.DatabaseError as exc:  # not a database, or not ours
            log.warning("state: %s is not a state database (%s); starting over", file, exc)
            db.close()
            return None
        if found != (version, fingerprint):
            log.info("state: %s was written by another version or config; starting over", file)
            db.close()
            return None
        db.execute("BEGIN IMMEDIATE")
        return db

    # -- queries -------------------------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self._lock:
            self._conn.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._lock:
            self._conn.executemany(sql, rows)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        with self._lock:
            row: tuple[Any, ...] | None = self._conn.execute(sql, params).fetchone()
            return row

    def meta(self, key: str, default: Any = None) -> Any:
        row = self.one("SELECT value FROM meta WHERE key = ?", (key,))
        return default if row is None else json.loads(row[0])

    def set_meta(self, key: str, value: Any) -> None:
        self.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value))
        )

    # -- ending --------------------------------------------------------------------------------
    def commit(self) -> None:
        """Make this run's state the stored one (a scratch database has nothing to keep)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("state database already closed")
            if self._target is None:
                if self._conn.in_transaction:
                    self._conn.commit()
                if not self._scratch:
                    self.execute("BEGIN IMMEDIATE")  # later changes stay undone unless committed
                return
            if self._conn.in_transaction:
                self._conn.commit()
            self._conn.close()
            self._closed = True
            with open(self.path, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(self.path, self._target)
            _fsync_dir(self._target.parent)
            self.path, self._target = self._target, None
            self._release()

    def close(self) -> None:
        """Without commit(): a fresh or scratch file is deleted, a resumed one rolled back."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if self._conn.in_transaction:
                    self._conn.rollback()
            finally:
                self._conn.close()
            if self._target is not None:  # a scratch file was unlinked when opened
                _unlink(self.path)
            self._release()

    def _release(self) -> None:
        if self._claim is not None:
            os.close(self._claim)
            self._claim = None

    def script(self, schema: str) -> None:
        """Run `;`-separated statements (no `;` inside them), inside the current transaction."""
        with self._lock:
            for statement in schema.split(";"):
                if statement.strip():
                    self._conn.execute(statement)


def _connect(path: Path, journal: bool) -> sqlite3.Connection:
    # isolation_level=None: transactions are ours (BEGIN IMMEDIATE), not the module's guesses.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    conn.execute("PRAGMA temp_store = FILE")
    if not journal:  # a file nobody reads until commit() renames it: no journal, no syncs
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("BEGIN")
    return conn


def _sweep(target: Path) -> None:
    """Delete new states that a killed run left beside `target` (no live run holds their
    lock). At a million entries each is hundreds of MB, so they must not pile up."""
    for stale in target.parent.glob(f".{glob.escape(target.name)}-*.new"):
        try:
            if time.time() - stale.stat().st_mtime < SWEEP_AFTER:
                continue  # maybe just made, not locked yet
            fd = os.open(stale, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # a run writing it now
        else:
            log.info("state: removing %s, left by an interrupted run", stale)
            _unlink(stale)
        finally:
            os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
