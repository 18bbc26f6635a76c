from __future__ import annotations

import os
import stat

from hypothesis import given
from hypothesis import strategies as st

from kloset_sdk import modes

#: Go's io/fs.FileMode bits (go doc io/fs.FileMode), written out: facts, not our constants.
GO_MODE_DIR = 0x8000_0000  # 1 << 31, "d"
GO_MODE_SYMLINK = 0x0800_0000  # 1 << 27, "L"
GO_MODE_DEVICE = 0x0400_0000  # 1 << 26, "D"
GO_MODE_NAMED_PIPE = 0x0200_0000  # 1 << 25, "p"
GO_MODE_SOCKET = 0x0100_0000  # 1 << 24, "S"
GO_MODE_SETUID = 0x0080_0000  # 1 << 23, "u"
GO_MODE_SETGID = 0x0040_0000  # 1 << 22, "g"
GO_MODE_CHAR_DEVICE = 0x0020_0000  # 1 << 21, "c"
GO_MODE_STICKY = 0x0010_0000  # 1 << 20, "t"


def test_constants_are_gos() -> None:
    assert (modes.MODE_DIR, modes.MODE_APPEND, modes.MODE_EXCLUSIVE) == (
        0x8000_0000,
        0x4000_0000,
        0x2000_0000,
    )
    assert (modes.MODE_TEMPORARY, modes.MODE_SYMLINK, modes.MODE_DEVICE) == (
        0x1000_0000,
        GO_MODE_SYMLINK,
        GO_MODE_DEVICE,
    )
    assert (modes.MODE_NAMED_PIPE, modes.MODE_SOCKET, modes.MODE_SETUID) == (
        GO_MODE_NAMED_PIPE,
        GO_MODE_SOCKET,
        GO_MODE_SETUID,
    )
    assert (modes.MODE_SETGID, modes.MODE_CHAR_DEVICE, modes.MODE_STICKY) == (
        GO_MODE_SETGID,
        GO_MODE_CHAR_DEVICE,
        GO_MODE_STICKY,
    )
    assert modes.MODE_IRREGULAR == 0x0008_0000


def test_known_values() -> None:
    assert modes.from_st_mode(stat.S_IFDIR | 0o755) == GO_MODE_DIR | 0o755
    assert modes.from_st_mode(stat.S_IFLNK | 0o777) == GO_MODE_SYMLINK | 0o777
    assert modes.from_st_mode(stat.S_IFREG | 0o4755) == GO_MODE_SETUID | 0o755
    assert modes.from_st_mode(stat.S_IFREG | 0o2755) == GO_MODE_SETGID | 0o755
    assert modes.from_st_mode(stat.S_IFDIR | 0o1777) == GO_MODE_DIR | GO_MODE_STICKY | 0o777
    assert modes.from_st_mode(stat.S_IFCHR | 0o600) == GO_MODE_DEVICE | GO_MODE_CHAR_DEVICE | 0o600
    assert modes.from_st_mode(stat.S_IFBLK | 0o600) == GO_MODE_DEVICE | 0o600
    assert modes.from_st_mode(stat.S_IFIFO | 0o644) == GO_MODE_NAMED_PIPE | 0o644
    assert modes.from_st_mode(stat.S_IFSOCK | 0o755) == GO_MODE_SOCKET | 0o755
    assert modes.from_st_mode(stat.S_IFREG | 0o644) == 0o644


def test_mode_string_matches_go() -> None:
    assert modes.mode_string(GO_MODE_DIR | 0o755) == "drwxr-xr-x"
    assert modes.mode_string(0o644) == "-rw-r--r--"
    assert modes.mode_string(GO_MODE_SYMLINK | 0o777) == "Lrwxrwxrwx"
    assert modes.mode_string(GO_MODE_SETUID | 0o755) == "urwxr-xr-x"
    assert modes.mode_string(GO_MODE_DIR | GO_MODE_STICKY | 0o777) == "dtrwxrwxrwx"


@given(
    fmt=st.sampled_from(
        [
            stat.S_IFREG,
            stat.S_IFDIR,
            stat.S_IFLNK,
            stat.S_IFIFO,
            stat.S_IFSOCK,
            stat.S_IFCHR,
            stat.S_IFBLK,
        ]
    ),
    perm=st.integers(0, 0o7777),
)
def test_roundtrip(fmt: int, perm: int) -> None:
    st_mode = fmt | perm
    go = modes.from_st_mode(st_mode)
    assert modes.to_st_mode(go) == st_mode
    assert modes.permissions(go) == perm
    assert modes.is_regular(go) == (fmt == stat.S_IFREG)


def test_real_files(tmp_path: os.PathLike[str]) -> None:
    d = os.fspath(tmp_path)
    assert modes.is_dir(modes.from_st_mode(os.lstat(d).st_mode))
