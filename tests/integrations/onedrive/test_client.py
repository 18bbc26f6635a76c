"""GraphClient: what is retried, how long it waits, what each status means (in-process)."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from kloset_onedrive.api import parse_item
from kloset_onedrive.client import GraphClient, NameConflict
from kloset_onedrive.download import download
from kloset_onedrive.folders import Folders
from kloset_onedrive.options import OneDriveOptions
from kloset_sdk import NotFound, PermissionDenied, options
from kloset_sdk.errors import QuotaExceeded
from kloset_sdk.retry import Pacer, RetryPolicy
from tests.clock import FakeClock
from tests.emulators.graph import GraphEmulator
from tests.integrations.onedrive.support import MiB, app_config


@pytest.fixture
def make_client(emu: GraphEmulator) -> Callable[..., tuple[GraphClient, FakeClock]]:
    def make(policy: RetryPolicy | None = None) -> tuple[GraphClient, FakeClock]:
        fake = FakeClock(start=1000.0)
        opts = options.parse(OneDriveOptions, app_config(emu), "importer")
        pacer = Pacer(policy or RetryPolicy(), sleep=fake.sleep, clock=fake)
        return GraphClient(opts, pacer=pacer), fake

    return make


def test_retry_after_120s_is_honoured(emu: GraphEmulator, make_client: Callable) -> None:
    client, fake = make_client()
    emu.faults.fail_next(429, kinds=("item",), retry_after=120)
    assert client.item("/root")["id"]
    assert 120 <= sum(fake.slept) <= 121.5
    assert client.pacer.throttled == 1


def test_retry_after_is_bounded_by_the_policy(emu: GraphEmulator, make_client: Callable) -> None:
    client, fake = make_client(RetryPolicy(max_retry_after=30))
    emu.faults.fail_next(503, kinds=("item",), retry_after=120)
    client.item("/root")
    assert 30 <= sum(fake.slept) <= 31.5


def test_missing_retry_after_backs_off_exponentially(
    emu: GraphEmulator, make_client: Callable
) -> None:
    client, fake = make_client(RetryPolicy(base_delay=0.5))
    emu.faults.omit_retry_after = True
    emu.faults.fail_next(429, count=3, kinds=("item",))
    client.item("/root")
    assert len(fake.slept) == 3
    for attempt, slept in enumerate(fake.slept):
        assert 0.5 * 2**attempt / 2 <= slept <= 0.5 * 2**attempt


def test_server_errors_and_drops_are_retried(emu: GraphEmulator, make_client: Callable) -> None:
    client, _ = make_client()
    emu.faults.fail_next(500, kinds=("item",))
    emu.faults.fail_next(504, kinds=("item",))
    emu.faults.drop_next(1, kinds=("item",))
    assert client.item("/root")["id"]
    assert emu.stats["item"] == 4


def test_expired_token_is_refreshed_once(emu: GraphEmulator, make_client: Callable) -> None:
    client, _ = make_client()
    client.item("/root")
    emu.expire_tokens()
    client.item("/root")
    assert emu.stats["status_401"] == 1 and emu.stats["token"] == 2


def test_statuses_become_kloset_errors(emu: GraphEmulator, make_client: Callable) -> None:
    client, _ = make_client()
    with pytest.raises(NotFound):
        client.item("/root:/no/such/file:")
    emu.add_folder("/taken")
    root = client.item("/root")["id"]
    body = {"name": "taken", "folder": {}, "@microsoft.graph.conflictBehavior": "fail"}
    with pytest.raises(NameConflict):
        client.json("POST", f"/items/{root}/children", json=body)
    emu.faults.insufficient_storage = True
    with pytest.raises(QuotaExceeded, match="drive is full"):
        client.call("PUT", f"/items/{root}:/x.bin:/content", data=b"x")
    assert emu.stats["upload_simple"] == 1  # 507 is final: never retried


def test_folder_created_elsewhere_is_reused(emu: GraphEmulator, make_client: Callable) -> None:
    client, _ = make_client()
    first = Folders(client).ensure("/a/b/c")
    second = Folders(client).ensure("/A/B/c")  # names are case-insensitive on OneDrive
    assert first == second and emu.stats["status_409"] == 3


def test_download_resumes_and_renews_expired_urls(
    emu: GraphEmulator, make_client: Callable
) -> None:
    client, _ = make_client()
    data = os.urandom(3 * MiB + 17)
    emu.add_file("/big.bin", data)
    item = parse_item(client.item("/root:/big.bin:"))
    emu.faults.truncate_next(1)
    assert b"".join(download(client, item, verify=True)) == data
    assert emu.stats["faults_truncate"] == 1 and emu.stats["download_range"] == 1  # resumed
    emu.expire_download_urls()
    assert b"".join(download(client, item, MiB, 100)) == data[MiB : MiB + 100]
    assert emu.stats["status_401"] == 1 and emu.stats["item"] == 2  # one new URL, then 206


def test_download_url_expiring_again_is_renewed_again(
    emu: GraphEmulator, make_client: Callable
) -> None:
    """A renewed URL that has expired again before use is renewed again, within the retry
    budget; when the budget runs out, the error says the URL expired, not that a token was
    refused (no token is sent to the download host) (issue 15, item 7)."""
    client, _ = make_client(RetryPolicy(attempts=4))
    data = os.urandom(1000)
    emu.add_file("/f.bin", data)
    item = parse_item(client.item("/root:/f.bin:"))
    emu.expire_download_urls()
    emu.expire_next_download_urls(2)  # the first two renewals are stale on arrival
    emu.reset_stats()
    assert b"".join(download(client, item, verify=True)) == data
    assert emu.stats["status_401"] == 3 and emu.stats["item"] == 3, emu.stats
    emu.expire_download_urls()
    emu.expire_next_download_urls(100)
    emu.reset_stats()
    with pytest.raises(PermissionDenied) as ei:
        b"".join(download(client, item))
    text = str(ei.value)
    assert "download URL was refused 5 times" in text and "pre-authenticated URL" in text, text
    assert "token was refused" not in text
    assert emu.stats["item"] == 4, emu.stats  # four renewals: the budget of max_retries
