"""Go `io/fs.FileMode` bits <-> POSIX `st_mode` (docs/PROTOCOL.md: Records).

The wire carries Go's FileMode: type bits high, permissions low, setuid/setgid/sticky moved to
their own high bits. Sending a raw st_mode would store nonsense, so every connector goes through
these two functions.
"""

from __future__ import annotations

import stat

#: Go's FileMode bits in Go's declaration order, ModeDir (bit 31) down to ModeIrregular (19).
(
    MODE_DIR,
    MODE_APPEND,
    MODE_EXCLUSIVE,
    MODE_TEMPORARY,
    MODE_SYMLINK,
    MODE_DEVICE,
    MODE_NAMED_PIPE,
    MODE_SOCKET,
    MODE_SETUID,
    MODE_SETGID,
    MODE_CHAR_DEVICE,
    MODE_STICKY,
    MODE_IRREGULAR,
) = (1 << bit for bit in range(31, 18, -1))

MODE_PERM = 0o777
#: Permissions of an entry whose service keeps none (Drive, OneDrive) and of a directory a
#: connector synthesises above its root: what a new folder and file get under umask 022.
DEFAULT_DIR_PERM = 0o755
DEFAULT_FILE_PERM = 0o644
MODE_TYPE = (
    MODE_DIR
    | MODE_SYMLINK
    | MODE_NAMED_PIPE
    | MODE_SOCKET
    | MODE_DEVICE
    | MODE_CHAR_DEVICE
    | MODE_IRREGULAR
)


def from_st_mode(st_mode: int) -> int:
    """Convert `os.stat().st_mode` into Go FileMode bits, as Go's os.Lstat does."""
    mode = st_mode & MODE_PERM
    fmt = stat.S_IFMT(st_mode)
    if fmt == stat.S_IFDIR:
        mode |= MODE_DIR
    elif fmt == stat.S_IFLNK:
        mode |= MODE_SYMLINK
    elif fmt == stat.S_IFBLK:
        mode |= MODE_DEVICE
    elif fmt == stat.S_IFCHR:
        mode |= MODE_DEVICE | MODE_CHAR_DEVICE
    elif fmt == stat.S_IFIFO:
        mode |= MODE_NAMED_PIPE
    elif fmt == stat.S_IFSOCK:
        mode |= MODE_SOCKET
    elif fmt != stat.S_IFREG:
        mode |= MODE_IRREGULAR
    if st_mode & stat.S_ISUID:
        mode |= MODE_SETUID
    if st_mode & stat.S_ISGID:
        mode |= MODE_SETGID
    if st_mode & stat.S_ISVTX:
        mode |= MODE_STICKY
    return mode


def to_st_mode(mode: int) -> int:
    """Convert Go FileMode bits back into a POSIX st_mode (type and permission bits)."""
    st = mode & MODE_PERM
    if mode & MODE_DIR:
        st |= stat.S_IFDIR
    elif mode & MODE_SYMLINK:
        st |= stat.S_IFLNK
    elif mode & MODE_DEVICE:
        st |= stat.S_IFCHR if mode & MODE_CHAR_DEVICE else stat.S_IFBLK
    elif mode & MODE_NAMED_PIPE:
        st |= stat.S_IFIFO
    elif mode & MODE_SOCKET:
        st |= stat.S_IFSOCK
    else:
        st |= stat.S_IFREG
    if mode & MODE_SETUID:
        st |= stat.S_ISUID
    if mode & MODE_SETGID:
        st |= stat.S_ISGID
    if mode & MODE_STICKY:
        st |= stat.S_ISVTX
    return st


def permissions(mode: int) -> int:
    """The chmod() argument for a Go mode: permission bits plus setuid/setgid/sticky."""
    return stat.S_IMODE(to_st_mode(mode))


def is_dir(mode: int) -> bool:
    return bool(mode & MODE_DIR)


def is_symlink(mode: int) -> bool:
    return bool(mode & MODE_SYMLINK)


def is_regular(mode: int) -> bool:
    return not mode & MODE_TYPE


def mode_string(mode: int) -> str:
    """Go's FileMode.String(), e.g. `drwxr-xr-x`, `-rwsr-xr-x`; handy in listings and tests."""
    letters = "dalTLDpSugct?"
    out = "".join(c for i, c in enumerate(letters) if mode & (1 << (31 - i)))
    out = out or "-"
    rwx = "rwxrwxrwx"
    out += "".join(c if mode & (1 << (8 - i)) else "-" for i, c in enumerate(rwx))
    return out
