"""Storage behaviour beyond the shared suite: checksums on the wire, bounded multipart memory,
abort on failure, Create/Open rules, paging, GLACIER layout, SSE, credentials and their errors.

In-process tests build S3Storage directly (its botocore event hooks let a test watch the
requests); plugin tests go through a real plugin process, as Plakar would.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest

from kloset_s3.options import S3Options
from kloset_s3.storage import S3Storage
from kloset_sdk import AlreadyExists, ChunkStream, NotFound, ProtocolError, Resource
from kloset_sdk.connector import InitContext
from kloset_sdk.harness import PluginProcess, StoreClient
from kloset_sdk.layout import object_key
from kloset_sdk.options import parse
from tests.conformance.storage import MiB, assert_clean_error
from tests.conftest import plugin_argv
from tests.emulators.seaweedfs import SeaweedFS
from tests.integrations.s3.conftest import Moto, new_bucket, seaweed_config


def storage(cfg: dict[str, str]) -> S3Storage:
    return S3Storage(parse(S3Options, cfg, "storage"), InitContext("storage", "s3", cfg))


def chunks(data: bytes, fail_at: int | None = None, seen: list[int] | None = None) -> ChunkStream:
    """The host's Put stream: 1 MiB chunks; `fail_at` makes it break like an abandoned call."""
    offsets = iter(range(0, len(data), MiB))

    def nxt() -> bytes | None:
        off = next(offsets, None)
        if fail_at is not None and off is not None and off >= fail_at:
            raise ProtocolError("put: the host abandoned the stream")
        if off is None:
            return None
        if seen is not None:
            seen[0] = off + MiB
        return data[off : off + MiB]

    return ChunkStream(nxt)


def mac() -> bytes:
    return os.urandom(32)


# -- integrity headers (real SeaweedFS, which verifies them) -----------------------------------
@pytest.mark.parametrize("checksum", ["sha256", "md5", "none"])
def test_every_upload_carries_the_chosen_checksum(seaweedfs: SeaweedFS, checksum: str) -> None:
    cfg = seaweed_config(seaweedfs, new_bucket(), checksum=checksum, part_size=str(5 * MiB))
    st = storage(cfg)
    st.create(b"cfg")
    sent: list[tuple[str, dict[str, str]]] = []

    def watch(request: Any, event_name: str, **_: Any) -> None:
        sent.append(
            (event_name.rsplit(".", 1)[-1], {k.lower(): v for k, v in request.headers.items()})
        )

    st.s3.raw.meta.events.register("before-send.s3", watch)
    small, big = os.urandom(1000), os.urandom(12 * MiB)
    m1, m2 = mac(), mac()
    assert st.put(Resource.STATE, m1, chunks(small), 0) == len(small)
    assert st.put(Resource.PACKFILE, m2, chunks(big), 0) == len(big)
    uploads = [(op, h) for op, h in sent if op in ("PutObject", "UploadPart")]
    assert [op for op, _ in uploads] == ["PutObject", "UploadPart", "UploadPart", "UploadPart"]
    for _, headers in uploads:
        assert ("x-amz-checksum-sha256" in headers) == (checksum == "sha256")
        assert ("content-md5" in headers) == (checksum == "md5")
        assert "x-amz-checksum-crc32" not in headers  # botocore's default is turned off
    assert b"".join(st.get(Resource.PACKFILE, m2, None, None)) == big  # type: ignore[arg-type]


# -- large reads: parallel ranged GETs, in order (real SeaweedFS) -----------------------------
def _gets(st: S3Storage) -> list[str]:
    """The Range header of every GetObject the store sends from now on ("" for none)."""
    ranges: list[str] = []

    def watch(request: Any, **_: Any) -> None:
        value = request.headers.get("Range") or ""
        ranges.append(value.decode() if isinstance(value, bytes) else str(value))

    st.s3.raw.meta.events.register("before-send.s3.GetObject", watch)
    return ranges


@pytest.mark.parametrize("sse", [False, True])
def test_large_gets_are_ranged_in_parallel_and_in_order(seaweedfs: SeaweedFS, sse: bool) -> None:
    extra = {"sse_customer_key": base64.b64encode(os.urandom(32)).decode()} if sse else {}
    st = storage(seaweed_config(seaweedfs, new_bucket(), part_size=str(5 * MiB), **extra))
    st.create(b"cfg")
    big, small, m_big, m_small = os.urandom(29 * MiB + 123), os.urandom(3 * MiB), mac(), mac()
    st.put(Resource.PACKFILE, m_big, chunks(big), 0)
    st.put(Resource.PACKFILE, m_small, chunks(small), 0)
    ranges = _gets(st)
    assert b"".join(st.get(Resource.PACKFILE, m_small, None, None)) == small  # type: ignore[arg-type]
    assert ranges == [""]  # a small object: one plain GET
    ranges.clear()
    assert b"".join(st.get(Resource.PACKFILE, m_big, None, None)) == big  # type: ignore[arg-type]
    mib8 = 8 * MiB
    assert ranges[0] == ""  # the first GET serves the first part and the object's size
    assert sorted(ranges[1:]) == sorted(
        [f"bytes={mib8}-{2 * mib8 - 1}", f"bytes={2 * mib8}-{3 * mib8 - 1}"]
        + [f"bytes={3 * mib8}-{len(big) - 1}"]
    )
    for offset, length in ((1, len(big) - 1), (5 * MiB + 7, 17 * MiB + 3), (9 * MiB, 8 * MiB)):
        got = st.get(Resource.PACKFILE, m_big, offset, length)
        assert b"".join(got) == big[offset : offset + length]  # type: ignore[arg-type]


def test_a_large_single_put_object_is_verified_against_its_checksum(
    seaweedfs: SeaweedFS,
) -> None:
    st = storage(seaweed_config(seaweedfs, new_bucket(), part_size=str(32 * MiB)))
    st.create(b"cfg")
    data, m = os.urandom(20 * MiB), mac()
    st.put(Resource.PACKFILE, m, chunks(data), 0)  # one PUT carrying x-amz-checksum-sha256
    got = st.get(Resource.PACKFILE, m, None, None)
    assert getattr(got, "_want", "")  # the stored whole-object checksum is checked at the end
    assert b"".join(got) == data  # type: ignore[arg-type]


def test_an_object_replaced_mid_get_fails_instead_of_splicing(seaweedfs: SeaweedFS) -> None:
    bucket = new_bucket()
    st = storage(seaweed_config(seaweedfs, bucket, concurrency="2", part_size=str(5 * MiB)))
    st.create(b"cfg")
    m = mac()
    st.put(Resource.PACKFILE, m, chunks(os.urandom(40 * MiB)), 0)
    got = st.get(Resource.PACKFILE, m, None, None)  # parts 2 and 3 are fetched ahead; 4, 5 later
    seaweedfs.client().put_object(
        Bucket=bucket, Key=object_key(Resource.PACKFILE, m), Body=os.urandom(40 * MiB)
    )
    with pytest.raises(Exception, match="changed while it was being read"):
        b"".join(got)  # type: ignore[arg-type]


# -- multipart: bounded memory and all-or-nothing (moto, fast) ------------------------------
def test_multipart_keeps_at_most_concurrency_parts(moto: Moto) -> None:
    bucket = new_bucket()
    st = storage(moto.config(bucket, part_size=str(5 * MiB), concurrency="2"))
    st.create(b"cfg")
    lock = threading.Lock()
    state = {"inflight": 0, "max_inflight": 0, "uploaded": 0, "max_ahead": 0}
    seen = [0]

    def before(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        with lock:
            state["inflight"] += 1
            state["max_inflight"] = max(state["max_inflight"], state["inflight"])
            state["max_ahead"] = max(state["max_ahead"], seen[0] - state["uploaded"])
            context["part_len"] = int(params["headers"]["Content-Length"])
        time.sleep(0.15)  # a slow link: the reader must wait for free slots

    def after(context: dict[str, Any], **_: Any) -> None:
        with lock:
            state["inflight"] -= 1
            state["uploaded"] += context["part_len"]

    st.s3.raw.meta.events.register("before-call.s3.UploadPart", before)
    st.s3.raw.meta.events.register("after-call.s3.UploadPart", after)
    data = os.urandom(41 * MiB)
    m = mac()
    assert st.put(Resource.PACKFILE, m, chunks(data, seen=seen), 0) == len(data)
    assert state["max_inflight"] <= 2
    # read ahead of what is stored: the parts in flight plus the one being filled
    assert state["max_ahead"] <= 2 * (5 * MiB + MiB)
    assert (
        moto.client().get_object(Bucket=bucket, Key=object_key(Resource.PACKFILE, m))["Body"].read()
        == data
    )


@pytest.mark.parametrize("fail_at", [3 * MiB, 12 * MiB])
def test_abandoned_put_leaves_nothing(moto: Moto, fail_at: int) -> None:
    bucket = new_bucket()
    st = storage(moto.config(bucket, part_size=str(5 * MiB)))
    st.create(b"cfg")
    m = mac()
    with pytest.raises(ProtocolError):
        st.put(Resource.PACKFILE, m, chunks(os.urandom(20 * MiB), fail_at=fail_at), 0)
    c = moto.client()
    assert "Contents" not in c.list_objects_v2(Bucket=bucket, Prefix="packfiles/")
    assert not c.list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_failed_part_aborts_the_upload(moto: Moto) -> None:
    bucket = new_bucket()
    st = storage(moto.config(bucket, part_size=str(5 * MiB), retries="2"))
    st.create(b"cfg")

    calls = [0]

    def refuse(**_: Any) -> None:
        calls[0] += 1
        if calls[0] == 3:
            raise RuntimeError("part 3 lost")

    st.s3.raw.meta.events.register("before-call.s3.UploadPart", refuse)
    with pytest.raises(RuntimeError):
        st.put(Resource.PACKFILE, mac(), chunks(os.urandom(16 * MiB)), 0)
    c = moto.client()
    assert "Contents" not in c.list_objects_v2(Bucket=bucket, Prefix="packfiles/")
    assert not c.list_multipart_uploads(Bucket=bucket).get("Uploads")


# -- repository rules ---------------------------------------------------------------------------
def test_create_makes_the_bucket_and_refuses_an_existing_repository(seaweedfs: SeaweedFS) -> None:
    bucket = new_bucket()
    st = storage(seaweed_config(seaweedfs, bucket, "a/b"))
    with pytest.raises(NotFound, match="no repository|bucket does not exist"):
        st.open()
    st.create(b"config")
    c = seaweedfs.client()
    assert c.get_object(Bucket=bucket, Key="a/b/CONFIG")["Body"].read() == b"config"
    with pytest.raises(AlreadyExists, match="already"):
        storage(seaweed_config(seaweedfs, bucket, "a/b")).create(b"other")
    c.put_object(Bucket=bucket, Key="go/CONFIG", Body=b"made by the Go store")
    with pytest.raises(AlreadyExists):
        storage(seaweed_config(seaweedfs, bucket, "go")).create(b"other")
    assert storage(seaweed_config(seaweedfs, bucket, "go")).open() == b"made by the Go store"
    with pytest.raises(NotFound, match="no repository"):
        storage(seaweed_config(seaweedfs, bucket, "elsewhere")).open()


def test_list_pages_past_1000_and_size_sums(seaweedfs: SeaweedFS) -> None:
    bucket = new_bucket()
    st = storage(seaweed_config(seaweedfs, bucket, "repo"))
    st.create(b"12345")
    c = seaweedfs.client()
    macs = [mac() for _ in range(1105)]
    with ThreadPoolExecutor(16) as pool:
        list(
            pool.map(
                lambda m: c.put_object(
                    Bucket=bucket, Key="repo/" + object_key(Resource.LOCK, m), Body=b"lk"
                ),
                macs,
            )
        )
    c.put_object(Bucket=bucket, Key="repo/locks/not-a-mac.tmp", Body=b"x")
    assert sorted(st.list(Resource.LOCK)) == sorted(macs)
    assert list(st.list(Resource.PACKFILE)) == []
    assert st.size() == 5 + 2 * len(macs) + 1


def test_glacier_layout_matches_the_go_store(seaweedfs: SeaweedFS) -> None:
    bucket = new_bucket()
    st = storage(seaweed_config(seaweedfs, bucket, storage_class="GLACIER"))
    st.create(b"cfg")
    assert st.mode() == 2
    cold, hot, state, lock = mac(), mac(), mac(), mac()
    st.put(Resource.PACKFILE, cold, chunks(b"cold"), 0)
    st.put(Resource.PACKFILE, hot, chunks(b"hot"), 1)
    st.put(Resource.STATE, state, chunks(b"state"), 0)
    st.put(Resource.LOCK, lock, chunks(b"lock"), 0)
    classes = {
        o["Key"]: o.get("StorageClass", "STANDARD")
        for o in seaweedfs.client().list_objects_v2(Bucket=bucket)["Contents"]
    }
    pk = object_key(Resource.PACKFILE, cold)
    assert classes == {
        "CONFIG": "STANDARD",
        "CONFIG.frozen": "GLACIER",
        pk + ".frozen": "GLACIER",
        object_key(Resource.PACKFILE, hot): "STANDARD",
        object_key(Resource.PACKFILE, hot) + ".frozen": "GLACIER",
        object_key(Resource.STATE, state): "STANDARD",
        object_key(Resource.STATE, state) + ".frozen": "GLACIER",
        object_key(Resource.LOCK, lock): "STANDARD",
    }
    assert list(st.list(Resource.LOCK)) == [lock]
    assert list(st.list(Resource.STATE)) == [state]


def test_sse_c_objects_need_the_key(seaweedfs: SeaweedFS) -> None:
    bucket = new_bucket()
    key = os.urandom(32)
    st = storage(seaweed_config(seaweedfs, bucket, sse_customer_key=base64.b64encode(key).decode()))
    st.create(b"cfg")
    m = mac()
    st.put(Resource.STATE, m, chunks(b"secret state"), 0)
    c = seaweedfs.client()
    with pytest.raises(Exception, match="customer"):
        c.get_object(Bucket=bucket, Key=object_key(Resource.STATE, m))
    got = c.get_object(
        Bucket=bucket,
        Key=object_key(Resource.STATE, m),
        SSECustomerAlgorithm="AES256",
        SSECustomerKey=key,
    )
    assert got["Body"].read() == b"secret state"
    # the same store without the key says what is missing
    plain = storage(seaweed_config(seaweedfs, bucket))
    with pytest.raises(Exception, match="sse_customer_key"):
        plain.open()


def test_sse_kms_parameters_are_sent(moto: Moto) -> None:
    bucket = new_bucket()
    st = storage(moto.config(bucket, sse_kms_key_id="alias/plakar", part_size=str(5 * MiB)))
    st.create(b"cfg")
    small, big = mac(), mac()
    st.put(Resource.STATE, small, chunks(b"x"), 0)
    st.put(Resource.PACKFILE, big, chunks(os.urandom(11 * MiB)), 0)
    c = moto.client()
    for res, m in ((Resource.STATE, small), (Resource.PACKFILE, big)):
        head = c.head_object(Bucket=bucket, Key=object_key(res, m))
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"].endswith("alias/plakar")


# -- credentials, through the plugin process -----------------------------------------------------
def open_error(cfg: dict[str, str], env: dict[str, str] | None = None) -> grpc.RpcError:
    with PluginProcess(plugin_argv("s3", "storage"), env=env) as proc:
        client = StoreClient(proc)
        client.init(cfg, proto="s3")  # Init makes no request: the first call reports
        with pytest.raises(grpc.RpcError) as ei:
            client.open()
        return ei.value


def test_wrong_credentials_say_which(seaweedfs: SeaweedFS) -> None:
    base = seaweed_config(seaweedfs, new_bucket())
    with PluginProcess(plugin_argv("s3", "storage")) as proc:
        client = StoreClient(proc)
        for override, words in (
            ({"access_key": "NOSUCHKEY"}, "access_key"),
            ({"secret_access_key": "wrong-secret-123"}, "secret_access_key"),
        ):
            client.init({**base, **override}, proto="s3")  # Init makes no request
            with pytest.raises(grpc.RpcError) as ei:
                client.open()
            err = ei.value
            assert_clean_error(err)
            assert err.code() == grpc.StatusCode.PERMISSION_DENIED
            assert words in (err.details() or "")
            assert "wrong-secret-123" not in (err.details() or "")


def _aws_free_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=str(tmp_path),
        AWS_CONFIG_FILE=str(tmp_path / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        **extra,
    )
    return env


def test_no_credentials_anywhere(seaweedfs: SeaweedFS, tmp_path: Path) -> None:
    cfg = seaweed_config(seaweedfs, new_bucket())
    del cfg["access_key"], cfg["secret_access_key"]
    err = open_error(cfg, _aws_free_env(tmp_path))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "no credentials" in (err.details() or "")


def test_credential_chain_environment_and_profile(seaweedfs: SeaweedFS, tmp_path: Path) -> None:
    bucket = new_bucket()
    cfg = seaweed_config(seaweedfs, bucket)
    del cfg["access_key"], cfg["secret_access_key"]
    env = _aws_free_env(
        tmp_path, AWS_ACCESS_KEY_ID=seaweedfs.access_key, AWS_SECRET_ACCESS_KEY=seaweedfs.secret_key
    )
    with PluginProcess(plugin_argv("s3", "storage"), env=env) as proc:
        client = StoreClient(proc)
        client.init(cfg, proto="s3")
        client.create(b"from env")
    (tmp_path / "credentials").write_text(
        f"[backup]\naws_access_key_id = {seaweedfs.access_key}\n"
        f"aws_secret_access_key = {seaweedfs.secret_key}\n"
    )
    with PluginProcess(plugin_argv("s3", "storage"), env=_aws_free_env(tmp_path)) as proc:
        client = StoreClient(proc)
        client.init({**cfg, "profile": "backup"}, proto="s3")
        assert client.open() == b"from env"
    with PluginProcess(plugin_argv("s3", "storage"), env=_aws_free_env(tmp_path)) as proc:
        with pytest.raises(grpc.RpcError) as ei:
            StoreClient(proc).init({**cfg, "profile": "nosuch"}, proto="s3")
        assert "profile" in (ei.value.details() or "")


def test_unreachable_endpoint_fails_fast() -> None:
    t0 = time.monotonic()
    err = open_error(
        {
            "location": "s3://127.0.0.1:9/bucket",
            "access_key": "a",
            "secret_access_key": "b",
            "use_tls": "false",
        }
    )
    assert time.monotonic() - t0 < 15
    assert_clean_error(err)
    assert "cannot reach" in (err.details() or "")
