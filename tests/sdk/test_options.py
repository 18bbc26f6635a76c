from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kloset_sdk import ConfigError, log
from kloset_sdk.options import option, parse, schema_for


@dataclass(frozen=True)
class Opts:
    location: str = option(required=True, help="x://")
    use_tls: bool = option(True)
    port: int | None = option(None, minimum=1, maximum=65535)
    storage_class: Literal["STANDARD", "GLACIER"] = option("STANDARD", kinds={"storage"})
    secret: str | None = option(None, secret=True, min_length=8)
    excludes: list[str] = option([])


def test_coercion_and_defaults() -> None:
    o = parse(
        Opts,
        {"location": "x://a", "use_tls": "false", "port": "9000", "excludes": "a,b"},
        "storage",
    )
    assert o == Opts("x://a", False, 9000, "STANDARD", None, ["a", "b"])


@pytest.mark.parametrize(
    ("config", "kind", "key", "fragment"),
    [
        ({}, "storage", "location", "required"),
        ({"location": "x://", "bogus": "1"}, "storage", "bogus", "unknown option"),
        ({"location": "x://", "use_tls": "maybe"}, "storage", "use_tls", "true or false"),
        ({"location": "x://", "port": "abc"}, "storage", "port", "integer"),
        ({"location": "x://", "port": "70000"}, "storage", "port", "65535"),
        ({"location": "x://", "port": "1_0"}, "storage", "port", "decimal integer"),
        ({"location": "x://", "port": "0x10"}, "storage", "port", "decimal integer"),
        ({"location": "x://", "port": "\u0661\u0662"}, "storage", "port", "decimal integer"),
        ({"location": "x://a\nb"}, "storage", "location", "control character (U+000A)"),
        ({"location": "x://", "excludes": "a\x00b"}, "storage", "excludes", "U+0000"),
        ({"location": "x://", "excludes": "a" * 65_537}, "storage", "excludes", "65,537"),
        (
            {"location": "x://", "storage_class": "GLACIERX"},
            "storage",
            "storage_class",
            "not one of",
        ),
        (
            {"location": "x://", "storage_class": "GLACIER"},
            "importer",
            "storage_class",
            "not an option",
        ),
    ],
)
def test_errors_name_the_key(config: dict[str, str], kind: str, key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as ei:
        parse(Opts, config, kind)
    assert ei.value.key == key
    assert str(ei.value).startswith(f"{key}: ")
    assert fragment in str(ei.value)


def test_secret_never_echoed() -> None:
    with pytest.raises(ConfigError) as ei:
        parse(Opts, {"location": "x://", "secret": "short7!"}, "storage")
    assert "short7!" not in str(ei.value)
    assert log.redact("token short7! here") == "token *** here"


def test_schema_per_kind() -> None:
    s = schema_for(Opts, "importer")
    assert s["additionalProperties"] is False
    assert "storage_class" not in s["properties"]
    assert s["required"] == ["location"]
    assert schema_for(Opts, "storage")["properties"]["port"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 65535,
    }


@given(st.dictionaries(st.text(max_size=20), st.text(max_size=200), max_size=5))
def test_any_string_map_gives_config_error_or_options(config: dict[str, str]) -> None:
    try:
        parse(Opts, {"location": "x://", **config}, "storage")
    except ConfigError as exc:
        assert "\n" not in str(exc)
        assert exc.key in config or exc.key == "location"


def test_value_rules_keep_what_is_legal() -> None:
    """A newline is fine outside the location (a PEM key), and so is a value of 64 KiB."""
    o = parse(Opts, {"location": "x://a", "excludes": "a\tb\nc", "port": "+80"}, "storage")
    assert o.excludes == ["a\tb\nc"] and o.port == 80
    assert parse(Opts, {"location": "x://" + "a" * 65_532}, "storage").location.endswith("a")


def test_location_with_two_at_signs_is_refused() -> None:
    from kloset_sdk import parse_location

    with pytest.raises(ConfigError, match="more than one @") as ei:
        parse_location("s3://user@@127.0.0.1/x")
    assert ei.value.key == "location"
    assert parse_location("sftp://us%40er@h/x").user == "us@er"
