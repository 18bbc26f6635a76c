"""Keep every restored entry inside the target directory (INTEGRATIONS.md fs, exporter).

A record's pathname is checked lexically (no `..`, no NUL), then its parent is reached from a
descriptor of the target with one `openat(O_NOFOLLOW | O_DIRECTORY)` per component. A symlink
anywhere on the way fails the open, so nothing is ever written through a link, including one
restored a moment earlier by the same stream, or swapped in by someone else meanwhile. All
writes then use that parent descriptor (`dir_fd=`), never a path string.
"""

from __future__ import annotations

import errno
import os
import stat
from collections import OrderedDict

from kloset_sdk import PermissionDenied

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CACHE = 32


def split(pathname: str) -> tuple[str, ...]:
    """Components of a record pathname below the target; refuses anything that could escape."""
    if "\x00" in pathname:
        raise PermissionDenied(f"{pathname!r}: refusing a path with a NUL byte")
    parts = tuple(p for p in pathname.split("/") if p not in ("", "."))
    if ".." in parts:
        raise PermissionDenied(f"{pathname}: refusing a path with a '..' component")
    return parts


def joined(parts: tuple[str, ...]) -> str:
    return "/" + "/".join(parts)


class Target:
    """The restore root, opened once, and a small cache of parent-directory descriptors."""

    def __init__(self, root: str) -> None:
        os.makedirs(root, mode=0o700, exist_ok=True)
        self.root = root
        self.fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self._cache: OrderedDict[tuple[str, ...], int] = OrderedDict()

    def parent(self, parts: tuple[str, ...]) -> int:
        """A descriptor of the directory holding `parts[-1]` (borrowed: do not close it)."""
        return self.dir(parts[:-1])

    def dir(self, parts: tuple[str, ...]) -> int:
        """A borrowed descriptor of directory `parts`, missing levels created 0700."""
        if not parts:
            return self.fd
        fd = self._cache.get(parts)
        if fd is not None:
            self._cache.move_to_end(parts)
            return fd
        fd = self.open_dir(parts, create=True)
        self._cache[parts] = fd
        if len(self._cache) > _CACHE:
            os.close(self._cache.popitem(last=False)[1])
        return fd

    def open_dir(self, parts: tuple[str, ...], create: bool = False) -> int:
        """A new descriptor (caller closes) of directory `parts`, reached without symlinks."""
        cur = os.dup(self.fd)
        try:
            for i, name in enumerate(parts):
                nxt = self._step(cur, name, parts[: i + 1], create)
                os.close(cur)
                cur = nxt
        except BaseException:
            os.close(cur)
            raise
        return cur

    @staticmethod
    def _step(cur: int, name: str, upto: tuple[str, ...], create: bool) -> int:
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=cur)
        except FileNotFoundError:
            if not create:
                raise
            try:
                os.mkdir(name, 0o700, dir_fd=cur)
            except FileExistsError:
                pass
            return os.open(name, _DIR_FLAGS, dir_fd=cur)
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
            st = os.stat(name, dir_fd=cur, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                raise PermissionDenied(
                    f"{joined(upto)} is a symlink: refusing to write through it"
                ) from None
            raise PermissionDenied(f"{joined(upto)} exists and is not a directory") from None

    def forget(self) -> None:
        """Drop cached descriptors (end of a stream: the tree may change before the next)."""
        while self._cache:
            os.close(self._cache.popitem()[1])

    def close(self) -> None:
        self.forget()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
