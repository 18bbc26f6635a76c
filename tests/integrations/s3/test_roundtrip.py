"""Import a bucket, export it into another: keys, bytes, content-types, metadata and tags survive.

Both legs run through plugin processes driven by the harness as Plakar drives them: the
importer's records and content are collected (ImporterClient.scan), then replayed in export
order, tree first and xattrs last (ExporterClient.export), as kloset's restore does.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

from kloset_sdk import Record
from kloset_sdk.harness import ExporterClient, ImporterClient, ImportRun, PluginProcess
from tests.conftest import plugin_argv
from tests.emulators.seaweedfs import SeaweedFS
from tests.integrations.s3.conftest import Moto, new_bucket, seaweed_config

MiB = 1 << 20
TYPES = ["text/plain", "image/png", "application/json", "", "application/x-custom; v=1"]


@dataclass
class Obj:
    data: bytes
    content_type: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    tags: list[dict[str, str]] = field(default_factory=list)


def make_bucket(client: Any, bucket: str, count: int, seed: int = 4) -> dict[str, Obj]:
    """`count` objects under nested prefixes, 0-byte and 20 MiB ones, metadata, tags, markers."""
    rnd = random.Random(seed)
    objs: dict[str, Obj] = {}
    for i in range(count):
        depth = i % 4
        parts = [f"d{(i * 7 + j) % 5}" for j in range(depth)]
        key = "/".join([*parts, f"f{i:04d}.bin"])
        size = 0 if i % 97 == 0 else rnd.randrange(1, 3000)
        if i in (4, 1236):
            size = 20 * MiB
        obj = Obj(os.urandom(size), TYPES[i % len(TYPES)])
        if i % 3 == 0:
            obj.metadata = {"owner": f"user{i % 11}", "n": str(i)}
        if i % 4 == 0:
            obj.tags = [{"Key": "team", "Value": f"t {i % 3}"}, {"Key": "id", "Value": str(i)}]
        objs[key] = obj
    client.create_bucket(Bucket=bucket)

    def put(item: tuple[str, Obj]) -> None:
        key, o = item
        args: dict[str, Any] = {"Metadata": o.metadata}
        if o.content_type:
            args["ContentType"] = o.content_type
        if o.tags:
            args["Tagging"] = "&".join(
                f"{t['Key']}={t['Value']}".replace(" ", "%20") for t in o.tags
            )
        client.put_object(Bucket=bucket, Key=key, Body=o.data, **args)

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(put, objs.items()))
    for marker in ("d1/", "d2/d3/", "only-a-marker/"):
        client.put_object(Bucket=bucket, Key=marker, Body=b"")
    return objs


def import_then_export(src: dict[str, str], dst: dict[str, str], **export_kw: Any) -> ImportRun:
    with PluginProcess(plugin_argv("s3", "importer")) as proc:
        importer = ImporterClient(proc)
        importer.init(src, proto="s3", maxconcurrency=16)
        run = importer.scan(keep_data=True)
        importer.close()
    assert run.finished and not run.errors, run.errors[:5]
    tree = sorted(
        (r for r in run.records if not r.record.is_xattr), key=lambda r: r.record.pathname
    )
    xattrs = [r for r in run.records if r.record.is_xattr]
    items: list[tuple[Record, bytes | None]] = [
        (r.record, r.data if r.record.is_regular else None) for r in tree
    ]
    items += [(r.record, r.data) for r in xattrs]
    with PluginProcess(plugin_argv("s3", "exporter")) as proc:
        exporter = ExporterClient(proc)
        ident = exporter.init(dst, proto="s3", **export_kw)
        assert ident.flags & 32  # EXPORTXATTR: the host sends the metadata xattrs
        result = exporter.export(items)
        exporter.close()
    assert not result.errors, result.errors[:5]
    return run


@dataclass(frozen=True)
class Seen:
    md5: str
    content_type: str
    metadata: dict[str, str]
    tags: list[dict[str, str]]


def restored(client: Any, bucket: str, prefix: str = "") -> dict[str, Seen]:
    """What a bucket holds, with few requests: the listed ETag is the MD5 of a single-part
    object (a GET only for multipart ones), HEAD gives type, metadata and tag count, and tags
    are read only where the count says there are some."""
    listing = {
        o["Key"][len(prefix) :]: o
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for o in page.get("Contents", [])
    }

    def fetch(key: str) -> tuple[str, Seen]:
        full = prefix + key
        md5 = listing[key]["ETag"].strip('"')
        if "-" in md5:
            body = client.get_object(Bucket=bucket, Key=full)["Body"].read()
            md5 = hashlib.md5(body).hexdigest()
        head = client.head_object(Bucket=bucket, Key=full)
        tags = []
        if head.get("TagCount"):
            tags = client.get_object_tagging(Bucket=bucket, Key=full)["TagSet"]
        tags = sorted(tags, key=lambda t: t["Key"])
        return key, Seen(md5, head.get("ContentType", ""), head["Metadata"], tags)

    with ThreadPoolExecutor(32) as pool:
        return dict(pool.map(fetch, listing))


def expected(objs: dict[str, Obj], default_type: Callable[[str], str]) -> dict[str, Seen]:
    return {
        k: Seen(
            hashlib.md5(o.data).hexdigest(),
            o.content_type or default_type(k),
            o.metadata,
            sorted(o.tags, key=lambda t: t["Key"]),
        )
        for k, o in objs.items()
    }


def test_bucket_roundtrip_2500_keys(seaweedfs: SeaweedFS) -> None:
    src, dst = new_bucket(), new_bucket()
    client = seaweedfs.client(max_pool_connections=40)
    objs = make_bucket(client, src, 2500)
    untyped = [k for k, o in objs.items() if not o.content_type]
    with ThreadPoolExecutor(32) as pool:
        heads = pool.map(lambda k: client.head_object(Bucket=src, Key=k)["ContentType"], untyped)
        source_types = dict(zip(untyped, heads, strict=True))
    run = import_then_export(
        seaweed_config(seaweedfs, src),
        seaweed_config(seaweedfs, dst, "restored", concurrency="8"),
        maxconcurrency=16,
    )
    # the import: files with their sizes and xattrs, directories made up from prefixes
    files = run.by_path()
    for key, o in objs.items():
        assert files["/" + key].read == len(o.data), key
    assert sum(1 for o in objs.values() if not o.data) > 10
    assert sum(1 for o in objs.values() if len(o.data) == 20 * MiB) == 2
    assert files["/d1"].record.is_dir and files["/d2/d3"].record.is_dir
    assert files["/only-a-marker"].record.is_dir and "/only-a-marker/" not in files
    assert files["/"].record.is_dir
    assert sum(1 for r in files.values() if r.record.is_regular) == 2500
    xa = run.xattrs()
    assert sorted((xa[("/f0000.bin", "user.s3.tags")].data or b"").split(b"&")) == [
        b"id=0",
        b"team=t+0",
    ]
    assert xa[("/f0000.bin", "user.s3.meta.owner")].data == b"user0"
    # the export: the same objects under the prefix, markers aside (S3 has no directories)
    got = restored(client, dst, "restored/")
    want = expected(objs, lambda k: source_types[k])
    assert got.keys() == want.keys()
    for key in want:
        assert got[key] == want[key], key


@pytest.mark.parametrize("prefix", ["", "p/q"])
def test_odd_keys_survive(moto: Moto, prefix: str) -> None:
    """Keys SeaweedFS refuses but AWS accepts (`//`, `./`, `..`, leading `/`), on moto."""
    src, dst = new_bucket(), new_bucket()
    client = moto.client()
    client.create_bucket(Bucket=src)
    keys = ["a//b", "/lead", "./dot", "x/../y", "sp ace/\u00fc\u65e5.txt", "%41+?&=#", "q/deep/z"]
    for i, key in enumerate(keys):
        client.put_object(Bucket=src, Key=key, Body=f"body {i}".encode())
    run = import_then_export(moto.config(src), moto.config(dst, prefix))
    paths = {r.record.pathname for r in run.records if r.record.is_regular}
    assert "/a/\uff0f/b" in paths and "/\uff0f/lead" in paths and "/x/\uff0e\uff0e/y" in paths
    got = restored(client, dst, prefix + "/" if prefix else "")
    assert sorted(got) == sorted(keys)
    for i, key in enumerate(keys):
        assert got[key].md5 == hashlib.md5(f"body {i}".encode()).hexdigest()


def test_import_of_a_prefix_and_of_one_object(moto: Moto) -> None:
    src = new_bucket()
    client = moto.client()
    client.create_bucket(Bucket=src)
    for key in ("photos/2024/a.jpg", "photos/2024/b.jpg", "photos2/c.jpg", "other.txt"):
        client.put_object(Bucket=src, Key=key, Body=key.encode())
    for location, want in (
        ("photos", {"/photos/2024/a.jpg", "/photos/2024/b.jpg"}),
        ("other.txt", {"/other.txt"}),
    ):
        with PluginProcess(plugin_argv("s3", "importer")) as proc:
            importer = ImporterClient(proc)
            ident = importer.init(moto.config(src, location, metadata="false"), proto="s3")
            run = importer.scan(keep_data=True)
        assert ident.root == "/" + location
        by_path = run.by_path()
        assert {p for p, r in by_path.items() if r.record.is_regular} == want
        assert {p for p, r in by_path.items() if r.record.is_dir} >= {"/"}
        assert not run.xattrs()  # metadata=false: no HEAD, no tags
        for path in want:
            assert by_path[path].data == path[1:].encode()
