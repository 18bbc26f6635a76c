"""Fixtures for the onedrive tests: a Graph emulator and the plugin configs that reach it.

The plugin runs as a real subprocess (kloset_sdk.plugin), with the real msal and requests,
against tests.emulators.graph over HTTPS; `graph_endpoint`, `authority_host` and `ca_bundle`
are the only test-specific settings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.emulators.graph import GraphEmulator
from tests.integrations.onedrive.support import app_config


@pytest.fixture
def emu() -> Iterator[GraphEmulator]:
    with GraphEmulator(auto_approve_device=True, device_interval=1) as e:
        yield e


@pytest.fixture
def app_cfg(emu: GraphEmulator) -> Callable[..., dict[str, str]]:
    def make(location: str = "onedrive:///", **extra: str) -> dict[str, str]:
        return app_config(emu, location, **extra)

    return make
