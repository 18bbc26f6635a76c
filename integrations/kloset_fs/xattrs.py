"""POSIX extended attributes, always of the entry itself (never through a symlink).

Symlinks carry their own xattrs (`trusted.*`, `security.*`), so both sides use the l* calls.
Filesystems without xattr support answer ENOTSUP: that is "no xattrs", not an error.
"""

from __future__ import annotations

import errno
import os

_UNSUPPORTED = {errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}


def list_names(path: str) -> list[str]:
    """Names of `path`'s own xattrs, sorted; [] where the filesystem has none."""
    try:
        return sorted(os.listxattr(path, follow_symlinks=False))
    except OSError as exc:
        if exc.errno in _UNSUPPORTED:
            return []
        raise


def reader(path: str, name: str) -> bytes:
    """Read one value; called lazily, when the host Opens the xattr record (§4.3)."""
    return os.getxattr(path, name, follow_symlinks=False)


def set_at(dir_fd: int, name: str, attr: str, value: bytes) -> None:
    """Set `attr` on entry `name` of the directory open as `dir_fd`, without following it.

    There is no setxattrat(2); `/proc/self/fd/N/name` resolves N to the directory we opened
    safely (O_NOFOLLOW all the way from the target), and `name` itself is not followed. So
    the write lands on the restored entry even if a path above it was swapped meanwhile.
    """
    os.setxattr(f"/proc/self/fd/{dir_fd}/{name}", attr, value, follow_symlinks=False)


def set_on_fd(fd: int, attr: str, value: bytes) -> None:
    os.setxattr(fd, attr, value)
