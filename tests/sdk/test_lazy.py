"""kloset_sdk.lazy.Prepared: built in the background, waited for at first use."""

from __future__ import annotations

import threading

import pytest

from kloset_sdk import ConfigError
from kloset_sdk.lazy import Prepared


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
