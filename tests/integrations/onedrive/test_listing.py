"""Full listing by delta enumeration (listing.py): ancestry, scoping, and the walk fallback.

The unit tests feed DeltaListing hand-made delta pages (children before their parent,
repeats, notebook and vault children, tombstones, refusals mid-way); the others run the
plugin against the Graph emulator with delta refused and check the walk sends the same records.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, cast

import pytest

from kloset_onedrive.api import DriveItem, parse_item
from kloset_onedrive.client import GraphClient, GraphFailure
from kloset_onedrive.listing import DeltaListing, DeltaRefused
from kloset_sdk import PermissionDenied
from tests.emulators.graph import GraphEmulator
from tests.integrations.onedrive.support import app_config, expected_tree, run_import, seed_tree


def _obj(item_id: str, name: str, parent: str | None, kind: str = "file") -> dict[str, Any]:
    out: dict[str, Any] = {"id": item_id, "name": name, "parentReference": {"id": parent}}
    if kind == "root":
        out.update(root={}, folder={})
    elif kind == "folder":
        out["folder"] = {"childCount": 0}
    elif kind == "notebook":
        out["package"] = {"type": "oneNote"}
    elif kind == "vault":
        out.update(folder={}, specialFolder={"name": "vault"})
    elif kind == "deleted":
        out.update(deleted={"state": "deleted"}, file={})
    else:
        out["file"] = {"hashes": {}}
    return out


# Graph's order is parents first "in practice": here /A/x.txt and /A/C come before /A.
PAGE_1 = [
    _obj("r", "root", None, "root"),
    _obj("x", "x.txt", "a"),
    _obj("c", "C", "a", "folder"),
    _obj("a", "A", "r", "folder"),
    _obj("cf", "deep.txt", "c"),
    _obj("nb", "Notes", "a", "notebook"),
    _obj("ns", "Quick Notes.one", "nb"),  # delta lists a notebook's sections; a walk does not
    _obj("v", "Personal Vault", "r", "vault"),
]
PAGE_2 = [
    _obj("vf", "passport.pdf", "v"),
    _obj("x", "x.txt", "a"),  # Graph may send an item twice
    _obj("gone", "old.txt", "a", "deleted"),
    _obj("b", "B", "r", "folder"),
    _obj("bf", "b.txt", "b"),
    _obj("o", "orphan.txt", "never-listed"),
]
ALL = ["/", "/A", "/A/x.txt", "/A/C", "/A/C/deep.txt", "/B", "/B/b.txt"]


class FakeGraph:
    """`pages` and `item` of GraphClient over canned delta pages; refusals by address."""

    def __init__(self, refuse: Mapping[str, tuple[int, BaseException]] = {}) -> None:
        self.refuse = dict(refuse)  # address -> (pages served first, then this error)
        self.asked: list[str] = []

    def pages(self, address: str, params: Mapping[str, str]) -> Iterator[dict[str, Any]]:
        self.asked.append(address)
        assert params["$top"] == "1000" and "parentReference" in params["$select"]
        served, error = self.refuse.get(address, (99, None))
        for n, page in enumerate((PAGE_1, PAGE_2)):
            if n == served and error is not None:
                raise error
            last = n == 1
            yield {"value": page, ("@odata.deltaLink" if last else "@odata.nextLink"): "link"}

    def item(self, address: str) -> dict[str, Any]:
        self.asked.append(address)
        return _obj("r", "root", None, "root")


def _listing(graph: FakeGraph, start: str | None = None, scoped: bool = False) -> DeltaListing:
    item: DriveItem | None = None
    if start is not None:
        item = parse_item(next(o for o in PAGE_1 + PAGE_2 if o["id"] == start))
    path = {None: "/", "a": "/A"}[start]
    outside = [] if start is None else ["r"]
    return DeltaListing(cast(GraphClient, graph), item, path, outside, scoped)


def _parents_first(paths: list[str]) -> None:
    for n, path in enumerate(paths):
        parent = path.rsplit("/", 1)[0] or "/"
        assert path == "/" or parent in paths[:n] or parent in ("/", "/A"), path


def test_whole_drive_by_ancestry(caplog: pytest.LogCaptureFixture) -> None:
    graph = FakeGraph()
    listing = _listing(graph)
    paths = [p for p, _ in listing.entries()]
    assert sorted(paths) == sorted(ALL) and len(paths) == len(set(paths))
    _parents_first(paths)
    assert graph.asked == ["/root/delta"] and listing.pages == 2
    warned = caplog.text
    assert "skipping /A/Notes: OneNote" in warned and "skipping /Personal Vault" in warned
    assert "Quick Notes" not in warned and "passport" not in warned  # inside: silently out


def test_folder_of_a_business_drive_filters_the_root_delta() -> None:
    graph = FakeGraph()
    paths = [p for p, _ in _listing(graph, "a").entries()]
    assert sorted(paths) == ["/A/C", "/A/C/deep.txt", "/A/x.txt"]  # A itself: the importer's
    assert graph.asked == ["/root/delta"]


def test_folder_delta_refused_falls_back_to_the_root_delta() -> None:
    refusal = GraphFailure("delta only at the root", 400, "notSupported")
    graph = FakeGraph({"/items/a/delta": (0, refusal)})
    paths = [p for p, _ in _listing(graph, "a", scoped=True).entries()]
    assert sorted(paths) == ["/A/C", "/A/C/deep.txt", "/A/x.txt"]
    assert graph.asked == ["/items/a/delta", "/root/delta"]


def test_refusal_mid_listing_tells_what_was_sent() -> None:
    graph = FakeGraph({"/root/delta": (1, PermissionDenied("403 accessDenied"))})
    listing = _listing(graph)
    got: list[str] = []
    with pytest.raises(DeltaRefused, match="accessDenied"):
        for path, _ in listing.entries():
            got.append(path)
    assert sorted(got) == ["/", "/A", "/A/C", "/A/C/deep.txt", "/A/x.txt"]
    assert listing.sent("r") and listing.sent("x") and listing.sent("cf")
    assert not listing.sent("b") and not listing.sent("nb") and not listing.sent("ns")


def test_other_failures_are_not_refusals() -> None:
    graph = FakeGraph({"/root/delta": (0, GraphFailure("bad", 422, "invalidRequest"))})
    with pytest.raises(GraphFailure):
        list(_listing(graph).entries())


def _summary(run: Any) -> dict[tuple[str, str], tuple[Any, ...]]:
    out: dict[tuple[str, str], tuple[Any, ...]] = {}
    for r in run.records:
        rec, info = r.record, r.record.info
        key = (rec.pathname, rec.xattr_name if rec.is_xattr else "")
        assert key not in out, f"{key} sent twice"
        stat = (info.name, info.size, info.mode, info.mtime_ns) if info else ()
        out[key] = (*stat, tuple(rec.xattrs), r.sha256)
    return out


@pytest.mark.parametrize(
    ("location", "status"),
    [("onedrive:///", 403), ("onedrive:///", 501), ("onedrive:///dir 001", 403)],
)
def test_walk_when_delta_is_refused(emu: GraphEmulator, location: str, status: int) -> None:
    """Same records (paths, stat, xattr names and values) by the walk as by delta."""
    seed_tree(emu, files=120, folders=15)
    cfg = app_config(emu, location)
    xattrs_only = lambda i: i.record.is_xattr  # noqa: E731 - read the hash values, not files
    emu.reset_stats()
    by_delta = run_import(cfg, opens=xattrs_only)
    assert by_delta.finished and not by_delta.errors
    assert emu.stats["children"] == 0 and emu.stats["delta"] <= 2

    # below the root, the emulator refuses folder delta (as business drives do): 2 to refuse
    code = "accessDenied" if status == 403 else "notImplemented"
    count = 1 if location.endswith(":///") else 2
    emu.faults.fail_next(status, count=count, kinds=("delta",), code=code)
    emu.reset_stats()
    by_walk = run_import(cfg, opens=xattrs_only)
    assert by_walk.finished and not by_walk.errors
    # a refusal is final (never retried, 501 included) and the walk lists folder by folder
    assert emu.stats[f"status_{status}"] == emu.stats["delta"] == count
    assert emu.stats["children"] > 0
    assert _summary(by_walk) == _summary(by_delta)
    if location.endswith(":///"):
        files, dirs = expected_tree(emu)
        assert {p for p, x in _summary(by_delta) if not x} == set(files) | dirs
