"""A bad config fails Init with one message naming the key; the schemas are up to date."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from kloset_sdk.harness import ExporterClient, ImporterClient, PluginProcess, StoreClient
from tests.conftest import ROOT, plugin_argv

CLIENTS: dict[str, Any] = {
    "importer": ImporterClient,
    "exporter": ExporterClient,
    "storage": StoreClient,
}


@pytest.fixture(scope="module", params=["importer", "exporter", "storage"])
def plugin(request: pytest.FixtureRequest) -> Iterator[tuple[str, Any]]:
    """One process per kind: a failed Init leaves the plugin ready for the next one."""
    with PluginProcess(plugin_argv("fs", request.param)) as proc:
        yield request.param, CLIENTS[request.param](proc)


def init_error(client: Any, config: dict[str, str]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as ei:
        client.init(config, proto="posixfs")
    assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT, ei.value
    return ei.value


@pytest.mark.parametrize(
    ("config", "key", "words"),
    [
        ({}, "location", "required"),
        ({"location": "posixfs:///tmp", "no_such_key": "1"}, "no_such_key", "unknown"),
        ({"location": "posixfs://relative/dir"}, "location", "relative"),
        ({"location": "s3://bucket/x"}, "location", "posixfs://"),
    ],
)
def test_bad_config_names_the_key(
    plugin: tuple[str, Any], config: dict[str, str], key: str, words: str
) -> None:
    details = init_error(plugin[1], config).details() or ""
    assert details.startswith(f"{key}:") and words in details, details


def test_kind_specific_keys_and_values(plugin: tuple[str, Any], tmp_path: Path) -> None:
    kind, client = plugin
    loc = f"posixfs://{tmp_path}"
    if kind == "importer":
        cases = [
            ({"location": loc, "dont_traverse_fs": "maybe"}, "dont_traverse_fs: expected true"),
            ({"location": loc, "workers": "0"}, "workers:"),
            ({"location": f"{loc}/missing"}, "location: "),  # the root must exist
        ]
    else:
        cases = [({"location": loc, "dont_traverse_fs": "true"}, "dont_traverse_fs: not an")]
    for config, message in cases:
        details = init_error(client, config).details() or ""
        assert details.startswith(message), details
    client.init({"location": loc}, proto="posixfs")  # and a good config still works


def test_generated_files_are_current() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_schemas.py"), "--check", "fs"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    manifest = (ROOT / "manifests" / "fs" / "manifest.yaml").read_text()
    for kind in ("importer", "exporter", "storage"):
        schema = json.loads((ROOT / "manifests" / "fs" / f"{kind}.schema.json").read_text())
        assert schema["additionalProperties"] is False and schema["required"] == ["location"]
        assert f"validator: {kind}.schema.json" in manifest
        assert f"executable: posixfs{kind.capitalize()}" in manifest
