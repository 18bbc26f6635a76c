"""How S3 objects map to records and back: keys <-> pathnames, metadata <-> xattrs.

Pathnames. An object's pathname is `/` + its full key (the Go importer does the same), split
on `/`. S3 keys may hold segments no POSIX path can: empty ones (`a//b`, `/lead`), `.` and
`..`. Those segments, and only those, are written with fullwidth look-alikes (rclone's
convention): empty -> `／` (U+FF0F), `.` -> `．` (U+FF0E), `..` -> `．．`. The exporter
turns them back, so `a//b` survives a backup and a restore. The one ambiguity: a key whose
segment really is `／`, `．` or `．．` is restored as the segment it stands for.

Xattrs (`user.s3.*`, POSIX type, value = UTF-8 text), from HEAD, GetObjectTagging and the
listing, restored by the exporter:

| name | value | restored |
|---|---|---|
| `user.s3.content_type` | Content-Type | yes |
| `user.s3.cache_control` (also `content_disposition`, `_encoding`, `_language`) | header | yes |
| `user.s3.meta.<key>` | one user metadata value (`x-amz-meta-<key>`, lower case) | yes |
| `user.s3.tags` | the tag set, URL-encoded as `x-amz-tagging` (`k=v&k2=v2`) | yes |
| `user.s3.storage_class` | the class, unless STANDARD | no: new objects get the bucket default |
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from kloset_sdk import ProtocolError

XATTR_PREFIX = "user.s3."
META_PREFIX = "user.s3.meta."
TAGS = "user.s3.tags"
STORAGE_CLASS = "user.s3.storage_class"
#: xattr name -> (HeadObject response field, CopyObject/PutObject parameter).
HEADERS = {
    "user.s3.content_type": "ContentType",
    "user.s3.cache_control": "CacheControl",
    "user.s3.content_disposition": "ContentDisposition",
    "user.s3.content_encoding": "ContentEncoding",
    "user.s3.content_language": "ContentLanguage",
}

_ENCODE = {"": "\uff0f", ".": "\uff0e", "..": "\uff0e\uff0e"}
_DECODE = {v: k for k, v in _ENCODE.items()}


def key_to_path(key: str) -> str:
    """`photos/2024/a.jpg` -> `/photos/2024/a.jpg`; odd segments as described above."""
    return "/" + "/".join(_ENCODE.get(seg, seg) for seg in key.split("/"))


def prefix_to_path(prefix: str) -> str:
    """A directory prefix (`a/b/`, or `` for the bucket root) as its pathname."""
    if not prefix:
        return "/"
    return key_to_path(prefix[:-1] if prefix.endswith("/") else prefix)


def path_to_key(pathname: str) -> str:
    """The inverse of key_to_path for a pathname sent by the host (relative to the target).

    A pathname is absolute and clean; `.`/`..`/empty segments cannot come from a snapshot and
    would be read differently by other tools, so they are refused rather than guessed at.
    """
    if pathname == "/":
        return ""
    segs = pathname.split("/")
    if segs[0] or any(s in ("", ".", "..") for s in segs[1:]):
        raise ProtocolError(f"{pathname!r}: not a clean absolute pathname")
    return "/".join(_DECODE.get(s, s) for s in segs[1:])


def basename(key: str) -> str:
    seg = key.rsplit("/", 1)[-1]
    return _ENCODE.get(seg, seg)


def xattrs_of(
    head: Mapping[str, Any], tags: list[dict[str, str]], storage_class: str
) -> dict[str, bytes]:
    """The `user.s3.*` xattrs of one object (empty values are left out)."""
    out: dict[str, bytes] = {}
    for name, field in HEADERS.items():
        value = head.get(field)
        if value:
            out[name] = str(value).encode()
    for key, value in sorted((head.get("Metadata") or {}).items()):
        out[META_PREFIX + key.lower()] = str(value).encode()
    if tags:
        out[TAGS] = encode_tags(tags).encode()
    if storage_class and storage_class != "STANDARD":  # the default says nothing: one Open less
        out[STORAGE_CLASS] = storage_class.encode()
    return out


def encode_tags(tags: list[dict[str, str]]) -> str:
    return urlencode([(t["Key"], t["Value"]) for t in tags])


def decode_tags(text: str) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in parse_qsl(text, keep_blank_values=True)]


def restore_args(xattrs: Mapping[str, bytes]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """(CopyObject/PutObject header parameters incl. Metadata, tag set) from captured xattrs."""
    args: dict[str, Any] = {}
    meta: dict[str, str] = {}
    tags: list[dict[str, str]] = []
    for name, raw in xattrs.items():
        value = raw.decode("utf-8", errors="replace")
        if name in HEADERS:
            args[HEADERS[name]] = value
        elif name.startswith(META_PREFIX) and len(name) > len(META_PREFIX):
            meta[name[len(META_PREFIX) :]] = value
        elif name == TAGS:
            tags = decode_tags(value)
    if meta:
        args["Metadata"] = meta
    return args, tags
