"""GdriveImporter against the emulator: a 3,000-file Drive, incremental runs, shared drives."""

from __future__ import annotations

import hashlib
from pathlib import Path

import grpc

from kloset_gdrive import export_formats as fmt
from kloset_gdrive.importer import XATTR_MD5, XATTR_MIME, XATTR_SHA256
from kloset_sdk import FileInfo, Flag
from kloset_sdk.harness import ImporterClient, ImportRun, PluginProcess
from tests.conftest import plugin_argv, run_gohost
from tests.emulators.drive import DriveEmulator
from tests.integrations.gdrive.conftest import drive_config, saved_state
from tests.integrations.gdrive.trees import Expected, big_drive, shared_drive


def scan(config: dict[str, str], read: bool = True, keep_data: bool = False) -> ImportRun:
    with PluginProcess(plugin_argv("gdrive", "importer")) as proc:
        client = ImporterClient(proc)
        ident = client.init(config, proto="gdrive", maxconcurrency=16)
        run = client.scan(read=read, keep_data=keep_data, jobs=16)
        run.identity = ident
        client.close()
        assert proc.finish(10) == 0
    return run


def cached_scan(
    config: dict[str, str], previous: dict[str, FileInfo]
) -> tuple[dict[str, FileInfo], dict[str, str]]:
    """An Import as kloset runs it with a warm cache: files whose FileInfo is unchanged are
    acked without being opened. Returns every path's FileInfo and the sha256 of what was read."""
    infos: dict[str, FileInfo] = {}
    read: dict[str, str] = {}
    with PluginProcess(plugin_argv("gdrive", "importer")) as proc:
        client = ImporterClient(proc)
        client.init(config, proto="gdrive")
        sess = client.session()
        for rec in sess:
            assert not rec.error, (rec.pathname, rec.error)
            if rec.is_xattr:
                sess.ack(rec)
                continue
            assert rec.info is not None
            infos[rec.pathname] = rec.info
            if rec.info.is_regular and previous.get(rec.pathname) != rec.info:
                try:
                    data = b"".join(client.open(rec))
                    read[rec.pathname] = hashlib.sha256(data).hexdigest()
                except grpc.RpcError:
                    pass  # kloset records a per-file error and goes on
            sess.ack(rec)
        sess.end()
        client.close()
        assert proc.finish(10) == 0
    return infos, read


def infos_of(run: ImportRun) -> dict[str, FileInfo]:
    return {p: i.record.info for p, i in run.by_path().items() if i.record.info is not None}


def check_tree(run: ImportRun, exp: Expected) -> None:
    assert run.finished
    assert not run.errors, [(i.record.pathname, i.record.error, i.open_error) for i in run.errors]
    got = run.by_path()
    files = {p: i for p, i in got.items() if i.record.info and i.record.is_regular}
    assert sorted(set(files) ^ set(exp.files)) == []
    for path, data in exp.files.items():
        item = files[path]
        assert item.sha256 == hashlib.sha256(data).hexdigest(), path
        assert item.read == len(data), path
        info = item.record.info
        assert info is not None
        assert info.size == (-1 if path in exp.docs else len(data)), path
        assert info.mtime_ns == exp.mtimes[path], path
        assert info.mode == 0o644
    assert {p for p, i in got.items() if i.record.is_dir} == exp.dirs
    assert {p: i.record.target for p, i in got.items() if i.record.target} == exp.links
    # The MIME type only where the name does not give it (the emulator stores application/
    # octet-stream unless told otherwise): every Doc, no .bin or .dat file; no checksums.
    xattrs = run.xattrs()
    assert {name for _, name in xattrs} == {XATTR_MIME}
    assert {(p, XATTR_MIME) for p in exp.docs} <= set(xattrs)
    plain = [p for p in exp.files if p not in exp.docs and fmt.guess_type(p) == fmt.OCTET]
    assert plain and not {(p, XATTR_MIME) for p in plain} & set(xattrs)
    assert all(x.data is None for x in xattrs.values())  # scan(keep_data=False)


def test_big_drive_then_incremental(emu: DriveEmulator, state_file: str) -> None:
    exp = big_drive(emu, 3000)
    drive, team = shared_drive(emu)
    check_tree(scan(drive_config(emu, shared_drive_id=drive)), team)
    config = drive_config(emu, incremental="true", state_file=state_file)
    emu.reset_stats()
    first = scan(config)
    check_tree(first, exp)  # nothing of the shared drive or of "Shared with me" in My Drive
    assert first.identity.flags & Flag.STREAM  # the source must not be listed twice
    full = dict(emu.stats)
    # the whole corpus in 1000-item pages, plus the root, the start token and the token refresh
    assert full["list"] <= 5 and full["get"] == 1 and full["start_page_token"] == 1, full
    assert full["media"] + full["export_link"] == len([d for d in exp.files.values() if d])
    assert Path(state_file).stat().st_mode & 0o777 == 0o600

    # five changes: new content, a new file, a rename, a file trashed, a Doc edited
    def pick(prefix: str) -> str:
        return next(p for p in sorted(exp.files) if p.startswith(prefix) and exp.files[p])

    changed = pick("/top0/file")
    emu.update_content(exp.ids[changed], b"changed bytes")
    emu.add_file("brand-new.txt", b"new file", exp.ids["/top1/sub1"])
    renamed = pick("/top2/sub0/file")
    emu.rename(exp.ids[renamed], "renamed.bin")
    trashed = pick("/top3/sub3/file")
    emu.trash(exp.ids[trashed])
    emu.update_doc(exp.ids["/top1/Deck.pptx"], export_size=7000)
    emu.reset_stats()
    infos, read = cached_scan(config, infos_of(first))
    stats = dict(emu.stats)
    assert stats["changes"] == 1 and stats["list"] == 0 and stats["get"] == 0, stats
    assert stats["start_page_token"] == 0
    # only what changed was fetched: new content, the new file, the renamed file, the Doc
    assert sorted(read) == sorted(
        [
            changed,
            "/top1/sub1/brand-new.txt",
            renamed.rsplit("/", 1)[0] + "/renamed.bin",
            "/top1/Deck.pptx",
        ]
    )
    assert stats["media"] + stats["export_link"] == 4, stats
    assert stats["requests"] <= 7, stats  # token refresh, changes, 4 downloads
    assert trashed not in infos and renamed not in infos
    # the tree equals what a fresh full walk sees, FileInfo for FileInfo
    fresh = scan(drive_config(emu), read=False)
    assert infos == infos_of(fresh)

    emu.reset_stats()
    again, read = cached_scan(config, infos)
    assert again == infos and read == {}
    assert emu.stats["changes"] == 1 and emu.stats["requests"] <= 2, emu.stats


def test_state_saved_with_a_failed_download(emu: DriveEmulator, state_file: str) -> None:
    """A backup that did not get every file still moves the page token forward, with the
    failed file recorded: the next run asks Drive for the changes and for that file only, and
    reads it (issue 15, item 3)."""
    folder = emu.add_folder("f")
    ids = [emu.add_file(f"{i}.txt", b"v1", folder) for i in range(3)]
    config = drive_config(emu, "gdrive://f", incremental="true", state_file=state_file)
    first = scan(config)
    token = saved_state(state_file)["token"]
    emu.update_content(ids[1], b"v2 content")
    emu.faults.inject(404, "notFound", path=f"/files/{ids[1]}", count=1)
    infos, read = cached_scan(config, infos_of(first))
    assert "/f/1.txt" not in read  # its download failed (the Open errored)
    saved = saved_state(state_file)
    assert saved["token"] != token and saved["failed"] == [ids[1]]
    emu.reset_stats()
    # kloset caches only what it read: the failed file is opened again, and Drive is asked
    # for that file (its metadata may have changed without a change entry) besides the feed
    cache = {p: i for p, i in infos.items() if p != "/f/1.txt"}
    infos, read = cached_scan(config, cache)
    assert list(read) == ["/f/1.txt"], read
    assert read["/f/1.txt"] == hashlib.sha256(b"v2 content").hexdigest()
    assert emu.stats["changes"] == 1 and emu.stats["get"] == 1 and emu.stats["list"] == 0
    assert saved_state(state_file)["failed"] == []


def test_undownloadable_file_does_not_force_full_walks(emu: DriveEmulator, state_file: str) -> None:
    """One file Drive refuses to serve (`canDownload: false`: 403 cannotDownloadFile) on every
    run: the other changes are still picked up incrementally, none is lost, and only that file
    is asked for again (issue 15, item 3)."""
    folder = emu.add_folder("f")
    ids = [emu.add_file(f"{i}.txt", b"v1", folder) for i in range(3)]
    config = drive_config(emu, "gdrive://f", incremental="true", state_file=state_file)
    blocked = f"/files/{ids[0]}\\?alt=media"
    emu.faults.inject(403, "cannotDownloadFile", path=blocked, count=1)
    first = scan(config)
    assert first.by_path()["/f/0.txt"].open_error
    assert saved_state(state_file)["failed"] == [ids[0]]
    previous = infos_of(first)
    for rnd in range(2):
        emu.update_content(ids[2], f"round {rnd}".encode())
        emu.faults.inject(403, "cannotDownloadFile", path=blocked, count=1)
        emu.reset_stats()
        infos, read = cached_scan(config, {p: i for p, i in previous.items() if p != "/f/0.txt"})
        assert sorted(read) == ["/f/2.txt"], read  # the change, seen through the changes feed
        assert read["/f/2.txt"] == hashlib.sha256(f"round {rnd}".encode()).hexdigest()
        assert emu.stats["list"] == 0 and emu.stats["changes"] == 1, emu.stats  # no full walk
        assert emu.stats["get"] == 1  # the failed file, asked for again
        assert saved_state(state_file)["failed"] == [ids[0]]
        previous = infos
    emu.reset_stats()
    infos, read = cached_scan(config, {p: i for p, i in previous.items() if p != "/f/0.txt"})
    assert list(read) == ["/f/0.txt"] and saved_state(state_file)["failed"] == []


def test_abandoned_run_keeps_the_stored_state(emu: DriveEmulator, state_file: str) -> None:
    """A run the host never acks (gohost -noack) changes nothing on disk, first or later run:
    the next run asks for the same changes again."""
    folder = emu.add_folder("f")
    emu.add_file("a.txt", b"a", folder)
    config = drive_config(emu, "gdrive://f", incremental="true", state_file=state_file)
    argv = plugin_argv("gdrive", "importer")
    assert run_gohost("import", argv, "gdrive", config, "-noack")["finished"]
    assert not Path(state_file).exists()  # the first full walk left nothing behind
    assert list(Path(state_file).parent.iterdir()) == []
    first = scan(config)
    saved = Path(state_file).read_bytes()
    emu.add_file("late.txt", b"late", folder)
    assert run_gohost("import", argv, "gdrive", config, "-noack")["finished"]
    assert Path(state_file).read_bytes() == saved
    emu.reset_stats()
    _, read = cached_scan(config, infos_of(first))
    assert list(read) == ["/f/late.txt"] and emu.stats["changes"] == 1 and emu.stats["list"] == 0


def test_subfolder_walk_batches_folders(emu: DriveEmulator) -> None:
    """Below the root the walk lists up to 50 folders per query, level by level."""
    exp = big_drive(emu, 400)
    emu.reset_stats()
    run = scan(drive_config(emu, "gdrive://top4"), read=False)
    paths = set(run.by_path())
    # Paths carry the location's path, and the folders above it come first, as in Plakar.
    assert {"/", "/top4", "/top4/sub1/deep2"} <= paths
    assert {p for p in exp.dirs if p.startswith("/top4")} <= paths
    assert not {p for p in paths if p != "/" and not p.startswith("/top4")}
    # one name query for `top4`, then one query per level (1, 5 and 15 folders)
    assert emu.stats["list"] <= 4, emu.stats


def test_moves_seen_incrementally(emu: DriveEmulator, state_file: str) -> None:
    a = emu.add_folder("a")
    b = emu.add_folder("b")
    inner = emu.add_folder("inner", a)
    emu.add_file("x.txt", b"x", inner)
    outside = emu.share_with_me("ext", None)
    emu.add_file("y.txt", b"y", outside)
    config = drive_config(emu, incremental="true", state_file=state_file)
    first = scan(config)
    assert "/a/inner/x.txt" in first.by_path()
    emu.move(inner, b)
    emu.move(outside, a)  # a folder arrives from outside: its children must be listed
    emu.reset_stats()
    infos, _ = cached_scan(config, infos_of(first))
    assert "/b/inner/x.txt" in infos and "/a/inner/x.txt" not in infos
    assert "/a/ext/y.txt" in infos
    assert emu.stats["list"] == 1, emu.stats
    assert infos == infos_of(scan(drive_config(emu), read=False))


def test_shared_drive(emu: DriveEmulator) -> None:
    drive, exp = shared_drive(emu)
    big_drive(emu, 10)  # My Drive content must not leak in
    emu.reset_stats()
    run = scan(drive_config(emu, shared_drive_id=drive))
    check_tree(run, exp)
    assert run.identity.origin.endswith(f"/drives/{drive}")
    lists = [r for r in emu.request_log if r.kind == "list"]
    assert len(lists) == 1 and lists[0].query.get("corpora") == "drive"  # one corpus listing


def test_shared_with_me_and_options(emu: DriveEmulator) -> None:
    emu.share_with_me("plan.txt", b"shared plan\n", "text/plain")
    folder = emu.share_with_me("Shared folder", None)
    emu.add_file("inside.txt", b"inside", folder)
    run = scan(drive_config(emu, shared_with_me="true"), read=True)
    got = run.by_path()
    assert {"/plan.txt", "/Shared folder", "/Shared folder/inside.txt"} <= set(got)
    assert got["/Shared folder/inside.txt"].read == 6


def test_xattrs_only_where_needed_and_the_switches(emu: DriveEmulator) -> None:
    """By default the MIME type only where the name gives another one; checksums=true adds
    md5 and sha256 to every file; metadata=false sends none. Files and bytes never change."""
    folder = emu.add_folder("m")
    emu.add_file("a.txt", b"alpha", folder, mime_type="text/plain")  # the name says it
    emu.add_file("notes", b"plain", folder, mime_type="text/plain")  # it does not
    emu.add_doc("Plan", "document", folder)
    default = scan(drive_config(emu, "gdrive://m"), keep_data=True)
    full = scan(drive_config(emu, "gdrive://m", checksums="true"))
    plain = scan(drive_config(emu, "gdrive://m", metadata="false"))
    assert {k: x.data for k, x in default.xattrs().items()} == {
        ("/m/notes", XATTR_MIME): b"text/plain",
        ("/m/Plan.docx", XATTR_MIME): b"application/vnd.google-apps.document",
    }
    assert set(full.xattrs()) == set(default.xattrs()) | {
        (p, n) for p in ("/m/a.txt", "/m/notes") for n in (XATTR_MD5, XATTR_SHA256)
    }  # a Doc has no checksums of its own
    assert plain.xattrs() == {}
    for run in (full, plain):
        assert {p: i.sha256 for p, i in run.by_path().items()} == {
            p: i.sha256 for p, i in default.by_path().items()
        }
    got = default.by_path()
    assert got["/m/notes"].record.xattrs == [XATTR_MIME]  # the names travel on the file
    assert got["/m/a.txt"].record.xattrs == []
    assert all(not i.record.xattrs for i in plain.by_path().values())


def test_trash_formats_and_shortcut_skipping(emu: DriveEmulator) -> None:
    doc = emu.add_doc("Notes", "document")
    emu.add_doc("Chart", "drawing")
    emu.add_shortcut("link", doc)
    emu.trash(emu.add_file("bin.txt", b"trash"))
    emu.add_file("a/b", b"slash")
    emu.add_file("..", b"dots")
    run = scan(
        drive_config(
            emu,
            include_trashed="true",
            skip_shortcuts="true",
            export_formats="document=odt,drawing=pdf",
        )
    )
    got = run.by_path()
    assert {"/Notes.odt", "/Chart.pdf", "/bin.txt", "/a\uff0fb", "/_.."} <= set(got)
    assert got["/a\uff0fb"].read == 5
    assert not [p for p in got if p.startswith("/link")]
    assert run.xattrs()[("/Notes.odt", "user.gdrive.mime_type")].read > 0


def test_incremental_below_a_shared_drive_folder(emu: DriveEmulator, state_file: str) -> None:
    """root_folder_id inside a shared drive: the changes come from that drive's log."""
    drive, exp = shared_drive(emu)
    docs = exp.ids["/Docs/team-1.dat"]
    folder = emu.item(docs).parents[0]
    config = drive_config(emu, root_folder_id=folder, incremental="true", state_file=state_file)
    first = scan(config)
    assert "/team-1.dat" in first.by_path()
    emu.update_content(docs, b"edited in the shared drive")
    emu.add_file("outside.txt", b"My Drive, not ours")
    emu.reset_stats()
    infos, read = cached_scan(config, infos_of(first))
    assert list(read) == ["/team-1.dat"]
    assert emu.stats["changes"] == 1 and emu.stats["list"] == 0, emu.stats
    assert {r.query.get("driveId") for r in emu.request_log if r.kind == "changes"} == {drive}
