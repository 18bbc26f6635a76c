"""StateDB: a state is replaced whole or not at all, and only our own, current files are used."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from pathlib import Path

from kloset_sdk.statedb import StateDB

SCHEMA = "CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)"


def rows(db: StateDB) -> dict[str, str]:
    return {str(k): str(v) for k, v in db.query("SELECT k, v FROM kv")}


def stored(path: Path) -> StateDB:
    db = StateDB.resume(path, 1, "fp")
    assert db is not None
    return db


def test_fresh_state_appears_only_at_commit(tmp_path: Path) -> None:
    path = tmp_path / "private" / "state.sqlite"
    db = StateDB.fresh(path, SCHEMA, 1, "fp")
    db.executemany("INSERT INTO kv VALUES (?, ?)", [("a", "1"), ("b", "2")])
    db.set_meta("token", {"t": 1})
    assert not path.exists()
    db.commit()
    db.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert list(path.parent.iterdir()) == [path]  # no journal, no temporary file left
    again = stored(path)
    assert rows(again) == {"a": "1", "b": "2"} and again.meta("token") == {"t": 1}
    again.close()


def test_abandoned_fresh_state_leaves_the_old_one(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    first = StateDB.fresh(path, SCHEMA, 1, "fp")
    first.execute("INSERT INTO kv VALUES ('old', '1')")
    first.commit()
    before = path.read_bytes()
    second = StateDB.fresh(path, SCHEMA, 1, "fp")
    second.execute("INSERT INTO kv VALUES ('new', '1')")
    second.close()
    assert path.read_bytes() == before and list(tmp_path.iterdir()) == [path]


def test_resumed_changes_are_kept_by_commit_and_undone_by_close(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    db = StateDB.fresh(path, SCHEMA, 1, "fp")
    db.execute("INSERT INTO kv VALUES ('a', '1')")
    db.commit()
    db = stored(path)
    db.execute("UPDATE kv SET v = '2'")
    db.execute("INSERT INTO kv VALUES ('b', '1')")
    db.close()  # no commit: rolled back
    db = stored(path)
    assert rows(db) == {"a": "1"}
    db.execute("DELETE FROM kv")
    db.commit()
    db.execute("INSERT INTO kv VALUES ('after', 'commit')")  # a new transaction, not kept
    db.close()
    db = stored(path)
    assert rows(db) == {}
    db.close()


def test_foreign_old_or_damaged_files_are_not_resumed(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    assert StateDB.resume(path, 1, "fp") is None  # nothing yet
    path.write_text(json.dumps({"version": 1, "items": []}))  # the former JSON state
    assert StateDB.resume(path, 1, "fp") is None
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)  # a damaged header
    assert StateDB.resume(path, 1, "fp") is None
    path.unlink()
    db = StateDB.fresh(path, SCHEMA, 1, "fp")
    db.commit()
    assert StateDB.resume(path, 2, "fp") is None  # another version
    assert StateDB.resume(path, 1, "other config") is None
    stored(path).close()


def test_scratch_is_gone_at_close_and_serves_threads(tmp_path: Path) -> None:
    db = StateDB.scratch(SCHEMA)
    assert not db.path.exists()  # unlinked once open: a killed plugin leaves nothing

    def fill(n: int) -> None:
        db.executemany("INSERT INTO kv VALUES (?, ?)", [(f"{n}-{i}", "x") for i in range(500)])

    threads = [threading.Thread(target=fill, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert db.one("SELECT count(*) FROM kv") == (2000,)
    db.commit()  # nothing to keep: still usable, still temporary
    db.close()


def test_new_states_of_killed_runs_are_swept(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    stale = tmp_path / ".state.sqlite-killed.new"  # a run killed mid-walk left this
    stale.write_bytes(b"x" * 1000)
    young = tmp_path / ".state.sqlite-young.new"  # made a moment ago, not yet locked
    young.write_bytes(b"")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    live = StateDB.fresh(path, SCHEMA, 1, "fp")  # a run still writing: locked
    os.utime(live.path, (old, old))
    other = StateDB.fresh(path, SCHEMA, 1, "fp")
    assert not stale.exists() and young.exists() and live.path.exists()
    other.close()
    live.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [young.name]
