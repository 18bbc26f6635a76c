"""Exporter details on a real SeaweedFS: SSE-C and Content-MD5 through the transfer manager,
metadata applied from xattr records that carry the unstripped snapshot path, records S3
cannot hold, and a content stream cut short (nothing may be left behind)."""

from __future__ import annotations

import base64
import os

from kloset_sdk import FileInfo, Record
from kloset_sdk._pb import connectors_pb2 as cpb
from kloset_sdk._pb import exporter_pb2 as epb
from kloset_sdk.harness import ExporterClient, PluginProcess
from tests.conftest import plugin_argv
from tests.emulators.seaweedfs import SeaweedFS
from tests.integrations.s3.conftest import new_bucket, seaweed_config

MiB = 1 << 20


def file(path: str, size: int) -> Record:
    return Record.file(path, FileInfo(path.rsplit("/", 1)[-1], size=size, mode=0o600), bytes)


def test_sse_c_md5_multipart_and_metadata(seaweedfs: SeaweedFS) -> None:
    bucket, key = new_bucket(), os.urandom(32)
    cfg = seaweed_config(
        seaweedfs,
        bucket,
        "out",
        sse_customer_key=base64.b64encode(key).decode(),
        checksum="md5",
        part_size=str(5 * MiB),
        concurrency="2",
    )
    big, small = os.urandom(12 * MiB + 3), b"hello"
    items: list[tuple[Record, bytes | None]] = [
        (Record.directory("/", FileInfo("/", mode=0o700)), None),
        (Record.directory("/docs", FileInfo("docs", mode=0o700)), None),
        (file("/docs/big.bin", len(big)), big),
        (file("/docs/a.txt", len(small)), small),
        (Record.symlink("/docs/link", FileInfo("link", mode=0o777), "a.txt"), None),
    ]
    # xattrs come last, with the snapshot's full path (the restore started at /snap/base)
    for name, value in (
        ("user.s3.content_type", b"text/plain"),
        ("user.s3.meta.owner", b"alice"),
        ("user.s3.tags", b"team=a+b&k=v"),
        ("user.color", b"blue"),  # a POSIX xattr from a file system: ignored
    ):
        items.append((Record.xattr("/snap/base/docs/a.txt", name, bytes), value))
    with PluginProcess(plugin_argv("s3", "exporter")) as proc:
        exporter = ExporterClient(proc)
        exporter.init(cfg, proto="s3")
        run = exporter.export(items)
        exporter.close()
    errors = dict(run.errors)
    assert list(errors) == ["/docs/link"] and "symlink" in errors["/docs/link"]
    c = seaweedfs.client()
    sse = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}
    got = c.get_object(Bucket=bucket, Key="out/docs/big.bin", **sse)
    assert got["Body"].read() == big and "-" in got["ETag"]  # multipart
    head = c.head_object(Bucket=bucket, Key="out/docs/a.txt", **sse)
    assert head["ContentType"] == "text/plain" and head["Metadata"] == {"owner": "alice"}
    tags = c.get_object_tagging(Bucket=bucket, Key="out/docs/a.txt")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("k", "v"), ("team", "a b")]
    assert c.get_object(Bucket=bucket, Key="out/docs/a.txt", **sse)["Body"].read() == small
    keys = [o["Key"] for o in c.list_objects_v2(Bucket=bucket)["Contents"]]
    assert sorted(keys) == ["out/docs/a.txt", "out/docs/big.bin"]


def test_content_cut_short_leaves_nothing(seaweedfs: SeaweedFS) -> None:
    """The host stops in the middle of a file (no end-of-content marker): no object."""
    bucket = new_bucket()
    cfg = seaweed_config(seaweedfs, bucket, part_size=str(5 * MiB))
    for size in (2 * MiB, 11 * MiB):  # one PUT, a multipart upload
        rec = file(f"/cut-{size}", size).to_proto()
        rec.hasReader = True

        def requests(rec: cpb.Record = rec, size: int = size) -> list[epb.ExportRequest]:
            chunks = [epb.ExportRequest(chunk=os.urandom(MiB)) for _ in range(size // MiB - 1)]
            return [epb.ExportRequest(record=rec), *chunks]  # ... and no terminator

        with PluginProcess(plugin_argv("s3", "exporter")) as proc:
            exporter = ExporterClient(proc)
            exporter.init(cfg, proto="s3")
            run = exporter.export_raw(requests())
        assert [p for p, _ in run.errors] == [f"/cut-{size}"]
    c = seaweedfs.client()
    assert "Contents" not in c.list_objects_v2(Bucket=bucket)
    assert not c.list_multipart_uploads(Bucket=bucket).get("Uploads")
