"""What the conformance suites share: the fixtures a subclass must provide."""

from __future__ import annotations

from typing import Any, cast

import pytest


def required_fixture(name: str, what: str) -> Any:
    """A class-scoped fixture the suite's subclass must override: a subclass that forgets it
    fails each test with a message that names the fixture and what it must hold."""

    def missing(cls: type) -> Any:
        raise NotImplementedError(
            f"{cls.__name__} must provide a class-scoped {name} fixture: {what}"
        )

    return pytest.fixture(scope="class", name=name)(cast(Any, classmethod(missing)))
