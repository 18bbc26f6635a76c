"""kloset_sdk.uploads: the exporters' bounded upload pool, with real threads."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from kloset_sdk.uploads import Budget, UploadPool


def in_thread(fn: Callable[[], object]) -> threading.Thread:
    t = threading.Thread(target=fn, daemon=True)
    t.start()
    return t


def test_submit_blocks_while_every_slot_is_taken() -> None:
    pool = UploadPool(1, queued=1)
    gate = threading.Event()
    first = pool.submit(gate.wait)
    second = pool.submit(gate.wait)
    third = in_thread(lambda: pool.submit(lambda: None))
    third.join(0.3)
    assert third.is_alive(), "a third upload was taken with 1 running and 1 queued"
    gate.set()
    third.join(30)
    assert not third.is_alive()
    assert first.result(30) and second.result(30)
    pool.close()


def test_bytes_are_bounded_but_one_big_upload_passes_alone() -> None:
    pool = UploadPool(4, max_bytes=10)
    gate = threading.Event()
    held = pool.submit(gate.wait, size=8)
    blocked = in_thread(lambda: pool.submit(lambda: None, size=5))
    blocked.join(0.3)
    assert blocked.is_alive(), "8 + 5 bytes went past a 10-byte budget"
    gate.set()
    blocked.join(30)
    assert not blocked.is_alive() and held.result(30)
    assert pool.submit(lambda: "big", size=100).result(30) == "big"  # alone: it may exceed
    pool.close()


def test_a_failed_upload_frees_its_room_and_keeps_its_error() -> None:
    pool = UploadPool(1, queued=0, max_bytes=4)

    def boom() -> None:
        raise OSError("network down")

    failed = pool.submit(boom, size=4)
    with pytest.raises(OSError, match="network down"):
        failed.result(30)
    assert pool.submit(lambda: 7, size=4).result(30) == 7  # the slot and the bytes came back
    pool.close()


def test_follow_does_not_wait_for_a_slot() -> None:
    """A step that waits on running uploads must not queue behind them (no deadlock)."""
    pool = UploadPool(2, queued=0)
    gate = threading.Event()
    uploads = [pool.submit(gate.wait) for _ in range(2)]
    step = pool.follow(lambda: [u.result() for u in uploads])
    gate.set()
    assert step.result(30) == [True, True]
    pool.close()


def test_budget_counts_back_to_zero() -> None:
    budget = Budget(3)
    budget.acquire(2)
    budget.acquire(1)
    budget.release(3)
    assert budget.used == 0
