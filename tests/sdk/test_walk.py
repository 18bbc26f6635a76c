"""The shared parallel walk (kloset_sdk.walk), with real worker threads."""

from __future__ import annotations

import itertools
import posixpath
import threading
from collections.abc import Callable, Iterator

import pytest

from kloset_sdk.walk import Descend, parallel_walk

Item = str | Descend[str]


def _tree(depth: int, fanout: int) -> dict[str, list[str]]:
    """dir -> its entries (paths); entries named d* are directories."""
    tree: dict[str, list[str]] = {}

    def fill(path: str, level: int) -> None:
        kids = [posixpath.join(path, f"f{i}") for i in range(fanout)]
        if level < depth:
            subs = [posixpath.join(path, f"d{i}") for i in range(fanout)]
            kids += subs
            for s in subs:
                fill(s, level + 1)
        tree[path] = kids

    fill("/", 0)
    return tree


def _lister(tree: dict[str, list[str]]) -> Callable[[str], Iterator[Item]]:
    """list_dir over `tree`: each entry, then Descend into it if it is a directory."""

    def list_dir(path: str) -> Iterator[Item]:
        for kid in tree[path]:
            yield kid
            if kid in tree:
                yield Descend(kid)

    return list_dir


def _no_error(path: str, exc: Exception) -> list[str]:
    raise AssertionError(f"{path}: {exc}")


def _alive(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(f"{name}-")]


def test_parents_before_children_every_entry_once() -> None:
    tree = _tree(depth=4, fanout=4)

    list_dir = _lister(tree)

    got = list(parallel_walk(["/"], list_dir, on_error=_no_error, workers=4, out_max=32))
    expected = {k for kids in tree.values() for k in kids}
    assert sorted(got) == sorted(expected)
    seen: set[str] = {"/"}
    for path in got:
        assert posixpath.dirname(path) in seen, path
        seen.add(path)
    assert not _alive("walk")


def test_several_roots_and_none() -> None:
    tree = _tree(depth=1, fanout=3)

    list_dir = _lister(tree)

    got = list(parallel_walk(["/d0", "/d2"], list_dir, on_error=_no_error, workers=2))
    assert sorted(got) == sorted(tree["/d0"] + tree["/d2"])
    none: list[str] = []
    assert list(parallel_walk(none, list_dir, on_error=_no_error, workers=2)) == []


def test_on_done_is_post_order() -> None:
    tree = _tree(depth=3, fanout=3)

    list_dir = _lister(tree)

    got = list(
        parallel_walk(
            ["/"], list_dir, on_error=_no_error, workers=3, on_done=lambda d: [f"done:{d}"]
        )
    )
    done_at = {g[5:]: i for i, g in enumerate(got) if g.startswith("done:")}
    assert set(done_at) == set(tree)
    assert got[-1] == "done:/"
    for i, g in enumerate(got):
        path = g[5:] if g.startswith("done:") else g
        # every ancestor is done after this item (and, for a done, after this directory)
        up = posixpath.dirname(path)
        while True:
            if up != path:
                assert done_at[up] > i, (g, up)
            if up == "/":
                break
            up = posixpath.dirname(up)


def test_output_is_bounded() -> None:
    out_max = 64
    produced = 0
    consumed = 0
    backlog = 0
    filled = threading.Event()

    def list_dir(path: str) -> Iterator[str]:
        nonlocal produced, backlog
        for i in range(20 * out_max):
            produced += 1
            backlog = max(backlog, produced - consumed)
            if produced >= out_max:
                filled.set()
            yield f"{path}/{i}"

    walk = parallel_walk(["/"], list_dir, on_error=_no_error, workers=1, out_max=out_max)
    for _ in walk:
        consumed += 1
        if consumed == 1:
            assert filled.wait(30)  # the worker runs ahead of a stalled consumer...
    assert consumed == 20 * out_max
    assert out_max <= backlog <= out_max + 16  # ...but only as far as the queue allows


def test_on_error_items_and_partial_listing_kept() -> None:
    tree = _tree(depth=2, fanout=2)

    def list_dir(path: str) -> Iterator[Item]:
        for kid in tree[path]:
            yield kid
            if kid in tree:
                yield Descend(kid)
            if path == "/d0" and kid == "/d0/d0":
                raise OSError("listing broke")

    errors: list[tuple[str, Exception]] = []

    def on_error(path: str, exc: Exception) -> list[str]:
        errors.append((path, exc))
        return [f"error:{path}"]

    got = list(parallel_walk(["/"], list_dir, on_error=on_error, workers=3))
    assert [(p, str(e)) for p, e in errors] == [("/d0", "listing broke")]
    assert "error:/d0" in got
    # what was listed before the failure stays, the subdirectory it entered is walked
    kept = {"/d0/f0", "/d0/f1", "/d0/d0", *tree["/d0/d0"]}
    lost = {"/d0/d1", *tree["/d0/d1"]}
    assert kept <= set(got) and not lost & set(got)
    assert set(tree["/d1"]) <= set(got)


def test_a_list_dir_that_is_no_generator_may_raise_at_once() -> None:
    def list_dir(path: str) -> list[Item]:
        if path == "/bad":
            raise OSError("refused")
        return ["/bad", Descend("/bad"), "/ok"]

    got = list(parallel_walk(["/"], list_dir, on_error=lambda p, e: [f"error:{p}"], workers=2))
    assert sorted(got) == ["/bad", "/ok", "error:/bad"]


def test_fatal_on_error_reaches_the_consumer_and_stops_the_walk() -> None:
    class Gone(Exception):
        pass

    def list_dir(path: str) -> Iterator[Item]:
        if path == "/bad":
            raise OSError("no")
        yield path + "/x"
        yield Descend("/bad")
        for i in itertools.count():  # an endless sibling keeps the other workers busy
            yield Descend(f"{path}/{i}")

    def on_error(path: str, exc: Exception) -> list[str]:
        raise Gone(path) from exc

    with pytest.raises(Gone, match="/bad"):
        for _ in parallel_walk(["/"], list_dir, on_error=on_error, workers=3, name="fatal"):
            pass
    assert not _alive("fatal")


def _endless(path: str) -> Iterator[Item]:
    """An endless tree: endless entries in every directory, each a directory too."""
    for i in itertools.count():
        yield f"{path}/{i}"
        yield Descend(f"{path}/{i}")


def test_early_close_joins_the_workers() -> None:
    walk = parallel_walk(["/"], _endless, on_error=_no_error, workers=4, out_max=16, name="cls")
    for _ in range(10):
        next(walk)
    assert len(_alive("cls")) == 4
    walk.close()  # with the workers blocked on the full output queue
    assert not _alive("cls")


def test_consumer_that_stops_iterating_joins_the_workers() -> None:
    for n, _ in enumerate(
        parallel_walk(["/"], _endless, on_error=_no_error, workers=2, name="brk")
    ):
        if n == 100:
            break
    # the for loop dropped the generator: CPython closes it at once
    assert not _alive("brk")


def test_a_base_exception_in_a_listing_is_raised_not_reported() -> None:
    def list_dir(path: str) -> Iterator[str]:
        yield "a"
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        list(parallel_walk(["/"], list_dir, on_error=_no_error, workers=1, name="base"))
    assert not _alive("base")
