"""Config keys: the Go integration's keys keep their meaning and defaults; locations split alike."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from kloset_s3.options import S3Options, check_auth, resolve, split_path_style, sse_customer_key
from kloset_sdk import ConfigError
from kloset_sdk.options import parse, schema_for

ROOT = Path(__file__).resolve().parents[3]
GO_KEYS = {
    "location": None,
    "access_key": None,
    "secret_access_key": None,
    "use_tls": True,
    "tls_insecure_no_verify": False,
    "virtual_host": False,
    "endpoint": "",
    "port": None,
    "root": "/",
    "sse_customer_key": None,
    "region": "",
}


def opts(location: str, kind: str = "storage", **kv: str) -> S3Options:
    return parse(S3Options, {"location": location, **kv}, kind)


@pytest.mark.parametrize("kind", ["importer", "exporter", "storage"])
def test_go_keys_kept_with_their_defaults(kind: str) -> None:
    props = schema_for(S3Options, kind)["properties"]
    for key, default in GO_KEYS.items():
        assert key in props, key
        assert props[key].get("default") == default, key
    if kind == "storage":
        assert props["storage_class"]["default"] == "STANDARD"
        assert len(props["storage_class"]["enum"]) == 8
    else:
        assert "storage_class" not in props


def test_committed_schemas_match_the_options() -> None:
    for kind in ("importer", "exporter", "storage"):
        path = ROOT / "manifests" / "s3" / f"{kind}.schema.json"
        assert (
            json.loads(path.read_text())["properties"] == schema_for(S3Options, kind)["properties"]
        )


# (location path, root) -> (bucket, prefix): the Go integration's common_test.go table.
@pytest.mark.parametrize(
    "path,root,bucket,prefix",
    [
        ("/bucket", "", "bucket", ""),
        ("/bucket/data/plakar", "", "bucket", "data/plakar"),
        ("/bucket/data", "/", "bucket", "data"),
        ("/bucket", "/data/plakar", "bucket", "data/plakar"),
        ("/bucket/data", "/data/", "bucket", "data/"),
        ("/bucket", "/bucket/data", "bucket", "data"),
        ("/bucket/bucket/data", "/bucket/data", "bucket", "data"),
        ("", "/bucket/data", "bucket", "data"),
    ],
)
def test_split_path_style(path: str, root: str, bucket: str, prefix: str) -> None:
    assert split_path_style(path, root) == (bucket, prefix)


def test_split_path_style_conflict() -> None:
    with pytest.raises(ConfigError, match="root"):
        split_path_style("/bucket/data", "/other")


def test_resolve_path_style() -> None:
    t = resolve(opts("s3://minio.local:9000/backups/plakar/repo"))
    assert (t.endpoint_url, t.host, t.bucket, t.prefix) == (
        "https://minio.local:9000",
        "minio.local:9000",
        "backups",
        "plakar/repo",
    )
    assert t.key("CONFIG") == "plakar/repo/CONFIG"
    t = resolve(opts("s3://minio.local/backups", use_tls="false", port="9000"))
    assert t.endpoint_url == "http://minio.local:9000" and t.prefix == "" and t.key("x") == "x"


def test_resolve_endpoint_makes_the_host_part_of_the_path() -> None:
    t = resolve(opts("s3://mybucket/some/prefix", endpoint="https://s3.eu-west-3.amazonaws.com/"))
    assert (t.host, t.bucket, t.prefix, t.region) == (
        "s3.eu-west-3.amazonaws.com",
        "mybucket",
        "some/prefix",
        "eu-west-3",
    )


def test_resolve_virtual_host() -> None:
    t = resolve(
        opts("s3://mybucket.s3.amazonaws.com/p", virtual_host="true", endpoint="s3.amazonaws.com")
    )
    assert (t.host, t.bucket, t.prefix, t.virtual_host) == (
        "s3.amazonaws.com",
        "mybucket",
        "p",
        True,
    )
    t = resolve(opts("s3://mybucket.s3.us-west-2.amazonaws.com", virtual_host="true"))
    assert (t.bucket, t.host, t.region) == ("mybucket", "s3.us-west-2.amazonaws.com", "us-west-2")
    with pytest.raises(ConfigError, match="location"):
        resolve(opts("s3://other.example.com/p", virtual_host="true", endpoint="s3.amazonaws.com"))
    with pytest.raises(ConfigError, match="root"):
        resolve(opts("s3://b.example.com/p", virtual_host="true", root="/q"))


def test_region_option_wins() -> None:
    assert resolve(opts("s3://s3.us-west-2.amazonaws.com/b", region="eu-north-1")).region == (
        "eu-north-1"
    )
    assert resolve(opts("s3://127.0.0.1:9000/b")).region is None


@pytest.mark.parametrize("location", ["s3://host", "s3://host/"])
def test_location_without_bucket(location: str) -> None:
    with pytest.raises(ConfigError, match="bucket"):
        resolve(opts(location))


def test_sse_customer_key() -> None:
    key = bytes(range(32))
    assert (
        sse_customer_key(opts("s3://h/b", sse_customer_key=base64.b64encode(key).decode())) == key
    )
    for bad in ("not base64!", base64.b64encode(b"short").decode()):
        with pytest.raises(ConfigError, match="sse_customer_key") as ei:
            sse_customer_key(opts("s3://h/b", sse_customer_key=bad))
        assert bad not in str(ei.value)


def test_auth_pairs() -> None:
    with pytest.raises(ConfigError, match="secret_access_key"):
        check_auth(opts("s3://h/b", access_key="AK"))
    with pytest.raises(ConfigError, match="access_key"):
        check_auth(opts("s3://h/b", secret_access_key="SK"))
    with pytest.raises(ConfigError, match="sse_kms_key_id"):
        check_auth(opts("s3://h/b", sse_customer_key="a" * 44, sse_kms_key_id="alias/k"))
    check_auth(opts("s3://h/b"))  # no keys at all: the AWS chain


def test_bad_values_name_the_key() -> None:
    with pytest.raises(ConfigError, match="storage_class"):
        opts("s3://h/b", storage_class="GLACIERX")
    with pytest.raises(ConfigError, match="part_size"):
        opts("s3://h/b", part_size=str(1 << 20))
    with pytest.raises(ConfigError, match="storage_class"):
        opts("s3://h/b", kind="importer", storage_class="STANDARD")
    with pytest.raises(ConfigError, match="checksum"):
        opts("s3://h/b", checksum="crc32")


@pytest.mark.parametrize(
    "kv,key",
    [
        ({"location": "s3://%zz/x"}, "location"),
        ({"location": "s3://host name/x"}, "location"),
        ({"location": "s3://h/" + "b" * 300}, "location"),
        ({"location": "s3://h/b", "endpoint": "%%%"}, "endpoint"),
        ({"location": "s3://h/b", "region": "\u00e9"}, "region"),
        ({"location": "s3://h/b", "region": "x" * 200_000}, "region"),
    ],
)
def test_hostile_values_fail_with_a_short_message(kv: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as ei:
        resolve(opts(**kv))  # type: ignore[arg-type]
    assert ei.value.key == key and len(str(ei.value)) < 200


def test_ipv6_endpoint() -> None:
    t = resolve(opts("s3://[::1]:9000/b", use_tls="false"))
    assert (t.endpoint_url, t.bucket) == ("http://[::1]:9000", "b")


@pytest.mark.parametrize("location", ["s3://user@127.0.0.1/b", "s3://user@@127.0.0.1/b"])
def test_location_has_no_user(location: str) -> None:
    with pytest.raises(ConfigError) as ei:
        resolve(opts(location))
    assert ei.value.key == "location"


def test_parse_alone_runs_the_cross_field_checks() -> None:
    """parse calls S3Options.validate: the same key and words as check_auth."""
    with pytest.raises(ConfigError, match="is required when the other key") as ei:
        parse(S3Options, {"location": "s3://h/b", "access_key": "AK"}, "storage")
    assert ei.value.key == "secret_access_key"
