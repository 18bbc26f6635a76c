"""Preconditions a test cannot run without: a skip on a developer's machine, a failure in CI.

CI runs as root with every tool installed, so a test that needs root, setpriv or a local
password user must run there. A skip in CI would turn "this was never checked" into a green
build, so with CI=true the same condition fails the test instead, with the reason.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import pytest

F = TypeVar("F", bound=Callable[..., Any])


def in_ci() -> bool:
    """True when the CI environment variable says so (CI=true, as CI services set it)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def unavailable(reason: str) -> NoReturn:
    """Skip with `reason`, or fail with it under CI, where every precondition must hold."""
    if in_ci():
        pytest.fail(f"CI=true, yet this test cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


def require_root(reason: str = "needs root") -> None:
    if os.geteuid() != 0:
        unavailable(f"{reason} (not running as root)")


def require_tool(name: str) -> None:
    if shutil.which(name) is None:
        unavailable(f"{name} is not installed")


def needs_root(reason: str = "needs root") -> Callable[[F], F]:
    """Decorator form of require_root, checked when the test runs (after its fixtures)."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            require_root(reason)
            return fn(*args, **kwargs)

        return run  # type: ignore[return-value]

    return wrap
