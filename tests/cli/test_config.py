"""Locations and option sources: Plakar's location syntax, files, environment, precedence."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kloset_cli.config import (
    CliError,
    build_config,
    normalize_location,
    read_config_file,
    redacted,
    split_prefixed,
)


def test_locations_in_plakar_syntax(tmp_path: Path) -> None:
    assert normalize_location("s3://host:9000/bucket/p") == ("s3", "s3://host:9000/bucket/p")
    assert normalize_location("sftp:user@host/dir") == ("sftp", "sftp://user@host/dir")
    assert normalize_location("gdrive://") == ("gdrive", "gdrive://")
    assert normalize_location("/srv/data") == ("posixfs", "posixfs:///srv/data")
    assert normalize_location("fs:/srv/data") == ("posixfs", "posixfs:///srv/data")
    rel = normalize_location("backup", cwd=str(tmp_path))
    assert rel == ("posixfs", f"posixfs://{tmp_path}/backup")


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("c.json", json.dumps({"access_key": "AK", "use_tls": False, "port": 9000})),
        ("c.toml", 'access_key = "AK"\nuse_tls = false\nport = 9000\n'),
        ("c.ini", "[s3]\naccess_key = AK\nuse_tls = false\nport = 9000\n"),
        ("c.conf", "# comment\naccess_key=AK\nuse_tls=false\n\nport=9000\n"),
    ],
)
def test_config_file_formats(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert read_config_file(str(path)) == {"access_key": "AK", "use_tls": "false", "port": "9000"}


def test_ini_section_must_be_named_when_several(tmp_path: Path) -> None:
    path = tmp_path / "c.ini"
    path.write_text("[a]\nk = 1\n[b]\nk = 2\n")
    with pytest.raises(CliError, match="SECTION"):
        read_config_file(str(path))
    assert read_config_file(f"{path}#b") == {"k": "2"}


def test_precedence_file_then_env_then_argv(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"a": "file", "b": "file", "c": "file"}))
    env = {"KLOSET_SRC_B": "env", "KLOSET_SRC_C": "env", "KLOSET_DST_A": "other role"}
    proto, cfg = build_config("s3://h/b", "src", ["c=argv"], [str(path)], environ=env)
    assert proto == "s3"
    assert cfg == {"a": "file", "b": "env", "c": "argv", "location": "s3://h/b"}


def test_prefixed_options_and_errors() -> None:
    assert split_prefixed(["src.a=1", "dst:b=2", "dest.c=3"]) == (["a=1"], ["b=2", "c=3"])
    with pytest.raises(CliError, match="prefix the key"):
        split_prefixed(["a=1"])
    with pytest.raises(CliError, match="key=value"):
        build_config("s3://h/b", "src", ["novalue"], environ={})


def test_redacted_hides_secrets() -> None:
    shown = redacted({"secret_access_key": "x", "password": "y", "location": "s3://h", "port": "1"})
    assert shown == {
        "secret_access_key": "***",
        "password": "***",
        "location": "s3://h",
        "port": "1",
    }


def test_env_is_read_from_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLOSET_STORE_ACCESS_KEY", "from-env")
    assert build_config("s3://h/b", "store")[1]["access_key"] == "from-env"
    assert "KLOSET_STORE_ACCESS_KEY" in os.environ
