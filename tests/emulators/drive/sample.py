"""A small, realistic drive for demos: folders, 30 files, Docs, a shortcut, traps."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .emulator import DriveEmulator

_SIZES = [0, 1, 17, 100, 511, 1024, 4096, 10_000, 65_536, 262_144, 262_145, 1_000_000]


def seed_sample(emu: DriveEmulator, seed: int = 1) -> dict[str, str]:
    """Populate My Drive; returns ids by path (e.g. 'Projects/2024/report.pdf')."""
    rng = random.Random(seed)
    ids: dict[str, str] = {}

    def folder(path: str) -> str:
        parent, _, name = path.rpartition("/")
        ids[path] = emu.add_folder(name, ids[parent] if parent else "root")
        return ids[path]

    def blob(path: str, size: int, mime: str = "application/octet-stream") -> str:
        parent, _, name = path.rpartition("/")
        data = rng.randbytes(size)
        day = 1 + len(ids) % 28
        ids[path] = emu.add_file(
            name, data, ids[parent] if parent else "root", mime, f"2024-03-{day:02d}T10:00:00Z"
        )
        return ids[path]

    for path in ("Projects", "Projects/2024", "Projects/2024/q1", "Photos", "Empty folder"):
        folder(path)
    for i in range(10):
        blob(f"Photos/IMG_{1000 + i}.jpg", rng.choice(_SIZES[5:]), "image/jpeg")
    for i in range(8):
        blob(f"Projects/2024/notes-{i:02d}.txt", _SIZES[i], "text/plain")
    for i in range(6):
        blob(f"Projects/2024/q1/data-{i}.bin", _SIZES[(i * 5) % len(_SIZES)])
    blob("Projects/report.pdf", 48_000, "application/pdf")
    ids["Projects/report.pdf (2)"] = emu.add_file(  # same name, same folder: a real Drive trap
        "report.pdf", rng.randbytes(52_000), ids["Projects"], "application/pdf"
    )
    blob("README.md", 700, "text/markdown")
    blob("empty.txt", 0, "text/plain")
    blob("big.bin", 3 * 1024 * 1024 + 123)
    blob("old.txt", 300, "text/plain")
    emu.trash(ids["old.txt"])
    ids["Meeting notes"] = emu.add_doc("Meeting notes", "document", ids["Projects"])
    ids["Budget"] = emu.add_doc("Budget", "spreadsheet", "root", export_size=20_000)
    ids["Projects/Link to Budget"] = emu.add_shortcut(
        "Link to Budget", ids["Budget"], ids["Projects"]
    )
    ids["Shared/plan.txt"] = emu.share_with_me("plan.txt", b"shared with me\n", "text/plain")
    return ids
