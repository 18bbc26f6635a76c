from __future__ import annotations

import os

from kloset_sdk import FileInfo, Record, modes
from kloset_sdk.records import (
    GO_ZERO_TIME_NS,
    format_rfc3339,
    parse_rfc3339_ns,
    reader_key,
)


def test_file_record_proto() -> None:
    info = FileInfo("a", size=3, mode=0o644, mtime_ns=1_700_000_000_123_456_789)
    pr = Record.file("/d/a", info, lambda: b"abc").to_proto()
    assert pr.hasReader and pr.HasField("fileInfo")
    assert (
        pr.fileInfo.mod_time.seconds == 1_700_000_000 and pr.fileInfo.mod_time.nanos == 123_456_789
    )
    back = Record.from_proto(pr)
    assert back.info == info


def test_xattr_and_error_have_no_fileinfo() -> None:
    x = Record.xattr("/a", "user.k", lambda: b"v").to_proto()
    assert x.isXattr and x.xattrType == 0 and not x.HasField("fileInfo") and x.hasReader
    e = Record.failure("/a", PermissionError(13, "Permission denied", "/a")).to_proto()
    assert e.error == "/a: Permission denied" and not e.HasField("fileInfo") and not e.hasReader


def test_file_with_xattrs_names_them_and_sends_each_value() -> None:
    info = FileInfo("a", size=3, mode=0o644)
    recs = Record.file_with_xattrs("/a", info, lambda: b"abc", {"user.z": b"2", "user.a": b"1"})
    assert [(r.pathname, r.is_xattr, r.xattr_name) for r in recs] == [
        ("/a", False, ""),
        ("/a", True, "user.a"),
        ("/a", True, "user.z"),
    ]
    assert recs[0].xattrs == ["user.a", "user.z"] and recs[0].opener is not None
    assert [r.opener() for r in recs[1:] if r.opener] == [b"1", b"2"]
    assert [r.key for r in recs] == ["/a", "xattr:/a:user.a", "xattr:/a:user.z"]
    (only,) = Record.file_with_xattrs("/b", FileInfo("b"), lambda: b"", {})
    assert only.xattrs == [] and not only.is_xattr


def test_directory_and_symlink_bits() -> None:
    d = Record.directory("/d", FileInfo("d", mode=0o755)).to_proto()
    assert d.fileInfo.mode & modes.MODE_DIR and not d.hasReader
    s = Record.symlink("/l", FileInfo("l", mode=0o777), "t").to_proto()
    assert s.fileInfo.mode & modes.MODE_SYMLINK and s.target == "t"


def test_go_zero_time_and_negative_ns() -> None:
    pr = Record.file("/z", FileInfo("z", mtime_ns=GO_ZERO_TIME_NS), lambda: b"").to_proto()
    assert pr.fileInfo.mod_time.seconds == -62135596800
    assert Record.from_proto(pr).info.mtime_ns == GO_ZERO_TIME_NS  # type: ignore[union-attr]


def test_reader_keys() -> None:
    assert reader_key("/a", False, "", 0) == "/a"
    assert reader_key("/a", True, "user.x", 0) == "xattr:/a:user.x"
    assert reader_key("/a", True, "stream", 1) == "xattr:/a@stream"


def test_rfc3339() -> None:
    ns = parse_rfc3339_ns("2024-05-06T07:08:09.123456789Z")
    assert ns % 1_000_000_000 == 123_456_789
    assert format_rfc3339(ns) == "2024-05-06T07:08:09.123Z"
    assert parse_rfc3339_ns("2024-05-06T09:08:09+02:00") == parse_rfc3339_ns("2024-05-06T07:08:09Z")


def test_from_stat(tmp_path: os.PathLike[str]) -> None:
    p = os.path.join(tmp_path, "f")
    with open(p, "wb") as f:
        f.write(b"12345")
    info = FileInfo.from_stat("f", os.lstat(p))
    assert info.size == 5 and info.is_regular and info.mtime_ns == os.lstat(p).st_mtime_ns
