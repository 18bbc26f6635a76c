"""A clock that moves only when the code under test sleeps: retry waits are read, never timed."""

from __future__ import annotations


class FakeClock:
    """Pass `sleep=clock.sleep, clock=clock` to a Pacer; `slept` lists every wait asked for."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now
