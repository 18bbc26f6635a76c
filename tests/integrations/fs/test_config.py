"""A bad config fails Init with one message naming the key; the schemas are up to date."""

from __future__ import annotations

import json
import subprocess
import sys
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


@pytest.mark.parametrize("kind", ["importer", "exporter", "storage"])
@pytest.mark.parametrize(
    ("config", "key", "words"),
    [
        ({}, "location", "required"),
        ({"location": "posixfs:///tmp", "no_such_key": "1"}, "no_such_key", "unknown"),
        ({"location": "posixfs://relative/dir"}, "location", "relative"),
        ({"location": "s3://bucket/x"}, "location", "posixfs://"),
    ],
)
def test_bad_config_names_the_key(kind: str, config: dict[str, str], key: str, words: str) -> None:
    with PluginProcess(plugin_argv("fs", kind)) as proc:
        client = CLIENTS[kind](proc)
        with pytest.raises(grpc.RpcError) as ei:
            client.init(config, proto="posixfs")
        details = ei.value.details() or ""
        assert details.startswith(f"{key}:") and words in details, details
        assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_option_of_another_kind_and_bad_values(tmp_path: Path) -> None:
    cases = [
        ("storage", {"dont_traverse_fs": "true"}, "dont_traverse_fs: not an option of the storage"),
        ("importer", {"dont_traverse_fs": "maybe"}, "dont_traverse_fs: expected true or false"),
        ("importer", {"workers": "0"}, "workers:"),
        ("importer", {}, "location: "),  # the root does not exist
    ]
    for kind, extra, message in cases:
        loc = tmp_path / ("missing" if not extra else "")
        with PluginProcess(plugin_argv("fs", kind)) as proc:
            client = CLIENTS[kind](proc)
            with pytest.raises(grpc.RpcError) as ei:
                client.init({"location": f"posixfs://{loc}", **extra}, proto="posixfs")
            assert (ei.value.details() or "").startswith(message), ei.value.details()


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
