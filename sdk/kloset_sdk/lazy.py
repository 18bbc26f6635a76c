"""Values built later than Init: in the background from Init on (`Prepared`), or at their
first use (`OnFirstUse`).

Plakar spawns a plugin for each use and waits for Init before anything else, so a client
library imported and set up in Init (boto3 and botocore's service model: about 230 ms) is paid
before the host can even start. `Prepared` starts the build in a thread at Init, lets Init
answer, and makes the first use wait for it; an error of the build is raised there, at every
use, as it was raised in the build (a ConfigError still names its key). A value that some
runs never need (googleapiclient's service, s3transfer's manager) is better built on first use:
a background build competes for the GIL with Init's own answer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar, cast

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


class OnFirstUse(Generic[T]):
    """`build()` run once, by the first thread that asks; the others wait for it. A failed build
    is tried again at the next use."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: T | None = None
        self._built = False
        self._lock = threading.Lock()

    def get(self) -> T:
        if not self._built:
            with self._lock:
                if not self._built:
                    self._value = self._build()
                    self._built = True
        return cast(T, self._value)

    @property
    def built(self) -> bool:
        return self._built
