"""The trees the end-to-end tests back up, and how two trees are compared."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

MiB = 1 << 20


def kinds_files(big: int = 50 * MiB) -> dict[str, bytes]:
    """Every regular-file case: empty, 1 byte, exactly 1 MiB (one chunk), a big multi-chunk
    file, names with spaces and non-ASCII, a few levels deep."""
    return {
        "empty.bin": b"",
        "one.bin": b"x",
        "exactly-1MiB.bin": os.urandom(MiB),
        "big.bin": os.urandom(big),
        "name with spaces.txt": b"spaces in the name\n",
        "ünïcødé/日本語 ✓.txt": "non-ASCII ✓\n".encode(),
        "deep/a/b/c/leaf.txt": b"leaf\n",
        "many/" + "f00.txt": b"0\n",
        "many/" + "f01.txt": b"1\n" * 1000,
    }


def write_kinds_tree(root: Path, big: int = 50 * MiB) -> dict[str, bytes]:
    """The file cases above plus symlinks (one dangling), an empty directory, odd modes and an
    xattr. Returns the regular files written."""
    files = kinds_files(big)
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    (root / "empty-dir").mkdir()
    (root / "link-to-one").symlink_to("one.bin")
    (root / "dangling").symlink_to("nowhere/at/all")
    os.chmod(root / "one.bin", 0o600)
    os.chmod(root / "many", 0o750)
    os.setxattr(root / "name with spaces.txt", "user.e2e", b"kept by the source")
    return files


def snapshot_of(root: Path) -> dict[str, tuple[object, ...]]:
    """rel path -> what a restore must reproduce: kind, permission bits, content digest or
    link target, and the mtime in whole seconds (every exporter keeps at least that)."""
    out: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode))
            else:
                digest = hashlib.sha256(p.read_bytes()).hexdigest()
                out[rel] = ("file", stat.S_IMODE(st.st_mode), st.st_size, digest, int(st.st_mtime))
    return out


def digests(files: dict[str, bytes]) -> dict[str, str]:
    return {rel: hashlib.sha256(data).hexdigest() for rel, data in files.items()}


def dir_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())
