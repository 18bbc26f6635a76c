"""Reliability suite (GitHub issue 10): every scenario's outcome goes to .build/reliability.json.

Each test is one scenario; its docstring's first line is the scenario's description, and its
`connector` parameter (when it has one) names the integration. A test asks for the `scenario`
fixture to report how many runs it made, how many failed, and how many bytes were lost (bytes
the plugin acknowledged and that were then missing or different). `scripts/reliability_report.py`
renders docs/RELIABILITY.md from the JSON file.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.reliability.common import INTEGRATIONS, Scenario, plugin_environment

RESULTS = ROOT / ".build" / "reliability.json"
_HERE = Path(__file__).resolve().parent
_SCENARIO = pytest.StashKey[Scenario]()
KNOWN_CONNECTORS = {"sdk", "memstore", "tree", *INTEGRATIONS}
_results: dict[str, dict[str, Any]] = {}


@pytest.fixture
def scenario(request: pytest.FixtureRequest) -> Scenario:
    """Counters for this scenario, read back after the test by the report hook."""
    s = Scenario()
    request.node.stash[_SCENARIO] = s
    return s


@pytest.fixture
def plugin_tmp(tmp_path: Path) -> Path:
    """A TMPDIR for the plugin under test, so leftovers can be attributed to it."""
    d = tmp_path / "plugin-tmp"
    d.mkdir()
    return d


@pytest.fixture
def plugin_env(plugin_tmp: Path, tmp_path: Path) -> dict[str, str]:
    """The plugin's environment: private TMPDIR and HOME, no proxies, no CA overrides."""
    return plugin_environment(tmp_path, plugin_tmp)


def _describe(item: pytest.Item) -> tuple[str, str, str]:
    fn = getattr(item, "function", None)
    doc = (getattr(fn, "__doc__", None) or "").strip().splitlines()
    text = doc[0].strip() if doc else item.name
    params: dict[str, Any] = dict(getattr(getattr(item, "callspec", None), "params", {}) or {})
    connector = str(params.pop("connector", "") or "")
    for key, value in list(params.items()):  # module-scoped plugin fixtures (store, proxied...)
        if value in KNOWN_CONNECTORS:
            connector = str(params.pop(key))
    try:
        text = text.format(**params)
    except (KeyError, IndexError, ValueError):
        pass
    category = item.path.stem.removeprefix("test_") if hasattr(item, "path") else ""
    return category, connector, text


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    rep: pytest.TestReport = outcome.get_result()
    if _HERE not in Path(str(item.path)).resolve().parents:
        return
    if rep.when == "call" or (rep.when == "setup" and not rep.passed):
        category, connector, text = _describe(item)
        s = item.stash.get(_SCENARIO, None) or Scenario()
        if hasattr(rep, "wasxfail"):
            result = "xfail"
        elif rep.skipped:
            result = "skipped"
        else:
            result = rep.outcome
        reason = ""
        if rep.skipped and isinstance(rep.longrepr, tuple):
            reason = str(rep.longrepr[2]).removeprefix("Skipped: ")
        elif hasattr(rep, "wasxfail"):
            reason = str(rep.wasxfail)
        elif rep.failed:
            crash = getattr(rep.longrepr, "reprcrash", None)
            text = str(getattr(crash, "message", "") or "").strip()
            reason = text.splitlines()[0][:300] if text else "failed"
        failures = s.failures if result != "failed" else max(1, s.failures)
        _results[item.nodeid] = {
            "id": item.nodeid,
            "category": category,
            "connector": connector,
            "scenario": text,
            "result": result,
            "runs": s.runs if result in ("passed", "failed") else 0,
            "failures": failures if result in ("passed", "failed") else 0,
            "bytes_lost": s.bytes_lost,
            "bytes_checked": s.bytes_checked,
            "notes": "; ".join(s.notes),
            "reason": reason,
            "seconds": round(rep.duration, 2),
        }


_started = [time.monotonic()]


def pytest_sessionstart(session: pytest.Session) -> None:
    _started[0] = time.monotonic()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _results:
        return
    files = {p.name for p in _HERE.glob("test_*.py")}
    ran = {Path(str(i.path)).name for i in session.items if _HERE in Path(str(i.path)).parents}
    whole = ran >= files and not (
        session.config.getoption("keyword", "") or session.config.getoption("markexpr", "")
    )
    data: dict[str, Any] = {"scenarios": []}
    if not whole and RESULTS.exists():  # a partial run updates its scenarios, keeps the others
        try:
            data = json.loads(RESULTS.read_text())
        except ValueError:
            data = {"scenarios": []}
    merged = {s["id"]: s for s in data.get("scenarios", [])}
    merged.update(_results)
    data["scenarios"] = sorted(merged.values(), key=lambda s: s["id"])
    run = {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join(
            ["pytest", *(a for a in sys.argv[1:] if not a.startswith("--basetemp"))]
        ),
        "python": sys.version.split()[0],
        "reliability_seconds": round(sum(r["seconds"] for r in _results.values()), 1),
        "session_seconds": round(time.monotonic() - _started[0], 1),
        "scenarios": len(_results),
    }
    if whole:
        data["run"] = run
        data.pop("partial_runs", None)
    else:  # the header keeps describing the last complete run
        data.setdefault("partial_runs", []).append(run)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, RESULTS)


@pytest.fixture
def no_leftover_kloset_dirs(plugin_tmp: Path) -> Iterator[Path]:
    """After the test: the plugin left no `kloset-*` entry in its TMPDIR."""
    yield plugin_tmp
    left = sorted(p.name for p in plugin_tmp.iterdir() if p.name.startswith("kloset-"))
    assert not left, f"the plugin left {left} in its TMPDIR"


@pytest.fixture(scope="session")
def _drive_server() -> Iterator[Any]:
    from tests.emulators.drive import DriveEmulator

    emu = DriveEmulator(seed=10)
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture
def drive_emulator(_drive_server: Any) -> Iterator[Any]:
    """The session's Drive emulator, healthy at the start and the end of each test."""
    _drive_server.faults.reset(seed=10)
    yield _drive_server
    _drive_server.faults.reset(seed=10)


@pytest.fixture(scope="session")
def _graph_server() -> Iterator[Any]:
    from tests.emulators.graph import GraphEmulator

    emu = GraphEmulator(seed=10)
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture
def graph_emulator(_graph_server: Any) -> Iterator[Any]:
    """The session's Graph emulator, healthy at the start and the end of each test."""
    _graph_server.faults.reset()
    _graph_server.faults.reseed(10)
    yield _graph_server
    _graph_server.faults.reset()
