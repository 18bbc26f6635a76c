from __future__ import annotations

import pytest

from kloset_sdk import Fatal, Throttled
from kloset_sdk.retry import Pacer, Retry, RetryPolicy, parse_retry_after
from tests.clock import FakeClock as Clock


def test_retry_after_honoured() -> None:
    clock = Clock()
    pacer = Pacer(RetryPolicy(attempts=5), sleep=clock.sleep, clock=clock)
    calls = []

    def fn() -> str:
        calls.append(clock.now)
        if len(calls) < 3:
            raise RuntimeError("429")
        return "ok"

    assert pacer.call(fn, lambda e: Retry("throttled", 2.0)) == "ok"
    assert calls[1] - calls[0] >= 2.0 and calls[2] - calls[1] >= 2.0
    assert pacer.throttled == 2


def test_bounded_attempts_and_time() -> None:
    clock = Clock()
    pacer = Pacer(RetryPolicy(attempts=4, base_delay=0.1), sleep=clock.sleep, clock=clock)
    n = []

    def boom() -> None:
        n.append(1)
        raise RuntimeError("503")

    with pytest.raises(Fatal) as ei:
        pacer.call(boom, lambda e: Retry("server error"))
    assert len(n) == 4 and "gave up after 4 attempts" in str(ei.value)
    pacer2 = Pacer(RetryPolicy(attempts=100, max_total=10), sleep=clock.sleep, clock=clock)
    with pytest.raises(Throttled):
        pacer2.call(boom, lambda e: Retry("throttled", 3.0))


def test_non_retryable_raises_at_once() -> None:
    pacer = Pacer()
    with pytest.raises(KeyError):
        pacer.call(lambda: {}["x"], lambda e: None)


def test_parse_retry_after() -> None:
    assert parse_retry_after("120") == 120
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
