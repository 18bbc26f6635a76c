"""kloset_sdk.lazy: Prepared (built in the background, waited for at first use) and OnFirstUse."""

from __future__ import annotations

import threading

import pytest

from kloset_sdk import ConfigError
from kloset_sdk.lazy import OnFirstUse, Prepared


def test_construction_does_not_wait_for_the_build() -> None:
    release = threading.Event()

    def build() -> str:
        release.wait(30)
        return "client"

    prepared = Prepared(build, name="test-build")  # returns while build() is still blocked
    release.set()
    assert prepared.get() == "client"
    assert prepared.get() == "client"


def test_a_failed_build_is_raised_at_every_use() -> None:
    def build() -> str:
        raise ConfigError("endpoint", "boto3 refuses it")

    prepared = Prepared(build, name="test-build")
    for _ in range(2):
        with pytest.raises(ConfigError, match="endpoint: boto3 refuses it"):
            prepared.get()


def test_on_first_use_builds_once_and_retries_a_failed_build() -> None:
    calls = []

    def build() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("not yet")
        return "client"

    lazy = OnFirstUse(build)
    assert not lazy.built and calls == []  # nothing is built before it is asked for
    with pytest.raises(OSError, match="not yet"):
        lazy.get()
    assert not lazy.built
    assert [lazy.get() for _ in range(3)] == ["client"] * 3
    assert lazy.built and len(calls) == 2


def test_on_first_use_from_many_threads_builds_once() -> None:
    calls = []
    lazy = OnFirstUse(lambda: calls.append(1) or len(calls))
    threads = [threading.Thread(target=lazy.get) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1] and lazy.get() == 1
