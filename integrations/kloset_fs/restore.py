"""Creating one restored entry: content, metadata, links, special files.

Everything is created under a hidden temporary name in its final directory, given its
metadata, then renamed over the final name, so a reader never sees a half-written file and a
failed restore leaves nothing behind (INTEGRATIONS.md fs, exporter). Order matters: chown
before chmod, because chown clears setuid/setgid.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Callable, Iterable

from kloset_sdk import FileInfo, PermissionDenied, modes
from kloset_sdk.records import GO_ZERO_TIME_NS

#: Zero runs of at least one aligned block become holes (a 1 GiB file with 4 KiB of data
#: restores using about 4 KiB of disk).
BLOCK = 4096
_ZERO = bytes(BLOCK)
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def temp_name() -> str:
    return f".kloset-restore-{secrets.token_hex(8)}"


def times(info: FileInfo) -> tuple[int, int] | None:
    """(atime, mtime) in ns, or None for Go's zero time (kloset's synthetic directories)."""
    if info.mtime_ns == GO_ZERO_TIME_NS:
        return None
    return (info.mtime_ns, info.mtime_ns)


def write_sparse(fd: int, chunks: Iterable[bytes]) -> int:
    """Write `chunks` from offset 0, seeking over zero blocks; returns the size."""
    pos = 0
    for chunk in chunks:
        _write_chunk(fd, chunk, pos)
        pos += len(chunk)
    os.ftruncate(fd, pos)
    return pos


def _write_chunk(fd: int, chunk: bytes, pos: int) -> None:
    if _ZERO not in chunk:  # the common case, at memchr speed: no hole possible here
        _pwrite_all(fd, memoryview(chunk), pos)
        return
    view = memoryview(chunk)
    start = 0  # first byte not yet written or skipped
    i = (-pos) % BLOCK  # first block boundary of the file inside this chunk
    while i + BLOCK <= len(chunk):
        if chunk.startswith(_ZERO, i):
            if i > start:
                _pwrite_all(fd, view[start:i], pos + start)
            start = i + BLOCK
        i += BLOCK
    if start < len(chunk):
        _pwrite_all(fd, view[start:], pos + start)


def _pwrite_all(fd: int, data: memoryview, pos: int) -> None:
    while data:
        n = os.pwrite(fd, data, pos)
        data, pos = data[n:], pos + n


def set_fd_meta(fd: int, info: FileInfo, owner: bool) -> None:
    if owner:
        os.fchown(fd, info.uid, info.gid)
    os.fchmod(fd, modes.permissions(info.mode))
    ts = times(info)
    if ts is not None:
        os.utime(fd, ns=ts)


def _set_name_meta(dir_fd: int, name: str, info: FileInfo, owner: bool, chmod: bool) -> None:
    if owner:
        os.chown(name, info.uid, info.gid, dir_fd=dir_fd, follow_symlinks=False)
    if chmod:  # a special file we just created; Linux cannot chmod a symlink itself
        os.chmod(name, modes.permissions(info.mode), dir_fd=dir_fd)
    ts = times(info)
    if ts is not None:
        os.utime(name, ns=ts, dir_fd=dir_fd, follow_symlinks=False)


def commit(dir_fd: int, name: str, make: Callable[[str], None]) -> None:
    """Build the entry at a temporary name with `make(tmp)`, then rename it over `name`."""
    tmp = temp_name()
    try:
        make(tmp)
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        _unlink_quiet(dir_fd, tmp)
        raise
    # rename(2) does nothing when both names are links to one inode: drop the spare name.
    _unlink_quiet(dir_fd, tmp)


def _unlink_quiet(dir_fd: int, name: str) -> None:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass


def refuse_dir(dir_fd: int, name: str, what: str) -> None:
    """Never replace an existing directory by something else (it may hold restored data)."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        raise PermissionDenied(f"{name} exists as a directory: refusing to replace it by {what}")


def regular(dir_fd: int, name: str, chunks: Iterable[bytes], info: FileInfo, owner: bool) -> None:
    def make(tmp: str) -> None:
        fd = os.open(tmp, _CREATE, 0o600, dir_fd=dir_fd)
        try:
            write_sparse(fd, chunks)
            set_fd_meta(fd, info, owner)
        finally:
            os.close(fd)

    refuse_dir(dir_fd, name, "a file")
    commit(dir_fd, name, make)


def hardlink(src_fd: int, src_name: str, dir_fd: int, name: str) -> None:
    refuse_dir(dir_fd, name, "a hard link")
    commit(
        dir_fd,
        name,
        lambda tmp: os.link(
            src_name, tmp, src_dir_fd=src_fd, dst_dir_fd=dir_fd, follow_symlinks=False
        ),
    )


def symlink(dir_fd: int, name: str, target: str, info: FileInfo, owner: bool) -> None:
    def make(tmp: str) -> None:
        os.symlink(target, tmp, dir_fd=dir_fd)
        _set_name_meta(dir_fd, tmp, info, owner, chmod=False)

    refuse_dir(dir_fd, name, "a symlink")
    commit(dir_fd, name, make)


def special(dir_fd: int, name: str, info: FileInfo, owner: bool) -> None:
    """FIFOs and sockets for anyone; devices only as root, with the rdev the importer sent."""
    st_mode = modes.to_st_mode(info.mode)
    fmt = stat.S_IFMT(st_mode)
    device = 0
    if fmt in (stat.S_IFCHR, stat.S_IFBLK):
        kind = "character device" if fmt == stat.S_IFCHR else "block device"
        if not owner:
            raise PermissionDenied(f"{name}: restoring a {kind} needs root")
        if not info.flags:
            raise PermissionDenied(f"{name}: the record carries no device number for this {kind}")
        device = info.flags

    def make(tmp: str) -> None:
        os.mknod(tmp, fmt | 0o600, device, dir_fd=dir_fd)
        _set_name_meta(dir_fd, tmp, info, owner, chmod=True)

    refuse_dir(dir_fd, name, "a special file")
    commit(dir_fd, name, make)
