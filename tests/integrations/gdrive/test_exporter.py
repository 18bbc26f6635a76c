"""GdriveExporter: a restore then a re-import gives back the same bytes and mtimes."""

from __future__ import annotations

import os

import pytest

from kloset_sdk import FileInfo, Flag, Record
from kloset_sdk.harness import ExporterClient, ImportRun, PluginProcess
from tests.conftest import plugin_argv
from tests.emulators.drive import DriveEmulator, seed_sample
from tests.integrations.gdrive.conftest import drive_config
from tests.integrations.gdrive.test_importer import scan

MiB = 1 << 20
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def export(config: dict[str, str], items: list[tuple[Record, bytes | None]]) -> list[str]:
    with PluginProcess(plugin_argv("gdrive", "exporter")) as proc:
        client = ExporterClient(proc)
        client.init(config, proto="gdrive")
        run = client.export(items)
        client.close()
    return [f"{p}: {e}" for p, e in run.errors]


def test_export_then_reimport_roundtrips(emu: DriveEmulator) -> None:
    seed_sample(emu)
    big = os.urandom(3 * MiB + 7)
    emu.add_file("huge.bin", big, emu.find("Projects"), modified_time="2023-05-06T07:08:09.123Z")
    source = scan(drive_config(emu), keep_data=True)
    items: list[tuple[Record, bytes | None]] = []
    for item in sorted(source.records, key=lambda i: i.record.pathname):
        rec = item.record
        if not rec.is_xattr and not rec.error:
            items.append((rec, item.data if rec.is_regular else None))
    emu.reset_stats()
    # chunk_size 1 MiB: huge.bin and big.bin go through resumable sessions in 1 MiB chunks
    errors = export(drive_config(emu, "gdrive://Restored/here", chunk_size="1"), items)
    assert not errors, errors
    assert emu.stats["upload_chunk"] == 4 + 4, emu.stats  # huge.bin and big.bin
    # Records carry the location's path (/Restored/here/...), as Plakar's importers do.
    base = "/Restored/here"
    back = {
        p[len(base) :] or "/": i
        for p, i in scan(drive_config(emu, f"gdrive:/{base}"), read=True).by_path().items()
        if p == base or p.startswith(base + "/")
    }
    orig = source.by_path()
    for path, item in orig.items():
        rec = item.record
        if rec.is_xattr or not rec.is_regular:
            continue
        assert back[path].sha256 == item.sha256, path
        assert back[path].record.info is not None and rec.info is not None
        assert back[path].record.info.mtime_ns == rec.info.mtime_ns, path
    assert {p for p, i in back.items() if i.record.is_dir} == {
        p for p, i in orig.items() if i.record.is_dir
    }


def test_restore_twice_updates_in_place_and_symlinks(emu: DriveEmulator) -> None:
    now = 1_700_000_000_123_000_000
    items: list[tuple[Record, bytes | None]] = [
        (Record.directory("/", FileInfo("/", mode=0o755, mtime_ns=now)), None),
        (Record.directory("/d", FileInfo("d", mode=0o755, mtime_ns=now)), None),
        (Record("/d/a.txt", FileInfo("a.txt", size=3, mode=0o644, mtime_ns=now)), b"one"),
        (Record.symlink("/d/up", FileInfo("up", mode=0o777, mtime_ns=now), ".."), None),
        (Record.symlink("/d/nowhere", FileInfo("nowhere", mode=0o777), "/etc/passwd"), None),
    ]
    errors = export(drive_config(emu, "gdrive://target"), items)
    assert len(errors) == 1 and errors[0].startswith("/d/nowhere: ")
    items[2] = (Record("/d/a.txt", FileInfo("a.txt", size=3, mode=0o644, mtime_ns=now)), b"two")
    export(drive_config(emu, "gdrive://target"), items)
    d = emu.find("target/d")
    kids = {i.name: i for i in emu.children(d)}
    assert sorted(kids) == ["a.txt", "up"]  # no twin a.txt, one shortcut
    assert emu.get_content(kids["a.txt"].id) == b"two"
    assert emu.metadata(kids["a.txt"].id)["modifiedTime"] == "2023-11-14T22:13:20.123Z"
    assert kids["up"].shortcut_target == emu.find("target")
    assert emu.metadata(d)["modifiedTime"] == "2023-11-14T22:13:20.123Z"


def test_dropped_answers_make_no_twins(emu: DriveEmulator) -> None:
    """A create whose answer is lost is retried with the same id: 409, not a second file."""
    emu.faults.drop_mode = "after"
    emu.faults.inject("drop", path="uploadType=multipart", count=2)
    emu.faults.inject("drop", path=r"^/drive/v3/files\?", count=1)
    now = 1_700_000_000_000_000_000
    items: list[tuple[Record, bytes | None]] = [
        (Record.directory("/sub", FileInfo("sub", mode=0o755, mtime_ns=now)), None),
        (Record("/sub/f.txt", FileInfo("f.txt", size=1, mode=0o644, mtime_ns=now)), b"f"),
        (Record("/g.txt", FileInfo("g.txt", size=1, mode=0o644, mtime_ns=now)), b"g"),
    ]
    assert export(drive_config(emu, "gdrive://t"), items) == []
    assert emu.stats["dropped"] == 3, emu.stats
    assert sorted(i.name for i in emu.children(emu.find("t"))) == ["g.txt", "sub"]
    assert [i.name for i in emu.children(emu.find("t/sub"))] == ["f.txt"]


def test_paths_outside_the_target_are_refused(emu: DriveEmulator) -> None:
    now = 1_700_000_000_000_000_000
    bad = ["/../up.txt", "/a/../../up2.txt", "../rel.txt", "/nul\x00.txt", ""]
    items: list[tuple[Record, bytes | None]] = [
        (Record.directory("/", FileInfo("/", mode=0o755, mtime_ns=now)), None)
    ]
    items += [(Record(p, FileInfo("x", size=1, mode=0o644, mtime_ns=now)), b"x") for p in bad]
    errors = export(drive_config(emu, "gdrive://t"), items)
    assert len(errors) == len(bad), errors
    assert emu.children(emu.find("t")) == []
    assert [i.name for i in emu.children("root")] == ["t"]


@pytest.mark.parametrize("status", [404, 501])
def test_no_generate_ids_still_makes_no_twins(emu: DriveEmulator, status: int) -> None:
    """Without files.generateIds (some Drive-compatible services and proxies): creates go
    without pre-generated ids, asked for once, and a create whose answer was lost is found by
    name instead of made twice; restoring again updates in place (issue 15, item 12)."""
    emu.api.generate_ids_status = status
    emu.faults.drop_mode = "after"
    emu.faults.inject("drop", path="uploadType=multipart", count=2)
    emu.faults.inject("drop", path=r"^/drive/v3/files\?", count=2)
    now = 1_700_000_000_000_000_000
    items: list[tuple[Record, bytes | None]] = [
        (Record.directory("/", FileInfo("/", mode=0o755, mtime_ns=now)), None),
        (Record.directory("/sub", FileInfo("sub", mode=0o755, mtime_ns=now)), None),
        (Record("/sub/f.txt", FileInfo("f.txt", size=1, mode=0o644, mtime_ns=now)), b"f"),
        (Record("/g.txt", FileInfo("g.txt", size=1, mode=0o644, mtime_ns=now)), b"g"),
    ]
    assert export(drive_config(emu, "gdrive://t"), items) == []
    assert emu.stats["dropped"] == 4, emu.stats
    assert emu.stats["generate_ids"] == 1, emu.stats  # not retried, not asked again
    assert sorted(i.name for i in emu.children(emu.find("t"))) == ["g.txt", "sub"]
    assert [i.name for i in emu.children(emu.find("t/sub"))] == ["f.txt"]
    items[3] = (Record("/g.txt", FileInfo("g.txt", size=2, mode=0o644, mtime_ns=now)), b"g2")
    assert export(drive_config(emu, "gdrive://t"), items) == []
    kids = {i.name: i for i in emu.children(emu.find("t"))}
    assert sorted(kids) == ["g.txt", "sub"] and emu.get_content(kids["g.txt"].id) == b"g2"


def _restore_items(run: ImportRun, strip: str = "") -> list[tuple[Record, bytes | None]]:
    """The records of a backup as kloset's export walk sends them with EXPORTXATTR (PROTOCOL.md:
    Exporter): the tree below `strip` with that prefix removed, then the xattr records with their
    full snapshot paths, from the exported path onwards (past the subtree, as the host does)."""
    tree: list[tuple[Record, bytes | None]] = []
    xattrs: list[tuple[Record, bytes | None]] = []
    for item in sorted(run.records, key=lambda i: (i.record.pathname, i.record.xattr_name)):
        rec = item.record
        if rec.error:
            continue
        if rec.is_xattr:
            if rec.pathname >= strip:
                xattrs.append((rec, item.data))
            continue
        if strip and not (rec.pathname == strip or rec.pathname.startswith(strip + "/")):
            continue
        rel = rec.pathname[len(strip) :] or "/"
        moved = Record.from_proto(rec.to_proto())
        moved.pathname = rel
        tree.append((moved, item.data if rec.is_regular else None))
    return tree + xattrs


def test_restore_keeps_the_backed_up_mime_types(emu: DriveEmulator) -> None:
    """A Drive -> backup -> Drive round trip gives every file its MIME type back (Drive sets a
    type only with content: a mismatch costs one new revision), checks md5, and leaves an
    exported Doc as the export it is; also for a subfolder restore (issue 15, item 2)."""
    proj = emu.add_folder("Projects")
    files = {
        "notes.txt": ("text/plain", b"plain text\n"),  # what the name says: no second upload
        "data.bin": ("application/x-kloset-test", b"\x00\x01custom"),
        "photo": ("image/png", b"\x89PNG\r\n\x1a\n...."),
        "clip.dat": ("video/mp4", os.urandom(MiB + 5)),  # through a resumable session
    }
    for name, (mime, data) in files.items():
        emu.add_file(name, data, proj, mime, "2024-01-02T03:04:05.678Z")
    emu.add_doc("Plan", "document", proj)
    source = scan(drive_config(emu), keep_data=True)
    for target, strip in (("Restored/all", ""), ("Restored/sub", "/Projects")):
        items = _restore_items(source, strip)
        assert any(rec.is_xattr for rec, _ in items)
        emu.reset_stats()
        with PluginProcess(plugin_argv("gdrive", "exporter")) as proc:
            client = ExporterClient(proc)
            ident = client.init(drive_config(emu, f"gdrive://{target}", chunk_size="1"))
            assert ident.flags & Flag.EXPORTXATTR
            run = client.export(items)
            client.close()
        assert not run.errors, run.errors
        folder = emu.find(target if strip else f"{target}/Projects")
        got = {i.name: i for i in emu.children(folder)}
        for name, (mime, data) in files.items():
            meta = emu.metadata(got[name].id)
            assert meta["mimeType"] == mime, (target, name, meta)
            assert emu.get_content(got[name].id) == data, (target, name)
            assert meta["modifiedTime"] == "2024-01-02T03:04:05.678Z", (target, name)
        doc = got["Plan.docx"]  # the export's bytes and type, not a converted Doc
        assert emu.metadata(doc.id)["mimeType"] == DOCX
        # one new revision for each of the three whose name does not say their type
        assert emu.stats["media"] == 3, emu.stats
