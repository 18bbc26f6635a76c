"""gohost's storage checks fire: each faulty memstore below must fail exactly its check."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import run_gohost

FAULTS = {
    # Create of an existing repository succeeds
    "create_twice_fails": """
        def create(self, config):
            self._config = config
    """,
    # Get of an unknown MAC answers OK with no bytes
    "get_missing_errors": """
        def get(self, res, mac, offset, length):
            if (res, mac) not in self._objects:
                return b""
            return super().get(res, mac, offset, length)
    """,
    # a ranged Get returns one byte too few
    "get_range": """
        def get(self, res, mac, offset, length):
            blob = super().get(res, mac, offset, length)
            return blob[:-1] if offset is not None else blob
    """,
    # List ignores the resource type
    "resources_separate": """
        def list(self, res):
            return [mac for (_, mac) in self._objects]
    """,
    # Delete does nothing
    "delete": """
        def delete(self, res, mac):
            pass
    """,
}


@pytest.mark.parametrize("check", sorted(FAULTS))
def test_faulty_store_fails_its_check(check: str, tmp_path: Path) -> None:
    plugin = tmp_path / "faulty.py"
    body = textwrap.indent(textwrap.dedent(FAULTS[check]), "    ")
    plugin.write_text(
        "from kloset_sdk import serve\n"
        "from kloset_sdk.examples.memstore import MemStorage\n\n"
        f"class Faulty(MemStorage):\n{body}\n\n"
        'if __name__ == "__main__":\n    serve("storage", Faulty)\n'
    )
    res = run_gohost(
        "store", [sys.executable, str(plugin)], "mem", {"location": "mem://f"}, "-n", "2",
        "-size", "300000",
    )  # fmt: skip
    assert not res["ok"], res
    assert res["checks"][check] != "ok", res["checks"]
    assert res["exit"] == 0, res
