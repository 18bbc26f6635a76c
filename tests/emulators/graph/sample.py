"""Demo content: a believable OneDrive with edge cases the connector must handle."""

from __future__ import annotations

import random
import time

from .emulator import GraphEmulator

# (path, size) — sizes cover empty files, sub-320 KiB, simple-upload and session territory.
_FILES: list[tuple[str, int]] = [
    ("/Documents/empty.txt", 0),
    ("/Documents/notes.md", 1_234),
    ("/Documents/report.docx", 48_211),
    ("/Documents/budget.xlsx", 23_550),
    ("/Documents/Contracts/contract-2023.pdf", 310_000),
    ("/Documents/Contracts/contract-2024.pdf", 327_680),
    ("/Documents/Contracts/Annex A.pdf", 327_681),
    ("/Documents/Taxes/2022/return.pdf", 96_000),
    ("/Documents/Taxes/2023/return.pdf", 101_000),
    ("/Pictures/Camera Roll/IMG_0001.jpg", 2_400_000),
    ("/Pictures/Camera Roll/IMG_0002.jpg", 2_150_000),
    ("/Pictures/Camera Roll/IMG_0003.JPG", 1_980_000),
    ("/Pictures/Screenshots/screen 1.png", 180_000),
    ("/Pictures/Screenshots/screen 2.png", 175_500),
    ("/Pictures/Wallpapers/mountains.jpg", 4_194_304),
    ("/Pictures/Wallpapers/lake.jpg", 4_194_305),
    ("/Music/playlist.m3u", 512),
    ("/Music/Album/01 - Intro.mp3", 3_100_000),
    ("/Music/Album/02 - Theme.mp3", 5_300_000),
    ("/Videos/holiday.mp4", 9_437_184),
    ("/Code/project/README.md", 2_048),
    ("/Code/project/main.py", 4_096),
    ("/Code/project/.gitignore", 64),
    ("/Code/project/src/module.py", 8_192),
    ("/Code/project/src/__init__.py", 0),
    ("/Code/project/data/sample.csv", 655_360),
    ("/Archive/old-backup.zip", 7_000_000),
    ("/Archive/ünïcödé name.txt", 321),
    ("/Archive/with spaces & symbols (1).txt", 77),
    ("/Desktop/todo.txt", 99),
]


def seed_sample(emu: GraphEmulator, seed: int = 42) -> dict[str, str]:
    """Fill the default drive: folders, 30 files (0 B to 9 MiB), a notebook, the vault.

    Returns path -> item id. Content is pseudo-random but reproducible from ``seed``.
    """
    rng = random.Random(seed)
    ids: dict[str, str] = {}
    base = time.time() - 86400 * 30
    for n, (path, size) in enumerate(_FILES):
        data = rng.randbytes(size)
        ids[path] = emu.add_file(path, data, modified=base + n * 3600, created=base)
    ids["/Empty Folder"] = emu.add_folder("/Empty Folder")
    ids["/Documents/Notebook"] = emu.add_onenote("/Documents/Notebook")
    ids["/Personal Vault"] = emu.add_vault()
    return ids
