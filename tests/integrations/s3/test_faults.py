"""A bad network between the plugin and a real SeaweedFS (FaultProxy in between): a Put cut by
a connection reset ends as a complete object after a retry, or as no object and a non-OK
status, never as a truncated object; a Get cut mid-body resumes where it stopped."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import botocore.exceptions
import grpc
import pytest

from kloset_sdk import Resource
from kloset_sdk.harness import PluginProcess, StoreClient
from kloset_sdk.layout import object_key
from tests.conformance.storage import MiB, assert_clean_error
from tests.conftest import plugin_argv
from tests.emulators.faultproxy import FaultProxy
from tests.emulators.seaweedfs import SeaweedFS
from tests.integrations.s3.conftest import new_bucket, seaweed_config


@pytest.fixture
def proxied_store(
    seaweedfs: SeaweedFS, fault_proxy: Callable[[str, int], FaultProxy]
) -> Iterator[tuple[StoreClient, FaultProxy, str]]:
    proxy = fault_proxy("127.0.0.1", seaweedfs.port)
    bucket = new_bucket()
    cfg = seaweed_config(
        seaweedfs, bucket, via=proxy.host_port, part_size=str(5 * MiB), retries="3"
    )
    with PluginProcess(plugin_argv("s3", "storage")) as proc:
        store = StoreClient(proc)
        store.init(cfg, proto="s3")
        store.create(b"cfg")
        yield store, proxy, bucket


def stored(seaweedfs: SeaweedFS, bucket: str, mac: bytes) -> bytes | None:
    try:
        got = seaweedfs.client().get_object(Bucket=bucket, Key=object_key(Resource.PACKFILE, mac))
    except botocore.exceptions.ClientError:
        return None
    return bytes(got["Body"].read())


@pytest.mark.parametrize("size", [3 * MiB, 17 * MiB])  # one PUT, a 4-part upload
def test_reset_mid_put_then_retry_stores_it_whole(
    seaweedfs: SeaweedFS, proxied_store: tuple[StoreClient, FaultProxy, str], size: int
) -> None:
    store, proxy, bucket = proxied_store
    data, mac = os.urandom(size), os.urandom(32)
    before = proxy.connections
    proxy.reset_after(2 * MiB, "upstream", once=True)
    assert store.put(Resource.PACKFILE, mac, data) == size
    assert proxy.connections > before  # the reset happened: the retry needed a new connection
    assert stored(seaweedfs, bucket, mac) == data


@pytest.mark.parametrize("size", [3 * MiB, 12 * MiB])
def test_resets_that_persist_leave_no_object(
    seaweedfs: SeaweedFS, proxied_store: tuple[StoreClient, FaultProxy, str], size: int
) -> None:
    store, proxy, bucket = proxied_store
    mac = os.urandom(32)
    proxy.reset_after(2 * MiB, "upstream", once=False)  # every connection, every time
    with pytest.raises(grpc.RpcError) as ei:
        store.put(Resource.PACKFILE, mac, os.urandom(size))
    assert_clean_error(ei.value)
    proxy.heal()
    assert stored(seaweedfs, bucket, mac) is None
    uploads = seaweedfs.client().list_multipart_uploads(Bucket=bucket).get("Uploads") or []
    assert not uploads  # the multipart upload was aborted (its abort request is small)


def test_reset_mid_get_resumes(
    seaweedfs: SeaweedFS, proxied_store: tuple[StoreClient, FaultProxy, str]
) -> None:
    store, proxy, _ = proxied_store
    data, mac = os.urandom(12 * MiB), os.urandom(32)
    store.put(Resource.PACKFILE, mac, data)
    for offset, length in ((None, None), (2 * MiB, 8 * MiB)):
        before = proxy.connections
        proxy.reset_after(3 * MiB, "downstream", once=True)
        want = data if offset is None else data[offset : offset + (length or 0)]
        assert store.get(Resource.PACKFILE, mac, offset, length) == want
        assert proxy.connections > before
