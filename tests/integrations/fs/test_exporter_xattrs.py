"""Exporter: an xattr lands only on the entry it names (issue 15 item 1).

When that entry is not in the target (its record failed, or it never came), the xattr record
gets an error result and nothing is written anywhere, least of all on the restore root; xattrs
the host sends from beyond the exported subtree (§5.3) are skipped without an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kloset_sdk import FileInfo, Record
from kloset_sdk._pb import exporter_pb2 as epb
from kloset_sdk.harness import ExporterClient, PluginProcess
from tests.conftest import plugin_argv


def _no_reader() -> bytes:
    return b""


def f(path: str, data: bytes = b"") -> tuple[Record, bytes]:
    info = FileInfo(path.rsplit("/", 1)[-1], len(data), 0o644)
    return Record.file(path, info, _no_reader), data


def root(name: str = "/") -> tuple[Record, None]:
    return Record.directory("/", FileInfo(name, mode=0o755)), None


def ln(path: str, target: str) -> tuple[Record, None]:
    return Record.symlink(path, FileInfo(path.rsplit("/", 1)[-1], mode=0o777), target), None


def x(path: str, name: str, value: bytes) -> tuple[Record, bytes]:
    return Record.xattr(path, name, _no_reader), value


def attrs(path: Path) -> dict[str, bytes]:
    names = os.listxattr(path, follow_symlinks=False)
    return {n: os.getxattr(path, n, follow_symlinks=False) for n in names if n.startswith("user.")}


def xattr_errors(results: list[tuple[Record, str]]) -> dict[tuple[str, str], str]:
    return {(r.pathname, r.xattr_name): e for r, e in results if r.is_xattr and e}


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator[tuple[ExporterClient, Path]]:
    dst = tmp_path / "target"
    with PluginProcess(plugin_argv("fs", "exporter")) as proc:
        client = ExporterClient(proc)
        client.init({"location": f"posixfs://{dst}"}, proto="posixfs")
        yield client, dst
        client.close()


def test_unnamed_root_gets_no_xattr_of_entries_not_restored(
    exporter: tuple[ExporterClient, Path], tmp_path: Path
) -> None:
    """Export of `/` (paths as restored): a failed and a missing entry's xattrs are errors."""
    client, dst = exporter
    (tmp_path / "elsewhere").mkdir()
    run = client.export(
        [
            root(),
            f("/ok.txt", b"fine"),
            ln("/lnk", str(tmp_path / "elsewhere")),
            f("/lnk/bad.txt", b"refused: below a symlink"),
            x("/never-sent-first", "user.early", b"e"),  # before any xattr matched
            x("/ok.txt", "user.ok", b"o"),
            x("/lnk/bad.txt", "user.bad", b"b"),
            x("/never-sent", "user.gone", b"g"),
            x("/", "user.root", b"r"),
        ]
    )
    assert attrs(dst) == {"user.root": b"r"}
    assert attrs(dst / "ok.txt") == {"user.ok": b"o"}
    assert list((tmp_path / "elsewhere").iterdir()) == []
    errors = xattr_errors(run.results)
    assert set(errors) == {
        ("/lnk/bad.txt", "user.bad"),
        ("/never-sent", "user.gone"),
        ("/never-sent-first", "user.early"),
    }, errors
    assert (
        "/lnk/bad.txt was not restored (its record failed)" in errors[("/lnk/bad.txt", "user.bad")]
    )
    assert "/never-sent was not restored" in errors[("/never-sent", "user.gone")]


def test_one_file_export_skips_siblings_beyond_it(exporter: tuple[ExporterClient, Path]) -> None:
    """kloset's synthetic root for a one-file export, then xattrs of the file's siblings."""
    client, dst = exporter
    run = client.export(
        [
            root(),
            f("/file.txt", b"one"),
            x("/home/u/file.txt", "user.mine", b"m"),
            x("/home/u/sibling.txt", "user.sibling", b"s"),
            x("/home/u/zdir/deeper", "user.deeper", b"d"),
        ]
    )
    assert not run.errors, run.errors
    assert attrs(dst) == {}
    assert attrs(dst / "file.txt") == {"user.mine": b"m"}
    assert sorted(p.name for p in dst.iterdir()) == ["file.txt"]


def test_named_root_failed_and_missing_entries_are_errors(
    exporter: tuple[ExporterClient, Path],
) -> None:
    """Export of /home/u/data: unstripped xattr paths under it must name a restored entry."""
    client, dst = exporter
    run = client.export(
        [
            root("data"),
            f("/f", b"top"),
            ln("/lnk", "nowhere"),
            f("/lnk/bad", b"refused"),
            x("/home/u/data/f", "user.f", b"f"),
            x("/home/u/data/lnk/bad", "user.bad", b"b"),
            x("/home/u/data/missing", "user.missing", b"m"),
            x("/home/u/data2/f", "user.beyond", b"n"),  # beyond the subtree (§5.3)
            x("/home/u/other/data", "user.other", b"o"),
        ]
    )
    assert attrs(dst) == {}
    assert attrs(dst / "f") == {"user.f": b"f"}
    errors = xattr_errors(run.results)
    assert set(errors) == {
        ("/home/u/data/lnk/bad", "user.bad"),
        ("/home/u/data/missing", "user.missing"),
    }, errors


def test_xattrs_after_a_broken_stream_land_on_earlier_entries(
    exporter: tuple[ExporterClient, Path],
) -> None:
    """`klosetctl copy` after a file broke mid-content: a new stream carries the xattrs."""
    client, dst = exporter
    ok, _ = f("/ok.txt", b"fine")
    broken, _ = f("/broken.bin", b"")
    pb_ok, pb_broken = ok.to_proto(), broken.to_proto()
    pb_ok.hasReader = pb_broken.hasReader = True
    first = client.export_raw(
        [
            epb.ExportRequest(record=root("src")[0].to_proto()),
            epb.ExportRequest(record=pb_ok),
            epb.ExportRequest(chunk=b"fine"),
            epb.ExportRequest(chunk=b""),
            epb.ExportRequest(record=pb_broken),
            epb.ExportRequest(chunk=b"half"),
        ]  # half-close without the terminator: the file is dropped
    )
    assert [r.pathname for r, e in first.results if e] == ["/broken.bin"]
    second = client.export(
        [
            f("/after.txt", b"later"),
            x("/", "user.root", b"r"),
            x("/ok.txt", "user.ok", b"o"),
            x("/broken.bin", "user.broken", b"b"),
            x("/after.txt", "user.after", b"a"),
        ]
    )
    assert attrs(dst) == {"user.root": b"r"}
    assert attrs(dst / "ok.txt") == {"user.ok": b"o"}
    assert attrs(dst / "after.txt") == {"user.after": b"a"}
    assert not (dst / "broken.bin").exists()
    errors = xattr_errors(second.results)
    assert list(errors) == [("/broken.bin", "user.broken")], errors
