"""Seeded Drives for the gdrive tests, each with the tree the importer should make of it."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from kloset_sdk.records import parse_rfc3339_ns
from tests.emulators.drive import DriveEmulator

MiB = 1 << 20
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
SVG = "image/svg+xml"


@dataclass
class Expected:
    """What an import must produce: files (bytes), folders, symlinks, and file mtimes."""

    files: dict[str, bytes] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=lambda: {"/"})
    links: dict[str, str] = field(default_factory=dict)
    mtimes: dict[str, int] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)  # path -> Drive id (files and folders)
    docs: set[str] = field(default_factory=set)


def _mtime(emu: DriveEmulator, file_id: str) -> int:
    return parse_rfc3339_ns(str(emu.metadata(file_id)["modifiedTime"]))


def _created(emu: DriveEmulator, file_id: str) -> tuple[str, str]:
    return (str(emu.metadata(file_id)["createdTime"]), file_id)


def add_file(emu: DriveEmulator, exp: Expected, path: str, data: bytes, parent: str) -> str:
    name = path.rsplit("/", 1)[-1]
    day = 1 + len(exp.files) % 28
    fid = emu.add_file(name, data, parent, modified_time=f"2024-02-{day:02d}T08:30:00.125Z")
    exp.files[path] = data
    exp.ids[path] = fid
    exp.mtimes[path] = _mtime(emu, fid)
    return fid


def add_folder(emu: DriveEmulator, exp: Expected, path: str, parent: str) -> str:
    fid = emu.add_folder(path.rsplit("/", 1)[-1], parent)
    exp.dirs.add(path)
    exp.ids[path] = fid
    return fid


def add_doc(
    emu: DriveEmulator,
    exp: Expected,
    path: str,
    kind: str,
    ext: str,
    mime: str,
    parent: str,
    size: int = 5000,
) -> str:
    fid = emu.add_doc(path.rsplit("/", 1)[-1], kind, parent, export_size=size)
    exp.files[f"{path}.{ext}"] = emu.export_content(fid, mime)
    exp.ids[f"{path}.{ext}"] = fid
    exp.mtimes[f"{path}.{ext}"] = _mtime(emu, fid)
    exp.docs.add(f"{path}.{ext}")
    return fid


def big_drive(emu: DriveEmulator, n_files: int = 3000, seed: int = 7) -> Expected:
    """Nested folders with n_files files, a Doc of each kind (one export above 10 MB),
    shortcuts (one to a file, one to a folder, one looping), duplicate names, trash."""
    rng = random.Random(seed)
    exp = Expected()
    folders = ["/"]
    ids = {"/": "root"}
    for t in range(8):
        top = f"/top{t}"
        ids[top] = add_folder(emu, exp, top, "root")
        folders.append(top)
        for s in range(5):
            sub = f"{top}/sub{s}"
            ids[sub] = add_folder(emu, exp, sub, ids[top])
            folders.append(sub)
            for d in range(3):
                deep = f"{sub}/deep{d}"
                ids[deep] = add_folder(emu, exp, deep, ids[sub])
                folders.append(deep)
    for i in range(n_files):
        where = rng.choice(folders)
        size = rng.choice([0, 1, 100, 1000, 4096, 20_000]) if i % 500 else 300_000
        path = f"{'' if where == '/' else where}/file-{i:05d}.bin"
        add_file(emu, exp, path, rng.randbytes(size), ids[where])
    # Docs of each kind, one whose export is above files.export's 10 MB limit
    add_doc(emu, exp, "/top0/Letter", "document", "docx", DOCX, ids["/top0"])
    add_doc(emu, exp, "/top0/Sheet", "spreadsheet", "xlsx", XLSX, ids["/top0"])
    add_doc(emu, exp, "/top1/Deck", "presentation", "pptx", PPTX, ids["/top1"])
    add_doc(emu, exp, "/top1/Sketch", "drawing", "svg", SVG, ids["/top1"])
    add_doc(emu, exp, "/Big doc", "document", "docx", DOCX, "root", size=11 * MiB)
    # duplicate names: two files, and a Doc whose export name meets a real file
    first = add_file(emu, exp, "/top2/dup.txt", b"first", ids["/top2"])
    second = emu.add_file("dup.txt", b"second", ids["/top2"])
    older, newer = sorted([_created(emu, first), _created(emu, second)])
    data = {first: b"first", second: b"second"}
    exp.files["/top2/dup.txt"] = data[older[1]]
    exp.files[f"/top2/dup~{newer[1]}.txt"] = data[newer[1]]
    exp.mtimes["/top2/dup.txt"] = _mtime(emu, older[1])
    exp.mtimes[f"/top2/dup~{newer[1]}.txt"] = _mtime(emu, newer[1])
    # shortcuts: to a file, to a folder (its subtree appears again), to an ancestor (loop)
    emu.add_shortcut("to-file", exp.ids["/top0/Letter.docx"], ids["/top3"])
    exp.files["/top3/to-file.docx"] = exp.files["/top0/Letter.docx"]
    exp.mtimes["/top3/to-file.docx"] = exp.mtimes["/top0/Letter.docx"]
    exp.docs.add("/top3/to-file.docx")
    emu.add_shortcut("to-folder", ids["/top4/sub1/deep2"], ids["/top3"])
    exp.dirs.add("/top3/to-folder")
    for path in list(exp.files):
        if path.startswith("/top4/sub1/deep2/"):
            copy = "/top3/to-folder/" + path.removeprefix("/top4/sub1/deep2/")
            exp.files[copy] = exp.files[path]
            exp.mtimes[copy] = exp.mtimes[path]
    emu.add_shortcut("loop", ids["/top5"], ids["/top5/sub2/deep1"])
    exp.links["/top5/sub2/deep1/loop"] = "../.."
    # trash: files and a folder with children, none of them backed up by default
    for i in range(3):
        emu.trash(emu.add_file(f"trashed-{i}.txt", b"gone", ids["/top6"]))
    bin_folder = emu.add_folder("old stuff", ids["/top6"])
    emu.add_file("inside.txt", b"also gone", bin_folder)
    emu.trash(bin_folder)
    # outside My Drive: shared with me, and a shared drive
    emu.share_with_me("not-mine.txt", b"shared\n", "text/plain")
    return exp


def shared_drive(emu: DriveEmulator) -> tuple[str, Expected]:
    """A shared drive with a few folders and files."""
    exp = Expected()
    drive = emu.add_shared_drive("Team")
    docs = emu.add_folder("Docs", drive_id=drive)
    exp.dirs.add("/Docs")
    for i in range(20):
        parent, prefix = (docs, "/Docs") if i % 2 else (drive, "")
        add_file(emu, exp, f"{prefix}/team-{i}.dat", random.Random(i).randbytes(i * 100), parent)
    add_doc(emu, exp, "/Docs/Plan", "document", "docx", DOCX, docs)
    return drive, exp
