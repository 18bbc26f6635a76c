"""Retry with backoff, jitter and Retry-After, paced across every worker (rclone's lib/pacer).

One `Pacer` per plugin process is shared by all threads talking to a service: when any call is
throttled, every caller waits until the service's `Retry-After` has passed, instead of each
worker hammering it on its own schedule. Integrations only say which errors are worth retrying:

    def should_retry(exc: BaseException) -> Retry | None: ...
    pacer.call(lambda: client.get(...), should_retry)

Every loop is bounded twice: by attempts and by total time (both configurable), so a dead
service ends in a clear error, never an endless loop.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from . import common_options as common
from .errors import Fatal, QuotaExceeded, Throttled
from .options import option

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Retry:
    """A retryable failure: why, and how long the service asked us to wait (if it said)."""

    reason: str
    retry_after: float | None = None


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 10
    base_delay: float = 0.5
    max_delay: float = 60.0
    max_total: float = 600.0
    max_retry_after: float = 900.0


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None if absent/garbled."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class Pacer:
    def __init__(
        self,
        policy: RetryPolicy | None = None,
        max_concurrency: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._not_before = 0.0
        self._slots = threading.BoundedSemaphore(max_concurrency) if max_concurrency else None
        self.retries = 0
        self.throttled = 0

    def _wait_turn(self) -> None:
        while True:
            with self._lock:
                delay = self._not_before - self._clock()
            if delay <= 0:
                return
            self._sleep(min(delay, 5.0))

    def _hold_off(self, delay: float) -> None:
        with self._lock:
            self._not_before = max(self._not_before, self._clock() + delay)

    def pause(self, delay: float) -> None:
        """Sleep `delay`, then wait out any Retry-After another caller was told meanwhile."""
        self._sleep(delay)
        self._wait_turn()

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2^attempt)]."""
        ceiling = min(self.policy.max_delay, self.policy.base_delay * (2**attempt))
        return random.uniform(ceiling / 2, ceiling)

    def call(self, fn: Callable[[], T], should_retry: Callable[[BaseException], Retry | None]) -> T:
        start = self._clock()
        attempt = 0
        while True:
            self._wait_turn()
            if self._slots is not None:
                self._slots.acquire()
            try:
                return fn()
            except (QuotaExceeded, Fatal):
                raise
            except Exception as exc:  # should_retry decides
                decision = should_retry(exc)
                if decision is None:
                    raise
                attempt += 1
                elapsed = self._clock() - start
                if decision.retry_after is not None:
                    self.throttled += 1
                    delay = min(decision.retry_after, self.policy.max_retry_after)
                    delay += random.uniform(0, min(1.0, delay * 0.1 + 0.05))
                else:
                    delay = self.backoff(attempt - 1)
                if attempt >= self.policy.attempts or elapsed + delay > self.policy.max_total:
                    msg = (
                        f"gave up after {attempt} attempts in {elapsed:.0f}s"
                        f" ({decision.reason}): {exc}"
                    )
                    if decision.retry_after is not None:
                        raise Throttled(msg, decision.retry_after) from exc
                    raise Fatal(msg) from exc
                self.retries += 1
                log.info("retrying in %.1fs (attempt %d): %s", delay, attempt, decision.reason)
                if decision.retry_after is not None:
                    self._hold_off(delay)  # everyone waits: the service asked for it
                    self._wait_turn()
                else:
                    self._sleep(delay)
            finally:
                if self._slots is not None:
                    self._slots.release()


@dataclass(frozen=True)
class RetryOptions:
    """Retry tuning shared by the HTTP integrations (rclone's SharedOptions): inherit it.

    Every loop stays bounded by these, so a dead or black-holed service ends in a clear error
    within about `max_retry_time` seconds, never an endless wait.
    """

    max_retries: int = common.max_retries(10, "Attempts per request before failing.")
    max_retry_time: float = option(
        600.0,
        minimum=1,
        maximum=86400,
        advanced=True,
        help="Seconds one request may spend retrying in all (Retry-After waits included).",
    )
    timeout: float = common.timeout(
        120.0,
        "Seconds to wait for a connection or for an answer before retrying.",
    )

    def retry_policy(self, **overrides: float) -> RetryPolicy:
        base = RetryPolicy(attempts=self.max_retries, max_total=self.max_retry_time)
        return RetryPolicy(
            attempts=base.attempts,
            base_delay=float(overrides.get("base_delay", base.base_delay)),
            max_delay=float(overrides.get("max_delay", base.max_delay)),
            max_total=base.max_total,
            max_retry_after=min(base.max_retry_after, self.max_retry_time),
        )
