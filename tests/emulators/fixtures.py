"""Pytest plugin: real servers for the whole session, and fault proxies per test.

Load with `pytest_plugins = ["tests.emulators.fixtures"]`. Servers start once per session
(SeaweedFS needs about 1.5 s to start and 3 s to stop) and are stopped by PID at the end.
Tests must not leave faults or state that others would trip on: use `seaweedfs_bucket` for a
fresh bucket, `sshd_dir` for a fresh directory, and `fault_proxy` for a proxy of your own.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.emulators.faultproxy import FaultProxy
from tests.emulators.seaweedfs import SeaweedFS
from tests.emulators.sshd import SSHD


@pytest.fixture(scope="session")
def seaweedfs() -> Iterator[SeaweedFS]:
    """A real SeaweedFS S3 server on 127.0.0.1 for the session."""
    with SeaweedFS() as server:
        yield server


@pytest.fixture(scope="session")
def sshd() -> Iterator[SSHD]:
    """A real OpenSSH sshd on 127.0.0.1 for the session."""
    with SSHD() as server:
        yield server


@pytest.fixture
def seaweedfs_bucket(seaweedfs: SeaweedFS) -> str:
    """A new, empty bucket on the session SeaweedFS (never shared between tests)."""
    name = f"t-{uuid.uuid4().hex[:20]}"
    seaweedfs.client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def sshd_dir(sshd: SSHD) -> Path:
    """A new, empty directory under the session sshd's root_dir."""
    path = sshd.root_dir / f"t-{uuid.uuid4().hex[:20]}"
    path.mkdir()
    return path


@pytest.fixture
def fault_proxy() -> Iterator[Callable[[str, int], FaultProxy]]:
    """Factory: `fault_proxy(host, port)` starts a FaultProxy, stopped after the test."""
    proxies: list[FaultProxy] = []

    def make(host: str, port: int) -> FaultProxy:
        proxy = FaultProxy(host, port).start()
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.stop()
