"""Wire compatibility with grpc-go (Plakar's stack): gohost drives the s3 plugins on SeaweedFS."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from tests.conftest import plugin_argv, run_gohost
from tests.emulators.seaweedfs import SeaweedFS
from tests.integrations.s3.conftest import new_bucket, seaweed_config

MiB = 1 << 20


def check_store(res: dict[str, object]) -> None:
    assert res["ok"], {k: v for k, v in res.items() if k != "_stderr"}
    checks = res["checks"]
    assert isinstance(checks, dict) and all(v == "ok" for v in checks.values()), checks


def test_gohost_store_16mib_packfiles(seaweedfs: SeaweedFS) -> None:
    cfg = seaweed_config(seaweedfs, new_bucket(), "repo")
    res = run_gohost("store", plugin_argv("s3", "storage"), "s3", cfg)
    check_store(res)
    assert res["type"] == "s3" and res["origin"] == seaweedfs.host_port


def test_gohost_store_200mib_packfiles(seaweedfs: SeaweedFS) -> None:
    cfg = seaweed_config(seaweedfs, new_bucket())
    res = run_gohost(
        "store", plugin_argv("s3", "storage"), "s3", cfg, "-n", "2", "-size", str(200 * MiB)
    )
    check_store(res)


def test_gohost_import(seaweedfs: SeaweedFS, tmp_path: Path) -> None:
    bucket = new_bucket()
    client = seaweedfs.client()
    client.create_bucket(Bucket=bucket)
    files = {f"dir{i % 3}/sub/f{i}.txt": os.urandom(i * 1000) for i in range(30)}
    files["big.bin"] = os.urandom(9 * MiB)
    for key, data in files.items():
        client.put_object(Bucket=bucket, Key=key, Body=data, ContentType="text/x-test")
    out = tmp_path / "records.jsonl"
    res = run_gohost(
        "import",
        plugin_argv("s3", "importer"),
        "s3",
        seaweed_config(seaweedfs, bucket),
        "-j",
        "8",
        "-out",
        str(out),
    )
    assert res["ok"] and res["errors"] == 0, res
    lines = [json.loads(ln) for ln in out.read_text().splitlines()]
    by_path = {ln["path"]: ln for ln in lines if not ln.get("xattr")}
    for key, data in files.items():
        assert by_path["/" + key]["read"] == len(data)
        if data:
            assert by_path["/" + key]["sha256"] == hashlib.sha256(data).hexdigest()
    assert by_path["/dir1/sub"]["mode"].startswith("d")
    ctype = {ln["path"]: ln for ln in lines if ln.get("xattr") == "user.s3.content_type"}
    assert ctype["/big.bin"]["sha256"] == hashlib.sha256(b"text/x-test").hexdigest()


def test_gohost_export(seaweedfs: SeaweedFS, tmp_path: Path) -> None:
    src = tmp_path / "src"
    files = {"a.txt": b"a", "empty": b"", "d/e/big.bin": os.urandom(18 * MiB)}
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    bucket = new_bucket()
    res = run_gohost(
        "export",
        plugin_argv("s3", "exporter"),
        "s3",
        seaweed_config(seaweedfs, bucket, "restore"),
        "-from",
        str(src),
    )
    assert res["ok"], {k: v for k, v in res.items() if k != "_stderr"}
    client = seaweedfs.client()
    for rel, data in files.items():
        assert client.get_object(Bucket=bucket, Key=f"restore/{rel}")["Body"].read() == data
