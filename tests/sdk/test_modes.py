from __future__ import annotations

import os
import stat

from hypothesis import given
from hypothesis import strategies as st

from kloset_sdk import modes


def test_known_values() -> None:
    assert modes.from_st_mode(stat.S_IFDIR | 0o755) == modes.MODE_DIR | 0o755
    assert modes.from_st_mode(stat.S_IFLNK | 0o777) == modes.MODE_SYMLINK | 0o777
    assert modes.from_st_mode(stat.S_IFREG | 0o4755) == modes.MODE_SETUID | 0o755
    assert modes.from_st_mode(stat.S_IFDIR | 0o1777) == modes.MODE_DIR | modes.MODE_STICKY | 0o777
    assert (
        modes.from_st_mode(stat.S_IFCHR | 0o600)
        == modes.MODE_DEVICE | modes.MODE_CHAR_DEVICE | 0o600
    )
    assert modes.from_st_mode(stat.S_IFIFO | 0o644) == modes.MODE_NAMED_PIPE | 0o644


def test_mode_string_matches_go() -> None:
    assert modes.mode_string(modes.MODE_DIR | 0o755) == "drwxr-xr-x"
    assert modes.mode_string(0o644) == "-rw-r--r--"
    assert modes.mode_string(modes.MODE_SYMLINK | 0o777) == "Lrwxrwxrwx"
    assert modes.mode_string(modes.MODE_SETUID | 0o755) == "urwxr-xr-x"


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
