"""Ctrl-C under the real plakar: SIGINT to plakar's process group in the middle of a transfer.

A terminal's Ctrl-C reaches every process of the foreground group: plakar and the plugins it
started. `PlakarHome.start` gives plakar a session of its own, so `killpg` is that Ctrl-C.
Three moments: a backup into our s3 store (while it Puts packfiles), a backup from our posixfs
importer (while it streams files), a restore to our sftp exporter (while a file is half
written). Afterwards plakar has exited non-zero, nothing printed a traceback, every plugin
process of the home is gone, the repository checks, a second backup (or restore) completes,
and no object or file at its final name is a partial one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from kloset_sdk.harness.plakar import PlakarHome, _pids_with_env
from tests.e2e.backends import E2EBackends
from tests.e2e.run import add_config, ok, snapshots
from tests.e2e.trees import MiB, digests

#: 200 MiB of incompressible files: several seconds of transfer on this machine.
FILES, FILE_SIZE = 40, 5 * MiB
#: How long plakar and its own plugins may take to go once signalled.
EXIT_WITHIN = 30.0
#: Plugins that plakar's `cached` daemon (a session of its own) started live until it idles
#: out, about 5 s; none may outlive this.
PLUGINS_GONE_WITHIN = 20.0


@dataclass
class Interrupted:
    """What an interrupted plakar left: its exit status and output, and how long it took."""

    returncode: int
    stdout: str
    stderr: str
    signalled_after: float
    exited_after: float
    group_gone_after: float
    plugins_gone_after: float


def big_tree(root: Path) -> dict[str, bytes]:
    files = {f"f{i:02}.bin": os.urandom(FILE_SIZE) for i in range(FILES)}
    root.mkdir(parents=True)
    for rel, data in files.items():
        (root / rel).write_bytes(data)
    return files


def _group(pgid: int) -> list[int]:
    """Live processes of process group `pgid` (zombies included until reaped)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == pgid:
                    out.append(int(entry))
            except OSError:
                pass
    return out


def plugin_pids(plakar: PlakarHome) -> list[int]:
    """Plugin processes started for this home, by plakar or by its cached daemon."""
    out = []
    for pid in _pids_with_env("XDG_CACHE_HOME", str(plakar.cache)):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"/plakar/plugins/" in cmdline:
            out.append(pid)
    return out


def _wait(cond: Callable[[], bool], timeout: float) -> float | None:
    """Seconds until `cond()` held, or None if it never did within `timeout`."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():
            return time.monotonic() - t0
        time.sleep(0.1)
    return None


def interrupt(
    plakar: PlakarHome, args: list[str], ready: Callable[[], bool], what: str
) -> Interrupted:
    """Start `plakar ARGS`, Ctrl-C its group once `ready()` holds, and watch everything go."""
    t0 = time.monotonic()
    proc = plakar.start(*args)
    try:
        while not ready():
            assert proc.poll() is None, (
                f"{what} ended before the signal could land (make the transfer longer):\n"
                + "".join(proc.communicate())[-3000:]
            )
            assert time.monotonic() - t0 < 300, f"{what}: the transfer never started"
            time.sleep(0.05)
        signalled = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        try:
            stdout, stderr = proc.communicate(timeout=EXIT_WITHIN)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{what}: plakar still runs {EXIT_WITHIN:.0f} s after Ctrl-C")
        exited = time.monotonic() - signalled
        group = _wait(lambda: not _group(proc.pid), EXIT_WITHIN)
        assert group is not None, f"{what}: left in plakar's group: {_group(proc.pid)}"
        plugins = _wait(lambda: not plugin_pids(plakar), PLUGINS_GONE_WITHIN)
        assert plugins is not None, f"{what}: plugins still running: {plugin_pids(plakar)}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    got = Interrupted(
        proc.returncode,
        stdout,
        stderr,
        signalled - t0,
        exited,
        exited + group,
        exited + group + plugins,
    )
    said = [ln for ln in (stdout + stderr).splitlines() if "OK ✓" not in ln and "KO ✘" not in ln]
    print(  # the record the report quotes (pytest -s)
        f"\n{what}: exit {got.returncode}, signalled {got.signalled_after:.1f} s after start; "
        f"gone after the signal: plakar {exited:.1f} s, its group {got.group_gone_after:.1f} s, "
        f"every plugin {got.plugins_gone_after:.1f} s; it said: {said}"
    )
    return got


def assert_quiet(got: Interrupted, what: str) -> None:
    """Plakar fails; neither it nor a plugin (whose stderr is plakar's) prints a Python
    traceback or KeyboardInterrupt. What plakar says depends on who sees the signal first:
    `interrupted` when plakar stops the job itself, `EOF` when a plugin went before it."""
    out = got.stdout + got.stderr
    assert got.returncode != 0, f"{what}: exit 0 after Ctrl-C:\n{out[-3000:]}"
    for bad in ("Traceback", "KeyboardInterrupt"):
        assert bad not in got.stderr, f"{what}: {bad} on plakar's stderr:\n{got.stderr[-4000:]}"
        assert bad not in got.stdout, f"{what}: {bad} on plakar's stdout:\n{got.stdout[-4000:]}"


def checks(plakar: PlakarHome, repo: str, what: str) -> None:
    """`check` passes (it prints nothing at all for a repository with no snapshot)."""
    out = ok(plakar.run("at", repo, "check"), f"check after {what}")
    if snapshots(plakar, repo):
        assert "check completed without errors" in out, out


def test_backup_into_s3_store(plakar: PlakarHome, backends: E2EBackends, tmp_path: Path) -> None:
    """Ctrl-C while our s3 storage receives packfile Puts."""
    src = tmp_path / "src"
    big_tree(src)
    spot = backends.spot("s3")
    client, bucket = spot.extra["client"], spot.extra["bucket"]
    store = add_config(plakar, "store", spot.location, spot.kv())
    ok(plakar.run("at", store, "create"), "create")

    def packfiles() -> list[str]:
        listing = client.list_objects_v2(Bucket=bucket, Prefix=f"{spot.extra['prefix']}/packfiles/")
        return [o["Key"] for o in listing.get("Contents", [])]

    what = "backup into s3"
    got = interrupt(
        plakar,
        ["at", store, "backup", "-no-progress", str(src)],
        lambda: len(packfiles()) >= 2,
        what,
    )
    assert_quiet(got, what)
    # S3 makes an object visible only whole (a PUT, or a completed multipart upload): a
    # partial can only be an open multipart upload, which no reader sees as an object.
    open_uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    print(f"{what}: open multipart uploads left: {[u['Key'] for u in open_uploads]}")
    checks(plakar, store, what)
    assert snapshots(plakar, store) == [], "an interrupted backup left a snapshot"

    out = ok(plakar.run("at", store, "backup", "-no-progress", str(src)), "second backup")
    assert "backup completed without errors" in out, out
    checks(plakar, store, "the second backup")
    assert len(snapshots(plakar, store)) == 1


def test_backup_from_posixfs(plakar: PlakarHome, backends: E2EBackends, tmp_path: Path) -> None:
    """Ctrl-C while our posixfs importer streams files into a local repository."""
    spot = backends.spot("fs")
    tree: Path = spot.extra["path"]
    big_tree(tree)
    source = add_config(plakar, "source", spot.location, spot.kv())
    repo = tmp_path / "repo"
    ok(plakar.run("at", str(repo), "create"), "create")

    def transferring() -> bool:
        return any(p.is_file() for p in (repo / "packfiles").rglob("*"))

    what = "backup from posixfs"
    got = interrupt(plakar, ["at", str(repo), "backup", "-no-progress", source], transferring, what)
    assert_quiet(got, what)
    checks(plakar, str(repo), what)
    assert snapshots(plakar, str(repo)) == [], "an interrupted backup left a snapshot"

    out = ok(plakar.run("at", str(repo), "backup", "-no-progress", source), "second backup")
    assert "backup completed without errors" in out, out
    checks(plakar, str(repo), "the second backup")
    assert len(snapshots(plakar, str(repo))) == 1


def test_restore_to_sftp(plakar: PlakarHome, backends: E2EBackends, tmp_path: Path) -> None:
    """Ctrl-C while our sftp exporter has a file half written."""
    src = tmp_path / "src"
    want = digests(big_tree(src))
    repo = str(tmp_path / "repo")
    ok(plakar.run("at", repo, "create"), "create")
    ok(plakar.run("at", repo, "backup", "-no-progress", str(src)), "backup")
    (snap,) = snapshots(plakar, repo)
    spot = backends.spot("sftp")
    where: Path = spot.extra["path"]
    dest = add_config(plakar, "destination", spot.location, spot.kv())

    def temporaries() -> list[Path]:
        return [p for p in where.glob(".*.kloset-*") if p.is_file()] if where.exists() else []

    def mid_file() -> bool:
        """Two files restored, and one (under whatever name) partly written."""
        sizes = [p.stat().st_size for p in where.iterdir()] if where.exists() else []
        return sizes.count(FILE_SIZE) >= 2 and any(0 < n < FILE_SIZE for n in sizes)

    what = "restore to sftp"
    got = interrupt(plakar, ["at", repo, "restore", "-to", dest, snap], mid_file, what)
    assert_quiet(got, what)

    final = {p.name: p for p in where.iterdir() if p.is_file() and not p.name.startswith(".")}
    print(f"{what}: {len(final)} files at their final name, temporaries left: {temporaries()}")
    assert set(final) < set(want), f"{what}: restored {sorted(final)} (all or unknown names)"
    got_digests = digests({name: p.read_bytes() for name, p in final.items()})
    assert got_digests == {name: want[name] for name in final}, (
        f"{what}: a file at its final name differs from the source"
    )
    checks(plakar, repo, what)

    ok(plakar.run("at", repo, "restore", "-to", dest, snap), "second restore")
    restored = {rel: data for rel, data in spot.files().items() if ".kloset-" not in rel}
    assert digests(restored) == want
