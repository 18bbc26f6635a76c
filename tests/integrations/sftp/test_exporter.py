"""Exporter safety and fidelity beyond the round trip: containment, links, owners, streams."""

from __future__ import annotations

import os
from pathlib import Path

from kloset_sdk import FileInfo, Record, modes
from kloset_sdk.harness import ExporterClient, ExportRun, PluginProcess
from tests.conftest import plugin_argv
from tests.emulators.sshd import SSHD
from tests.integrations.sftp.conftest import base_config
from tests.requires import unavailable

Item = tuple[Record, bytes | None]


def root() -> Item:
    return Record.directory("/", FileInfo("/", mode=0o755)), None


def file(path: str, data: bytes, **info: int) -> Item:
    name = path.rsplit("/", 1)[-1]
    return Record.file(path, FileInfo(name, size=len(data), mode=0o644, **info), bytes), data


def export(config: dict[str, str], *streams: list[Item]) -> list[ExportRun]:
    with PluginProcess(plugin_argv("sftp", "exporter")) as proc:
        client = ExporterClient(proc)
        client.init(config)
        runs = [client.export(items) for items in streams]
        client.close()
    return runs


def test_dot_dot_is_refused(sshd: SSHD, remote_dir: Path) -> None:
    target = remote_dir / "t"
    (run,) = export(
        base_config(sshd, target),
        [root(), file("/../escaped", b"x"), file("/a/../../escaped2", b"y"), file("/ok", b"z")],
    )
    assert sorted(p for p, _ in run.errors) == ["/../escaped", "/a/../../escaped2"]
    assert "'..'" in run.errors[0][1]
    assert sorted(os.listdir(remote_dir)) == ["t"]
    assert (target / "ok").read_bytes() == b"z"


def test_never_writes_through_a_symlink(sshd: SSHD, remote_dir: Path) -> None:
    target, outside = remote_dir / "t", remote_dir / "outside"
    target.mkdir()
    outside.mkdir()
    os.symlink(outside, target / "evil")
    os.symlink(outside / "victim", target / "plain-link")
    (run,) = export(
        base_config(sshd, target),
        [root(), file("/evil/file", b"x"), file("/plain-link", b"replaced")],
    )
    assert [p for p, _ in run.errors] == ["/evil/file"]
    assert "not a directory" in run.errors[0][1]
    assert os.listdir(outside) == []  # neither through the dir link nor the file link
    assert (target / "plain-link").read_bytes() == b"replaced"  # the link itself was replaced
    assert not (target / "plain-link").is_symlink()


def test_hardlinks_and_unsupported_types(sshd: SSHD, remote_dir: Path) -> None:
    target = remote_dir / "t"
    fifo = Record.other("/fifo", FileInfo("fifo", mode=0o644 | modes.MODE_NAMED_PIPE))
    (run,) = export(
        base_config(sshd, target),
        [
            root(),
            file("/first", b"shared", nlink=2, dev=7, ino=42),
            file("/second", b"shared", nlink=2, dev=7, ino=42),
            file("/alone", b"alone", nlink=1, dev=7, ino=43),
            (fifo, None),
        ],
    )
    assert [p for p, _ in run.errors] == ["/fifo"]
    assert "cannot be created over SFTP" in run.errors[0][1]
    first, second = os.stat(target / "first"), os.stat(target / "second")
    assert first.st_ino == second.st_ino and first.st_nlink == 2
    assert (target / "second").read_bytes() == b"shared"


def test_sequential_streams_on_one_process(sshd: SSHD, remote_dir: Path) -> None:
    """§9 item 29: plakar restore sends one Export stream per path restored."""
    target = remote_dir / "t"
    runs = export(
        base_config(sshd, target),
        [root(), file("/one", b"1")],
        [root(), file("/two", b"2", mtime_ns=1_234_567_890 * 10**9)],
    )
    assert all(not r.errors for r in runs)
    assert (target / "one").read_bytes() == b"1"
    assert int(os.stat(target / "two").st_mtime) == 1_234_567_890


def test_set_owner(sshd: SSHD) -> None:
    """Unset: a refused chown (non-root login) is not an error; true: it is."""
    if not sshd.password_auth_available:
        unavailable(f"password auth unavailable: {sshd.password_auth_reason}")
    base = sshd.password_root_dir
    location = f"sftp://{sshd.password_user}@{sshd.host}:{sshd.port}{base}"
    config = {**base_config(sshd, "/"), "location": location, "password": sshd.password}
    del config["identity"]
    for name, extra in (("auto", {}), ("strict", {"set_owner": "true"})):
        config["location"] = f"{location}/{name}"
        (run,) = export({**config, **extra}, [root(), file("/f", b"x", uid=0, gid=0)])
        if name == "auto":
            assert not run.errors and (base / name / "f").read_bytes() == b"x"
        else:
            errors = dict(run.errors)
            assert sorted(errors) == ["/", "/f"], run.errors  # the file and the root directory
            assert "chown to 0:0 refused" in errors["/f"]
            assert not (base / name / "f").exists()


def test_skip_permissions(sshd: SSHD, remote_dir: Path) -> None:
    """Go's `skip_permissions`: no chmod at all; the server's umask (ours: sshd inherits it)
    decides."""
    umask = os.umask(0o022)
    os.umask(umask)
    target = remote_dir / "t"
    setuid = file("/f", b"x")
    assert setuid[0].info is not None
    setuid[0].info.mode = 0o4700
    (run,) = export({**base_config(sshd, target), "skip_permissions": "true"}, [root(), setuid])
    assert not run.errors, run.errors
    assert oct(os.stat(target / "f").st_mode & 0o7777) == oct(0o666 & ~umask)
