"""Keys <-> pathnames and metadata <-> xattrs, both ways (the importer/exporter contract)."""

from __future__ import annotations

import datetime as dt

import pytest

from kloset_s3.mapping import (
    decode_tags,
    encode_tags,
    key_to_path,
    path_to_key,
    prefix_to_path,
    restore_args,
    xattrs_of,
)
from kloset_sdk import ProtocolError


@pytest.mark.parametrize(
    "key,path",
    [
        ("a.txt", "/a.txt"),
        ("photos/2024/img 1.jpg", "/photos/2024/img 1.jpg"),
        ("a//b", "/a/\uff0f/b"),
        ("/lead", "/\uff0f/lead"),
        ("./x", "/\uff0e/x"),
        ("x/../y", "/x/\uff0e\uff0e/y"),
        ("caf\u00e9/\u65e5\u672c/%20+?&=", "/caf\u00e9/\u65e5\u672c/%20+?&="),
        ("..../...", "/..../..."),
    ],
)
def test_key_path_roundtrip(key: str, path: str) -> None:
    assert key_to_path(key) == path
    assert path_to_key(path) == key


def test_prefix_to_path() -> None:
    assert prefix_to_path("") == "/"
    assert prefix_to_path("a/b/") == "/a/b"
    assert prefix_to_path("a//") == "/a/\uff0f"


@pytest.mark.parametrize("bad", ["relative", "/a/../b", "/a//b", "/a/./b", "/a/"])
def test_unclean_pathnames_refused(bad: str) -> None:
    with pytest.raises(ProtocolError):
        path_to_key(bad)


def test_xattrs_roundtrip() -> None:
    head = {
        "ContentType": "image/jpeg",
        "CacheControl": "max-age=60",
        "ContentEncoding": "",
        "Metadata": {"Camera": "X100", "note": "caf\u00e9 & co"},
        "LastModified": dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
    }
    tags = [{"Key": "team", "Value": "a b"}, {"Key": "k&=", "Value": "v=1&2"}]
    xa = xattrs_of(head, tags, "STANDARD_IA")
    assert xa["user.s3.content_type"] == b"image/jpeg"
    assert "user.s3.content_encoding" not in xa  # empty headers are left out
    assert xa["user.s3.meta.camera"] == b"X100"
    assert xa["user.s3.storage_class"] == b"STANDARD_IA"
    args, got_tags = restore_args(xa)
    assert args == {
        "ContentType": "image/jpeg",
        "CacheControl": "max-age=60",
        "Metadata": {"camera": "X100", "note": "caf\u00e9 & co"},
    }
    assert got_tags == tags
    assert decode_tags(xa["user.s3.tags"].decode()) == tags


def test_tags_encoding_is_the_tagging_header() -> None:
    assert encode_tags([{"Key": "a", "Value": "b c"}, {"Key": "e", "Value": ""}]) == "a=b+c&e="
    assert decode_tags("a=b%20c&e=") == [{"Key": "a", "Value": "b c"}, {"Key": "e", "Value": ""}]
