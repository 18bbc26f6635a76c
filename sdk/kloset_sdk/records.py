"""Typed records <-> protobuf (docs/PROTOCOL.md: Records; the Go side is integration-grpc conv.go).

Connectors build `Record`s with the constructors below (`Record.file`, `.file_with_xattrs`,
`.directory`, `.symlink`, `.xattr`, `.failure`); the servicers do the proto conversion, so the
rules that the host enforces (fileInfo present unless error/xattr, xattr type 0, UTC ns
timestamps) hold once.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import IO

from . import modes
from ._pb import connectors_pb2 as pb

#: Go's zero time (0001-01-01T00:00:00Z) in Unix ns; kloset uses it for synthetic directories.
GO_ZERO_TIME_NS = -62135596800 * 1_000_000_000

XATTR_POSIX = 0  # kloset objects.Attribute numbering on the wire (pitfall P1)
XATTR_ADS = 1

Content = IO[bytes] | Iterable[bytes] | bytes
Opener = Callable[[], Content]


def _constant(value: bytes) -> Opener:
    return lambda: value


#: FileInfo fields the wire carries under the same name (the mtime travels as `mod_time`).
SAME_ON_WIRE = tuple("name size mode dev ino uid gid nlink username groupname flags".split())


@dataclass
class FileInfo:
    name: str
    size: int = 0
    mode: int = 0
    mtime_ns: int = 0
    dev: int = 0
    ino: int = 0
    uid: int = 0
    gid: int = 0
    nlink: int = 1
    username: str = ""
    groupname: str = ""
    flags: int = 0

    @classmethod
    def from_stat(
        cls, name: str, st: os.stat_result, username: str = "", groupname: str = ""
    ) -> FileInfo:
        return cls(
            name=name,
            size=st.st_size,
            mode=modes.from_st_mode(st.st_mode),
            mtime_ns=st.st_mtime_ns,
            dev=st.st_dev,
            ino=st.st_ino,
            uid=st.st_uid,
            gid=st.st_gid,
            nlink=st.st_nlink,
            username=username,
            groupname=groupname,
        )

    @property
    def mtime(self) -> _dt.datetime:
        secs, ns = divmod(self.mtime_ns, 1_000_000_000)
        base = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
        return base + _dt.timedelta(seconds=secs, microseconds=ns // 1000)

    @property
    def is_dir(self) -> bool:
        return modes.is_dir(self.mode)

    @property
    def is_symlink(self) -> bool:
        return modes.is_symlink(self.mode)

    @property
    def is_regular(self) -> bool:
        return modes.is_regular(self.mode)

    def to_proto(self) -> pb.FileInfo:
        secs, nanos = divmod(self.mtime_ns, 1_000_000_000)
        fi = pb.FileInfo(
            name=self.name,
            size=self.size,
            mode=self.mode & 0xFFFFFFFF,
            dev=self.dev & 0xFFFFFFFFFFFFFFFF,
            ino=self.ino & 0xFFFFFFFFFFFFFFFF,
            uid=self.uid & 0xFFFFFFFFFFFFFFFF,
            gid=self.gid & 0xFFFFFFFFFFFFFFFF,
            nlink=min(self.nlink, 0xFFFFFFFF),
            username=self.username,
            groupname=self.groupname,
            flags=self.flags,
        )
        fi.mod_time.seconds = secs
        fi.mod_time.nanos = nanos
        return fi

    @classmethod
    def from_proto(cls, fi: pb.FileInfo) -> FileInfo:
        ts = fi.mod_time
        same = {name: getattr(fi, name) for name in SAME_ON_WIRE}
        return cls(**same, mtime_ns=ts.seconds * 1_000_000_000 + ts.nanos)


def datetime_to_ns(when: _dt.datetime) -> int:
    """UTC ns since the epoch for an aware (or naive-as-UTC) datetime, exact to the microsecond."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    delta = when - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def parse_rfc3339_ns(text: str) -> int:
    """RFC 3339 (as Drive/Graph/S3 send it, up to ns digits) -> Unix ns, keeping every digit."""
    text = text.strip()
    frac_ns = 0
    if "." in text:
        head, rest = text.split(".", 1)
        digits = ""
        i = 0
        while i < len(rest) and rest[i].isdigit():
            digits += rest[i]
            i += 1
        tz = rest[i:]
        frac_ns = int((digits + "000000000")[:9]) if digits else 0
        text = head + tz
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    when = _dt.datetime.fromisoformat(text)
    return datetime_to_ns(when) + frac_ns


def format_rfc3339(ns: int, digits: int = 3) -> str:
    """Unix ns -> `2024-01-02T03:04:05.678Z` (ms by default, as Drive and Graph accept)."""
    secs, frac = divmod(ns, 1_000_000_000)
    when = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc) + _dt.timedelta(seconds=secs)
    base = when.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        base += "." + f"{frac:09d}"[:digits]
    return base + "Z"


@dataclass
class Record:
    """One entry of an import or export: file, directory, symlink, xattr or error."""

    pathname: str
    info: FileInfo | None = None
    target: str = ""
    error: str = ""
    xattr_name: str = ""
    xattr_type: int = XATTR_POSIX
    is_xattr: bool = False
    xattrs: list[str] = field(default_factory=list)
    file_attributes: int = 0
    opener: Opener | None = field(default=None, repr=False, compare=False)
    has_reader: bool = False

    # -- constructors used by connectors ------------------------------------------------------
    @classmethod
    def file(
        cls, pathname: str, info: FileInfo, opener: Opener, xattrs: Iterable[str] = ()
    ) -> Record:
        return cls(pathname, info, opener=opener, has_reader=True, xattrs=list(xattrs))

    @classmethod
    def file_with_xattrs(
        cls, pathname: str, info: FileInfo, opener: Opener, xattrs: Mapping[str, bytes]
    ) -> list[Record]:
        """A file record naming `xattrs`, then one xattr record per value, in name order.

        Each xattr record costs the host one more Open on every backup, even of an unchanged
        file, so a connector should send only the values a restore or a user needs.
        """
        names = sorted(xattrs)
        out = [cls.file(pathname, info, opener, xattrs=names)]
        out.extend(cls.xattr(pathname, n, _constant(xattrs[n])) for n in names)
        return out

    @classmethod
    def directory(cls, pathname: str, info: FileInfo, xattrs: Iterable[str] = ()) -> Record:
        info.mode |= modes.MODE_DIR
        return cls(pathname, info, xattrs=list(xattrs))

    @classmethod
    def symlink(
        cls, pathname: str, info: FileInfo, target: str, xattrs: Iterable[str] = ()
    ) -> Record:
        info.mode |= modes.MODE_SYMLINK
        return cls(pathname, info, target=target, xattrs=list(xattrs))

    @classmethod
    def other(cls, pathname: str, info: FileInfo) -> Record:
        """Devices, fifos, sockets: metadata only, no content."""
        return cls(pathname, info)

    @classmethod
    def xattr(
        cls, pathname: str, name: str, opener: Opener, xattr_type: int = XATTR_POSIX
    ) -> Record:
        return cls(
            pathname,
            None,
            xattr_name=name,
            xattr_type=xattr_type,
            is_xattr=True,
            opener=opener,
            has_reader=True,
        )

    @classmethod
    def failure(cls, pathname: str, error: str | BaseException) -> Record:
        if isinstance(error, BaseException):
            from .errors import status_of

            error = status_of(error)[1]
        return cls(pathname, None, error=error or "error")

    # -- properties ---------------------------------------------------------------------------
    @property
    def key(self) -> str:
        """The reader key used by Open and acks (docs/PROTOCOL.md: Importer)."""
        return reader_key(self.pathname, self.is_xattr, self.xattr_name, self.xattr_type)

    @property
    def is_error(self) -> bool:
        return bool(self.error)

    @property
    def is_dir(self) -> bool:
        return self.info is not None and self.info.is_dir

    @property
    def is_symlink(self) -> bool:
        return self.info is not None and (self.info.is_symlink or bool(self.target))

    @property
    def is_regular(self) -> bool:
        return self.info is not None and not self.error and self.info.is_regular

    def with_error(self, error: str) -> Record:
        return replace(self, error=error, opener=None)

    # -- wire ---------------------------------------------------------------------------------
    def to_proto(self) -> pb.Record:
        rec = pb.Record(
            pathname=self.pathname,
            error=self.error,
            isXattr=self.is_xattr,
            xattrName=self.xattr_name,
            xattrType=self.xattr_type,  # type: ignore[arg-type]
            target=self.target,
            extendedAttributes=self.xattrs,
            fileAttributes=self.file_attributes,
        )
        if not self.error and not self.is_xattr:
            rec.fileInfo.CopyFrom((self.info or FileInfo(name=basename(self.pathname))).to_proto())
        rec.hasReader = bool(
            not self.error
            and (self.has_reader or self.opener is not None)
            and (self.is_xattr or (self.info is not None and self.info.is_regular))
        )
        return rec

    @classmethod
    def from_proto(cls, rec: pb.Record) -> Record:
        info = FileInfo.from_proto(rec.fileInfo) if rec.HasField("fileInfo") else None
        return cls(
            pathname=rec.pathname,
            info=info,
            target=rec.target,
            error=rec.error,
            xattr_name=rec.xattrName,
            xattr_type=int(rec.xattrType),
            is_xattr=rec.isXattr,
            xattrs=list(rec.extendedAttributes),
            file_attributes=rec.fileAttributes,
            has_reader=rec.hasReader,
        )


def reader_key(pathname: str, is_xattr: bool, xattr_name: str, xattr_type: int) -> str:
    if not is_xattr:
        return pathname
    sep = "@" if xattr_type == XATTR_ADS else ":"
    return f"xattr:{pathname}{sep}{xattr_name}"


def key_of(rec: pb.Record) -> str:
    return reader_key(rec.pathname, rec.isXattr, rec.xattrName, int(rec.xattrType))


def basename(pathname: str) -> str:
    stripped = pathname.rstrip("/")
    return stripped.rsplit("/", 1)[-1] if stripped else "/"
