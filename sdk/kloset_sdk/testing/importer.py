"""Importer conformance suite (docs/PROTOCOL.md: Importer) for any importer plugin.

Subclass and provide class-scoped `importer_argv`, `importer_config` and (optionally)
`expected_files` ({pathname: bytes}) fixtures, written as `@pytest.fixture(scope="class")`
over a `@classmethod`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from kloset_sdk import Record, modes
from kloset_sdk.harness import ImporterClient, ImportRun, PluginProcess

from .storage import assert_clean_error
from .suite import required_fixture

MiB = 1 << 20


def sample_tree() -> dict[str, bytes]:
    """A small source to seed a backend with ({relative path: content}): an empty file, a
    non-ASCII name, and files either side of the 1 MiB chunk, two levels deep (2 MiB)."""
    return {
        "empty": b"",
        "small.txt": b"hello\n",
        "with space é.txt": "héllo\n".encode(),
        "sub/one_mib": os.urandom(MiB),
        "sub/deeper/odd": os.urandom(MiB + 7),
    }


def write_tree(root: Path, files: dict[str, bytes]) -> dict[str, bytes]:
    """Write `files` under a local `root` (plus a symlink `link` -> small.txt) and return the
    `expected_files` of an importer whose pathnames are absolute local paths."""
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "link").symlink_to("small.txt")
    return {f"{root}/{rel}": data for rel, data in files.items()}


class ImporterConformance:
    proto: str = ""

    importer_argv = required_fixture("importer_argv", "the importer plugin's command line")

    importer_config = required_fixture("importer_config", "the importer's Init config")

    @pytest.fixture(scope="class")
    @classmethod
    def expected_files(cls) -> dict[str, bytes]:
        return {}

    @pytest.fixture(scope="class")
    @classmethod
    def import_run(cls, importer_argv: list[str], importer_config: dict[str, str]) -> ImportRun:
        with PluginProcess(importer_argv) as proc:
            client = ImporterClient(proc)
            ident = client.init(importer_config, proto=cls.proto, maxconcurrency=16)
            run = client.scan(keep_data=True, jobs=16)
            run.identity = ident
            client.close()
            assert proc.finish(10) == 0
        return run

    def _fresh(self, argv: list[str], config: dict[str, str]) -> Iterator[ImporterClient]:
        with PluginProcess(argv) as proc:
            client = ImporterClient(proc)
            client.init(config, proto=self.proto)
            yield client

    def test_finished_and_records(self, import_run: ImportRun) -> None:
        assert import_run.finished
        assert import_run.records

    def test_record_shapes(self, import_run: ImportRun) -> None:
        for item in import_run.records:
            rec = item.record
            if rec.error:
                assert rec.info is None
                continue
            if rec.is_xattr:
                assert rec.info is None and rec.xattr_type == 0 and rec.xattr_name, rec
                continue
            assert rec.info is not None, f"{rec.pathname}: no fileInfo (§9 item 10)"
            assert rec.pathname.startswith("/")
            if rec.target:
                assert rec.info.mode & modes.MODE_SYMLINK, rec.pathname
            if rec.info.mode & modes.MODE_SYMLINK:
                assert rec.target, rec.pathname
            if rec.info.is_regular:
                assert rec.has_reader, f"{rec.pathname}: regular file without reader"
            else:
                assert not rec.has_reader, f"{rec.pathname}: non-regular record with reader"

    def test_no_open_errors(self, import_run: ImportRun) -> None:
        assert not [i for i in import_run.records if i.open_error]

    def test_content_matches(self, import_run: ImportRun, expected_files: dict[str, bytes]) -> None:
        got = import_run.by_path()
        for path, data in expected_files.items():
            assert path in got, f"{path} not imported"
            item = got[path]
            assert item.data == data, f"{path}: content differs ({item.read} vs {len(data)} bytes)"
            info = item.record.info
            assert info is not None and info.size in (len(data), -1), path

    def test_unknown_and_double_open(
        self, importer_argv: list[str], importer_config: dict[str, str]
    ) -> None:
        for client in self._fresh(importer_argv, importer_config):
            sess = client.session()
            recs = list(sess)
            assert sess.finished
            with pytest.raises(grpc.RpcError) as ei:
                list(client.open(Record(pathname="/definitely/not/here")))
            assert_clean_error(ei.value)
            files = [r for r in recs if r.has_reader]
            if files:
                list(client.open(files[0]))
                with pytest.raises(grpc.RpcError):
                    list(client.open(files[0]))  # readers are single-use (§4.3)
            for r in reversed(recs):  # acks in any order (§9 item 19)
                sess.ack(r)
            sess.end()

    def test_statistics_run(
        self, importer_argv: list[str], importer_config: dict[str, str]
    ) -> None:
        """A second importer that only acks, never opens (§4.1)."""
        with PluginProcess(importer_argv) as proc:
            client = ImporterClient(proc)
            client.init(importer_config, proto=self.proto)
            run = client.scan(read=False)
            assert run.finished
            client.close()
            assert proc.finish(10) == 0

    def test_unknown_option_names_key(
        self, importer_argv: list[str], importer_config: dict[str, str]
    ) -> None:
        with PluginProcess(importer_argv) as proc:
            with pytest.raises(grpc.RpcError) as ei:
                ImporterClient(proc).init(
                    {**importer_config, "bogus_key_42": "x"}, proto=self.proto
                )
            assert_clean_error(ei.value)
            assert "bogus_key_42" in (ei.value.details() or "")
