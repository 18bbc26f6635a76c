"""Collect test_plugin.py only when a plugin was named on the command line (--plugin)."""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.name == "test_plugin.py" and not config.getoption("--plugin"):
        return True
    return None
