"""Exporter: containment against hostile streams, sparse writes, refusals, xattr mapping."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kloset_sdk import FileInfo, Record, modes
from kloset_sdk._pb import exporter_pb2 as epb
from kloset_sdk.harness import ExporterClient, PluginProcess
from kloset_sdk.records import GO_ZERO_TIME_NS
from tests.conftest import plugin_argv
from tests.requires import require_root, require_tool

MiB = 1 << 20


def _no_reader() -> bytes:
    return b""


def f(
    path: str,
    data: bytes = b"",
    mode: int = 0o644,
    mtime_ns: int = 0,
    nlink: int = 1,
    dev: int = 0,
    ino: int = 0,
) -> tuple[Record, bytes]:
    name = path.rsplit("/", 1)[-1]
    info = FileInfo(name, len(data), mode, mtime_ns, dev=dev, ino=ino, nlink=nlink)
    return Record.file(path, info, _no_reader), data


def d(path: str, mode: int = 0o755) -> tuple[Record, None]:
    return Record.directory(path, FileInfo(path.rsplit("/", 1)[-1] or "/", mode=mode)), None


def ln(path: str, target: str) -> tuple[Record, None]:
    return Record.symlink(path, FileInfo(path.rsplit("/", 1)[-1], mode=0o777), target), None


def x(path: str, name: str, value: bytes) -> tuple[Record, bytes]:
    return Record.xattr(path, name, _no_reader), value


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator[tuple[ExporterClient, Path]]:
    dst = tmp_path / "target"
    with PluginProcess(plugin_argv("fs", "exporter")) as proc:
        client = ExporterClient(proc)
        client.init({"location": f"posixfs://{dst}"}, proto="posixfs")
        yield client, dst
        client.close()


def test_hostile_stream_stays_inside(exporter: tuple[ExporterClient, Path], tmp_path: Path) -> None:
    client, dst = exporter
    outside = tmp_path / "outside"
    outside.mkdir()
    run = client.export(
        [
            d("/"),
            f("/../escape.txt", b"no"),
            f("/a/../../escape2.txt", b"no"),
            f("/ok.txt", b"fine"),
            f(str(outside / "abs.txt"), b"absolute path: lands inside the target"),
            ln("/evil", str(outside)),
            f("/evil/pwned", b"through the symlink"),
            d("/evil/sub"),
            ln("/evil/deeper", "x"),
            d("/dir"),
            ln("/dir", "/etc"),
            x("/../x", "user.k", b"v"),
        ]
    )
    assert list(outside.iterdir()) == []
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "escape2.txt").exists()
    assert (dst / "ok.txt").read_bytes() == b"fine"
    assert (dst / str(outside)[1:] / "abs.txt").exists()
    assert os.readlink(dst / "evil") == str(outside)
    assert (dst / "dir").is_dir() and not (dst / "dir").is_symlink()
    errors = dict(run.errors)
    expected = {
        "/../escape.txt": "..",
        "/a/../../escape2.txt": "..",
        "/evil/pwned": "symlink",
        "/evil/sub": "symlink",
        "/evil/deeper": "symlink",
        "/dir": "directory",
        "/../x": "..",
    }
    for path, word in expected.items():
        assert word in errors.get(path, ""), (path, errors)
    assert set(errors) == set(expected), errors
    assert not [p for p in dst.rglob(".kloset-restore-*")]


def test_sparse_gigabyte_uses_little_disk(exporter: tuple[ExporterClient, Path]) -> None:
    client, dst = exporter
    size = 1 << 30
    zero = bytes(MiB)
    block = os.urandom(4096)

    def content() -> Iterator[bytes]:
        for i in range(size // MiB):
            yield block + zero[4096:] if i == 512 else zero

    info = FileInfo("huge.img", size=size, mode=0o600, mtime_ns=1_700_000_000_123_456_789)
    run = client.export([d("/"), (Record.file("/huge.img", info, _no_reader), content())])
    assert not run.errors
    st = os.stat(dst / "huge.img")
    assert st.st_size == size and st.st_mtime_ns == info.mtime_ns
    assert st.st_blocks * 512 <= 64 * 1024, st.st_blocks  # about 4 KiB, not 1 GiB
    with open(dst / "huge.img", "rb") as fh:
        fh.seek(512 * MiB)
        assert fh.read(4096) == block


def test_truncated_content_leaves_nothing(exporter: tuple[ExporterClient, Path]) -> None:
    client, dst = exporter
    rec, _ = f("/partial.bin", b"")
    pr = rec.to_proto()
    pr.hasReader = True
    reqs = [
        epb.ExportRequest(record=d("/")[0].to_proto()),
        epb.ExportRequest(record=pr),
        epb.ExportRequest(chunk=b"half of it"),
    ]  # then the host half-closes without the empty-chunk terminator
    run = client.export_raw(reqs)
    assert "/partial.bin" in dict(run.errors)
    assert sorted(p.name for p in dst.iterdir()) == []


def test_modes_times_and_streams(exporter: tuple[ExporterClient, Path]) -> None:
    client, dst = exporter
    suid = modes.MODE_SETUID | 0o755
    first = client.export(
        [
            d("/"),
            (
                Record.directory("/z", FileInfo("z", mode=0o700, mtime_ns=GO_ZERO_TIME_NS)),
                None,
            ),
            f("/z/tool", b"#!", mode=suid, mtime_ns=1_500_000_000_000_000_001),
            f("/z/l1", b"same", nlink=2, dev=5, ino=77),
            f("/z/l2", b"same", nlink=2, dev=5, ino=77),
        ]
    )
    assert not first.errors, first.errors
    st = os.stat(dst / "z" / "tool")
    assert st.st_mode & 0o7777 == 0o4755 and st.st_mtime_ns == 1_500_000_000_000_000_001
    assert os.stat(dst / "z" / "l1").st_ino == os.stat(dst / "z" / "l2").st_ino
    # a second stream on the same process: dev:ino of the first one are forgotten
    second = client.export([d("/"), f("/l3", b"other", nlink=2, dev=5, ino=77)])
    assert not second.errors
    assert (dst / "l3").read_bytes() == b"other"
    assert os.stat(dst / "l3").st_ino != os.stat(dst / "z" / "l1").st_ino


def test_xattrs_follow_the_exported_subtree(exporter: tuple[ExporterClient, Path]) -> None:
    """Xattr records keep the snapshot prefix (§5.3); the host also sends some beyond it."""
    client, dst = exporter
    root = Record.directory("/", FileInfo("data", mode=0o755))
    run = client.export(
        [
            (root, None),
            d("/data"),  # a nested directory with the exported directory's name
            f("/data/f", b"nested"),
            f("/f", b"top"),
            x("/home/u/data", "user.root", b"r"),
            x("/home/u/data/f", "user.top", b"t"),
            x("/home/u/data/data/f", "user.nested", b"n"),
            x("/home/u/other/f", "user.elsewhere", b"e"),
        ]
    )
    assert not run.errors, run.errors
    assert os.getxattr(dst, "user.root") == b"r"
    assert os.listxattr(dst / "f") == ["user.top"]
    assert os.listxattr(dst / "data" / "f") == ["user.nested"]


def test_devices_need_root_fifos_do_not() -> None:
    """Run the exporter as nobody: a device is a result error, a FIFO is restored."""
    require_root("needs root to drop privileges")
    require_tool("setpriv")
    top = Path(tempfile.mkdtemp(prefix="kloset-fs-"))
    try:
        os.chmod(top, 0o777)
        drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        chr_mode = modes.MODE_DEVICE | modes.MODE_CHAR_DEVICE | 0o600
        dev = FileInfo("null", mode=chr_mode, flags=os.makedev(1, 3))
        fifo = FileInfo("pipe", mode=modes.MODE_NAMED_PIPE | 0o640)
        with PluginProcess([*drop, *plugin_argv("fs", "exporter")]) as proc:
            client = ExporterClient(proc)
            client.init({"location": f"posixfs://{top}/t"}, proto="posixfs")
            run = client.export(
                [d("/"), (Record.other("/null", dev), None), (Record.other("/pipe", fifo), None)]
            )
            client.close()
        assert list(dict(run.errors)) == ["/null"] and "needs root" in run.errors[0][1]
        st = os.lstat(top / "t" / "pipe")
        assert stat.S_ISFIFO(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o640
        assert not (top / "t" / "null").exists()
    finally:
        shutil.rmtree(top)
