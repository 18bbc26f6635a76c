"""The quick HEAD and GET against the real SeaweedFS: the same answers as boto3's head_object
and get_object, and botocore's own path (messages, retries) for everything else."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from kloset_s3.client import S3Client
from kloset_s3.download import ObjectStream
from kloset_s3.options import S3Options, resolve
from kloset_s3.quick import ASK, QuickRequests
from kloset_sdk import NotFound, PermissionDenied
from kloset_sdk.options import parse
from tests.emulators.seaweedfs import SeaweedFS

from .conftest import new_bucket, seaweed_config

KEYS = ["plain", "a b/c+d%e~f=g&h", "ünïcödé/çà", "deep/er/key.txt", "semi;colon:at@x"]
#: Differ by request, not by object.
VOLATILE = {"x-amz-request-id", "x-amz-id-2", "date"}


def client(cfg: dict[str, str]) -> S3Client:
    opts = parse(S3Options, cfg, "importer")
    return S3Client(opts, resolve(opts))


@pytest.fixture
def bucket(seaweedfs: SeaweedFS) -> str:
    name = new_bucket()
    raw = seaweedfs.client()
    raw.create_bucket(Bucket=name)
    for key in KEYS:
        raw.put_object(
            Bucket=name,
            Key=key,
            Body=key.encode(),
            ContentType="text/x-test",
            CacheControl="no-cache",
            ContentLanguage="fr",
            Metadata={"Owner": "ops", "note": "a=b; c"},
            Tagging="team=backup&env=prod",
        )
    return name


def comparable(head: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in head.items() if k != "ResponseMetadata"}
    headers = head["ResponseMetadata"]["HTTPHeaders"]
    out["headers"] = {k: v for k, v in headers.items() if k not in VOLATILE}
    return out


@pytest.mark.parametrize("key", KEYS)
def test_same_answer_as_boto3(seaweedfs: SeaweedFS, bucket: str, key: str) -> None:
    s3 = client(seaweed_config(seaweedfs, bucket))
    quick = s3.quick
    assert isinstance(quick, QuickRequests), "the quick path is off against SeaweedFS"
    got = quick.head(key)
    assert got is not ASK and got is not None
    want = s3.raw.head_object(Bucket=bucket, Key=key)
    assert comparable(got) == comparable(want)
    assert got["TagCount"] == 2 and got["Metadata"] == want["Metadata"]
    assert comparable(s3.head(key) or {}) == comparable(got)


def test_missing_key_is_none(seaweedfs: SeaweedFS, bucket: str) -> None:
    s3 = client(seaweed_config(seaweedfs, bucket))
    quick = s3.quick
    assert quick is not None
    assert quick.head("no/such/key") is None
    assert s3.head("no/such/key") is None


def test_refused_request_goes_through_botocore(seaweedfs: SeaweedFS, bucket: str) -> None:
    """A wrong secret: the quick path answers ASK and the user reads botocore's message."""
    cfg = {**seaweed_config(seaweedfs, bucket), "secret_access_key": "wrong" * 8}
    s3 = client(cfg)
    quick = s3.quick
    assert quick is not None
    assert quick.head("plain") is ASK
    with pytest.raises(PermissionDenied, match="secret_access_key"):
        s3.head("plain")


def test_off_with_sse_c(seaweedfs: SeaweedFS, bucket: str) -> None:
    cfg = {
        **seaweed_config(seaweedfs, bucket),
        "sse_customer_key": base64.b64encode(b"k" * 32).decode(),
    }
    assert client(cfg).quick is None


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("range_", ["", "bytes=2-4"])
def test_get_same_as_boto3(seaweedfs: SeaweedFS, bucket: str, key: str, range_: str) -> None:
    """Against the client's own botocore path, which it stands in for (same config)."""
    s3 = client(seaweed_config(seaweedfs, bucket))
    quick = s3.quick
    assert quick is not None
    got = quick.get(key, range_)
    assert got is not ASK
    extra = {"Range": range_} if range_ else {}
    want = s3.raw.get_object(Bucket=bucket, Key=key, **extra)
    assert got.pop("Body").read() == want.pop("Body").read()
    assert comparable(got) == comparable(want)


def test_get_refusals_go_through_botocore(seaweedfs: SeaweedFS, bucket: str) -> None:
    """A missing key, a changed ETag, a range past the end: ASK, and the SDK's errors."""
    s3 = client(seaweed_config(seaweedfs, bucket))
    quick = s3.quick
    assert quick is not None
    assert quick.get("no/such/key") is ASK
    assert quick.get("plain", if_match='"0123456789abcdef0123456789abcdef"') is ASK
    assert quick.get("plain", "bytes=100-200") is ASK
    with pytest.raises(NotFound):
        ObjectStream(s3, "no/such/key")
    assert b"".join(ObjectStream(s3, "plain", 1, 3)) == b"lai"
