from __future__ import annotations

import io

import pytest

import kloset_sdk
from kloset_sdk import ConfigError, parse_location
from kloset_sdk.chunks import ChunkStream, iter_chunks, part_size_for
from kloset_sdk.errors import ProtocolError

MiB = 1 << 20


#: The public API, written out: a name added to or dropped from kloset_sdk fails this test.
PUBLIC_API = {
    "CHUNK_SIZE",
    "AlreadyExists",
    "ChunkStream",
    "ConfigError",
    "Connector",
    "Exporter",
    "Fatal",
    "FileInfo",
    "Flag",
    "Identity",
    "Importer",
    "InitContext",
    "KlosetError",
    "Location",
    "NotFound",
    "PermissionDenied",
    "ProtocolError",
    "QuotaExceeded",
    "Record",
    "Resource",
    "Storage",
    "Throttled",
    "iter_chunks",
    "modes",
    "option",
    "parse_location",
    "serve",
}
SUBMODULES = {
    "chunks",
    "connector",
    "entrypoint",
    "errors",
    "exporter",
    "getstream",
    "importer",
    "http",
    "layout",
    "lazy",
    "memory",
    "objectstore",
    "readahead",
    "location",
    "log",
    "modes",
    "options",
    "records",
    "storage",
    "retry",
    "servicer",
    "testing",
    "oauth",
    "registry",
    "common_options",
    "harness",
    "transport",
    "uploads",
    "walk",
    "statedb",
    "examples",
    "plugin",
}


def test_public_api_is_pinned() -> None:
    assert set(kloset_sdk.__all__) == PUBLIC_API
    public = {n for n in dir(kloset_sdk) if not n.startswith("_")} - {"annotations"}
    assert public - SUBMODULES == PUBLIC_API - {"modes"}
    assert kloset_sdk.CHUNK_SIZE == 1 << 20  # chunk limit (docs/PROTOCOL.md: Messages and limits)


def test_iter_chunks_rules() -> None:
    data = b"x" * (3 * MiB + 5)
    for src in (data, io.BytesIO(data), [data[:10], b"", data[10:]]):
        chunks = list(iter_chunks(src))
        assert b"".join(chunks) == data
        assert all(0 < len(c) <= MiB for c in chunks)
    assert list(iter_chunks(b"")) == []


def test_chunkstream_raises_on_truncation() -> None:
    parts = [b"abc", b"def"]

    def nxt() -> bytes | None:
        if parts:
            return parts.pop(0)
        raise ProtocolError("unexpected EOF")

    s = ChunkStream(nxt)
    assert s.read(4) == b"abcd"
    with pytest.raises(ProtocolError):
        s.read()


def test_part_size() -> None:
    assert part_size_for(None, 5 * MiB, 10_000, 16 * MiB) == 16 * MiB
    assert part_size_for(1 << 40, 5 * MiB, 10_000, 16 * MiB) * 10_000 >= 1 << 40


def test_locations() -> None:
    loc = parse_location("sftp://bob@host.example:2222/srv/backup dir")
    assert (loc.proto, loc.user, loc.host, loc.port, loc.path) == (
        "sftp",
        "bob",
        "host.example",
        2222,
        "/srv/backup dir",
    )
    assert parse_location("s3://minio:9000/bucket/pre").path_parts == ["bucket", "pre"]
    with pytest.raises(ConfigError) as ei:
        parse_location("not a location")
    assert ei.value.key == "location"
    with pytest.raises(ConfigError):
        parse_location("s3://h/b", expect="sftp")
    with pytest.raises(ConfigError):
        parse_location("sftp://host:notaport/x")
