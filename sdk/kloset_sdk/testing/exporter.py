"""Exporter conformance suite (docs/PROTOCOL.md: Exporter) for any exporter plugin.

Subclass and provide class-scoped `exporter_argv`, `exporter_config` (a fresh, empty target)
and `read_back` (a callable: restored pathname -> bytes, or None if absent) fixtures, each as
`@pytest.fixture(scope="class")` over a `@classmethod`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kloset_sdk import FileInfo, Flag, Record
from kloset_sdk._pb import connectors_pb2 as cpb
from kloset_sdk._pb import exporter_pb2 as epb
from kloset_sdk.harness import ExporterClient, PluginProcess
from kloset_sdk.records import GO_ZERO_TIME_NS

from .suite import required_fixture

MiB = 1 << 20
ReadBack = Callable[[str], "bytes | None"]


def read_back_dir(target: Path) -> ReadBack:
    """A `read_back` for an exporter that writes into a local directory (or a server whose
    files the test can reach): a regular file's bytes, None for anything else or nothing."""

    def read(path: str) -> bytes | None:
        p = target / path.lstrip("/")
        return p.read_bytes() if p.is_file() and not p.is_symlink() else None

    return read


def file_rec(path: str, size: int, mtime_ns: int | None = None) -> Record:
    info = FileInfo(
        path.rsplit("/", 1)[-1],
        size=size,
        mode=0o644,
        mtime_ns=mtime_ns if mtime_ns is not None else time.time_ns(),
    )
    return Record(path, info, has_reader=True)


def dir_rec(path: str) -> Record:
    return Record.directory(
        path, FileInfo(path.rsplit("/", 1)[-1] or "/", mode=0o755, mtime_ns=time.time_ns())
    )


class ExporterConformance:
    proto: str = ""
    #: Whether the backend keeps extended attributes (sets EXPORTXATTR in Init).
    exports_xattrs: bool = False

    exporter_argv = required_fixture("exporter_argv", "the exporter plugin's command line")

    exporter_config = required_fixture(
        "exporter_config", "the Init config of a fresh, empty target"
    )

    read_back = required_fixture("read_back", "restored pathname -> bytes, or None if absent")

    @pytest.fixture(scope="class")
    @classmethod
    def exporter(
        cls, exporter_argv: list[str], exporter_config: dict[str, str]
    ) -> Iterator[ExporterClient]:
        with PluginProcess(exporter_argv) as proc:
            client = ExporterClient(proc)
            client.identity = client.init(exporter_config, proto=cls.proto)  # type: ignore[attr-defined]
            yield client
            client.close()

    def test_files_of_every_size(self, exporter: ExporterClient, read_back: ReadBack) -> None:
        blobs = {
            f"/sizes/f{n}.bin": os.urandom(n) for n in (0, 1, MiB - 1, MiB, MiB + 1, 5 * MiB + 3)
        }
        blobs["/sizes/with space é ü.txt"] = "héllo wörld\n".encode()
        items: list[tuple[Record, bytes | None]] = [(dir_rec("/"), None), (dir_rec("/sizes"), None)]
        items += [(file_rec(p, len(d)), d) for p, d in blobs.items()]
        run = exporter.export(items)
        assert not run.errors, run.errors
        assert len(run.results) == len(items)
        for path, data in blobs.items():
            assert read_back(path) == data, path

    def test_empty_file_by_terminator(self, exporter: ExporterClient, read_back: ReadBack) -> None:
        rec = file_rec("/empty-term.txt", 0).to_proto()
        rec.hasReader = True
        run = exporter.export_raw([epb.ExportRequest(record=rec), epb.ExportRequest(chunk=b"")])
        assert not run.errors, run.errors
        assert read_back("/empty-term.txt") == b""

    def test_go_zero_mtime(self, exporter: ExporterClient, read_back: ReadBack) -> None:
        run = exporter.export([(file_rec("/zero-time.txt", 2, GO_ZERO_TIME_NS), b"zt")])
        assert not run.errors, run.errors
        assert read_back("/zero-time.txt") == b"zt"

    def test_sequential_streams(self, exporter: ExporterClient, read_back: ReadBack) -> None:
        for i in range(3):
            run = exporter.export([(file_rec(f"/seq{i}.txt", 1), str(i).encode())])
            assert not run.errors, run.errors
        assert [read_back(f"/seq{i}.txt") for i in range(3)] == [b"0", b"1", b"2"]

    def test_missing_terminator_commits_nothing(
        self, exporter: ExporterClient, read_back: ReadBack
    ) -> None:
        rec = file_rec("/truncated.bin", 3 * MiB).to_proto()
        rec.hasReader = True
        reqs = [epb.ExportRequest(record=rec), epb.ExportRequest(chunk=os.urandom(MiB))]
        run = exporter.export_raw(reqs)  # half-close in the middle of the file
        errs = dict(run.errors)
        assert "/truncated.bin" in errs, run.results
        assert read_back("/truncated.bin") is None

    def test_stray_chunk_reported_and_stream_goes_on(
        self, exporter: ExporterClient, read_back: ReadBack
    ) -> None:
        after = file_rec("/after-stray.txt", 5).to_proto()
        after.hasReader = True
        run = exporter.export_raw(
            [
                epb.ExportRequest(chunk=b"orphan"),
                epb.ExportRequest(record=after),
                epb.ExportRequest(chunk=b"hello"),
                epb.ExportRequest(chunk=b""),
            ]
        )
        assert any(e for _, e in run.results if e)
        assert read_back("/after-stray.txt") == b"hello"

    def test_xattr_capability(self, exporter: ExporterClient) -> None:
        """The EXPORTXATTR flag is what the backend declares (`exports_xattrs`): the host sends
        xattr records only to an exporter that sets it (§5.3), and then they must be taken."""
        ident = exporter.identity  # type: ignore[attr-defined]
        flagged = bool(ident.flags & Flag.EXPORTXATTR)
        assert flagged == self.exports_xattrs, (
            f"Init answers EXPORTXATTR={flagged}, the suite declares exports_xattrs="
            f"{self.exports_xattrs}"
        )
        if not flagged:
            return  # declared: this backend keeps no xattrs, the host sends it none
        run = exporter.export(
            [(file_rec("/x.txt", 1), b"x"), (Record.xattr("/x.txt", "user.k", lambda: b""), b"v")]
        )
        assert len(run.results) == 2
        assert run.results[1][0].is_xattr

    def test_result_headers_complete(self, exporter: ExporterClient) -> None:
        run = exporter.export_raw(
            [epb.ExportRequest(record=cpb.Record(pathname="/nofileinfo-dir"))]
        )
        assert len(run.results) == 1  # export_raw asserts fileInfo on every non-error header
