"""Importer tree rules, in-process on moto: synthesised directories and their mtimes, folder
markers, the empty bucket, and listing in parallel across many prefixes; on SeaweedFS, which
tags are fetched."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from kloset_s3.importer import S3Importer
from kloset_s3.options import S3Options
from kloset_sdk import Record
from kloset_sdk.connector import InitContext
from kloset_sdk.options import parse
from tests.emulators.seaweedfs import SeaweedFS
from tests.integrations.s3.conftest import Moto, new_bucket, seaweed_config


def operation(method: str, url: str) -> str:
    """The S3 operation of a request, for the ones these tests count."""
    query = urlsplit(url).query
    if method == "HEAD":
        return "HeadObject"
    if method == "GET" and query.startswith("tagging"):
        return "GetObjectTagging"
    if method == "GET" and "list-type=2" in query:
        return "ListObjectsV2"
    return f"{method} {query}"


def records(cfg: dict[str, str], ops: list[str] | None = None) -> dict[str, Record]:
    """Every record by path (xattrs as path#name); `ops` collects the S3 operations sent."""
    imp = S3Importer(parse(S3Options, cfg, "importer"), InitContext("importer", "s3", cfg))
    if ops is not None:  # counted where every request leaves, botocore's or the quick HEAD's
        session = imp.s3.raw._endpoint.http_session
        send = session.send

        def watch(request: Any) -> Any:
            ops.append(operation(request.method, request.url))
            return send(request)

        session.send = watch
    out = {}
    for rec in imp.records():
        key = rec.pathname + ("#" + rec.xattr_name if rec.is_xattr else "")
        assert key not in out, f"{key} emitted twice"
        out[key] = rec
    return out


def test_directories_take_the_newest_mtime_below(moto: Moto) -> None:
    bucket = new_bucket()
    c = moto.client()
    c.create_bucket(Bucket=bucket)
    c.put_object(Bucket=bucket, Key="a/old.txt", Body=b"1")
    c.put_object(Bucket=bucket, Key="marker-only/", Body=b"")
    time.sleep(1.1)  # LastModified has a 1 s resolution on some servers
    c.put_object(Bucket=bucket, Key="a/b/new.txt", Body=b"22", StorageClass="STANDARD_IA")
    recs = records(moto.config(bucket))
    mtime = {p: r.info.mtime_ns for p, r in recs.items() if r.info is not None}
    assert mtime["/a"] == mtime["/a/b"] == mtime["/a/b/new.txt"] == mtime["/"]
    assert mtime["/a/old.txt"] < mtime["/a"]
    assert recs["/marker-only"].is_dir and mtime["/marker-only"] > 0
    assert recs["/a/b/new.txt"].info.size == 2  # type: ignore[union-attr]
    assert recs["/a/b/new.txt"].info.mode == 0o600  # type: ignore[union-attr]
    assert recs["/a"].info.mode & 0o777 == 0o700  # type: ignore[union-attr]
    assert "/a/b/new.txt#user.s3.storage_class" in recs  # not STANDARD: kept
    assert "/a/old.txt#user.s3.storage_class" not in recs  # STANDARD says nothing


def test_empty_bucket_is_a_root_with_the_bucket_time(moto: Moto) -> None:
    bucket = new_bucket()
    moto.client().create_bucket(Bucket=bucket)
    recs = records(moto.config(bucket))
    assert list(recs) == ["/"]
    assert recs["/"].is_dir and recs["/"].info.mtime_ns > 0  # type: ignore[union-attr]


def test_many_prefixes_listed_in_parallel(moto: Moto) -> None:
    bucket = new_bucket()
    c = moto.client()
    c.create_bucket(Bucket=bucket)
    keys = [f"p{i % 7}/q{i % 5}/r{i % 3}/k{i}" for i in range(120)]
    for k in keys:
        c.put_object(Bucket=bucket, Key=k, Body=k.encode())
    recs = records(moto.config(bucket, concurrency="2", metadata="false"))
    files = {p for p, r in recs.items() if r.is_regular}
    assert files == {"/" + k for k in keys}
    dirs = {p for p, r in recs.items() if r.is_dir}
    assert {"/", "/p0", "/p0/q0", "/p6/q4/r2"} <= dirs


def test_a_server_that_counts_tags_is_not_asked_for_those_of_untagged_objects(
    seaweedfs: SeaweedFS,
) -> None:
    bucket = new_bucket()
    c = seaweedfs.client()
    c.create_bucket(Bucket=bucket)
    for i in range(20):
        c.put_object(Bucket=bucket, Key=f"plain{i}", Body=b"x")  # listed first
    c.put_object(Bucket=bucket, Key="z/tagged", Body=b"y", Tagging="team=ops")
    ops: list[str] = []
    recs = records(seaweed_config(seaweedfs, bucket), ops)
    assert ops.count("HeadObject") == 21
    assert ops.count("GetObjectTagging") == 1  # only the object whose HEAD counts a tag
    opener = recs["/z/tagged#user.s3.tags"].opener
    assert opener is not None and opener() == b"team=ops"
