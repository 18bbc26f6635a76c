"""Build a tree with every kind of POSIX entry, and compare two trees field by field."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

MiB = 1 << 20
SPARSE_SIZE = 16 * MiB
SPARSE_DATA_AT = 8 * MiB
NS = 1_234_567_891  # an mtime with all nine ns digits


def _mtime(path: Path, sec: int, follow: bool = False) -> None:
    os.utime(path, ns=(sec * 10**9 + NS % 10**9, sec * 10**9 + NS % 10**9), follow_symlinks=follow)


def make_tree(root: Path, full: bool = True, big: int = 50 * MiB) -> dict[str, int]:
    """Populate `root`; `full` adds what gohost export cannot send (owners, xattrs, devices)."""
    root.mkdir(parents=True, exist_ok=True)
    files = {
        "empty": b"",
        "one": b"x",
        "héllo wörld.txt": b"non-ASCII name and spaces\n",
        "日本語/ファイル name.txt": "日本語".encode(),
        "sub dir/mib_plus_one": os.urandom(MiB + 1),
        "sub dir/deep/er/leaf.bin": os.urandom(12345),
        "big.bin": os.urandom(big),
    }
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    # hard links: three names, one inode, in different directories
    (root / "links").mkdir()
    (root / "links" / "a").write_bytes(b"linked content\n")
    os.link(root / "links" / "a", root / "links" / "b")
    os.link(root / "links" / "a", root / "sub dir" / "c")
    # sparse: 16 MiB with one 4 KiB block of data in the middle
    with open(root / "sparse.img", "wb") as f:
        f.truncate(SPARSE_SIZE)
        f.seek(SPARSE_DATA_AT)
        f.write(os.urandom(4096))
    # special mode bits
    (root / "setuid").write_bytes(b"#!/bin/sh\n")
    os.chmod(root / "setuid", 0o4755)
    (root / "setgid-dir").mkdir()
    os.chmod(root / "setgid-dir", 0o2775)
    (root / "sticky").mkdir()
    os.chmod(root / "sticky", 0o1777)
    (root / "ro-dir").mkdir()
    (root / "ro-dir" / "inside").write_bytes(b"inside a read-only directory\n")
    os.chmod(root / "ro-dir", 0o555)
    # symlinks: relative, absolute and dangling
    os.symlink("one", root / "link-rel")
    os.symlink("/nonexistent/target", root / "link-dangling")
    os.symlink("sub dir", root / "link-dir")
    os.mkfifo(root / "fifo", 0o640)
    os.mknod(root / "socket", 0o600 | stat.S_IFSOCK)
    if full:
        _extras(root)
    # mtimes with ns, directories last (creating entries changes them)
    sec = 1_600_000_000
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for n in filenames + dirnames:
            _mtime(Path(dirpath) / n, sec)
            sec += 1
    _mtime(root, sec)
    return {"xattr_bytes": 4 + 0 + 8 + 3000 + 11}


def _extras(root: Path) -> None:
    # ownership (we run as root)
    os.chown(root / "one", 1234, 5678)
    os.lchown(root / "link-rel", 4321, 8765)
    # xattrs: on files, a directory, and a symlink itself (trusted.*: root only)
    os.setxattr(root / "one", "user.color", b"blue")
    os.setxattr(root / "one", "user.empty", b"")
    os.setxattr(root / "sub dir", "user.dir", b"\x00\x01binary")
    os.setxattr(root / "big.bin", "user.big", os.urandom(3000))
    os.setxattr(root / "link-rel", "trusted.onlink", b"on the link", follow_symlinks=False)
    os.mknod(root / "null-dev", 0o620 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(root / "blk-dev", 0o600 | stat.S_IFBLK, os.makedev(7, 200))


def _same_kind_notice(line: str) -> bool:
    m = re.fullmatch(r"File .* is an? (.+) while file .* is an? (.+)", line)
    return m is not None and m.group(1) == m.group(2)


def walk(root: Path) -> dict[str, os.stat_result]:
    out = {"/": os.lstat(root)}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = Path(dirpath) / n
            out["/" + str(p.relative_to(root))] = os.lstat(p)
    return out


def xattrs_of(path: Path) -> dict[str, bytes]:
    names = os.listxattr(path, follow_symlinks=False)
    return {n: os.getxattr(path, n, follow_symlinks=False) for n in names}


def regular_bytes(root: Path) -> int:
    return sum(st.st_size for st in walk(root).values() if stat.S_ISREG(st.st_mode))


def assert_same_tree(src: Path, dst: Path, owners: bool = True, links: bool = True) -> None:
    """Everything the exporter promises: content, mode, mtime ns, owner, links, xattrs, holes."""
    proc = subprocess.run(
        ["diff", "-r", "--no-dereference", str(src), str(dst)], text=True, capture_output=True
    )
    # diff cannot compare special files: it lists them even when both sides are the same kind
    real = [ln for ln in proc.stdout.splitlines() if not _same_kind_notice(ln)]
    assert not real and not proc.stderr, proc.stdout + proc.stderr
    a, b = walk(src), walk(dst)
    assert sorted(a) == sorted(b)
    for rel, sa in a.items():
        sb = b[rel]
        where = f"{rel}: "
        assert stat.S_IFMT(sa.st_mode) == stat.S_IFMT(sb.st_mode), where + "type"
        assert stat.S_IMODE(sa.st_mode) == stat.S_IMODE(sb.st_mode) or stat.S_ISLNK(sa.st_mode), (
            where + f"mode {oct(sa.st_mode)} != {oct(sb.st_mode)}"
        )
        assert sa.st_mtime_ns == sb.st_mtime_ns, where + "mtime"
        if owners:
            assert (sa.st_uid, sa.st_gid) == (sb.st_uid, sb.st_gid), where + "owner"
        if links and not stat.S_ISDIR(sa.st_mode):
            assert sa.st_nlink == sb.st_nlink, where + "nlink"
        if stat.S_ISCHR(sa.st_mode) or stat.S_ISBLK(sa.st_mode):
            assert sa.st_rdev == sb.st_rdev, where + "rdev"
        if stat.S_ISLNK(sa.st_mode):
            assert os.readlink(src / rel[1:]) == os.readlink(dst / rel[1:]), where + "target"
        if stat.S_ISREG(sa.st_mode):
            assert sa.st_size == sb.st_size, where + "size"
            # holes survive: never more blocks than the source (plus one fs block of slack)
            assert sb.st_blocks <= sa.st_blocks + 8, where + f"blocks {sa.st_blocks} {sb.st_blocks}"
        pa = src if rel == "/" else src / rel[1:]
        pb = dst if rel == "/" else dst / rel[1:]
        assert xattrs_of(pa) == xattrs_of(pb), where + "xattrs"
