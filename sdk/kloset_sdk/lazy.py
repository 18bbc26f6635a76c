"""A value built in the background from Init on.

Plakar spawns a plugin for each use and waits for Init before anything else, so a client
library imported and set up in Init (boto3 and botocore's service model: about 230 ms) is paid
before the host can even start. `Prepared` starts the build in a thread at Init, lets Init
answer, and makes the first use wait for it; an error of the build is raised there, at every
use, as it was raised in the build (a ConfigError still names its key).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Prepared(Generic[T]):
    def __init__(self, build: Callable[[], T], name: str) -> None:
        self._build = build
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._build()
        except BaseException as exc:  # kept for the first use, which raises it
            self._error = exc

    def get(self) -> T:
        self._thread.join()
        if self._error is not None:
            raise self._error.with_traceback(None)
        return self._value  # type: ignore[return-value]
