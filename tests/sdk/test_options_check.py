"""The Init-time check of option values agrees with jsonschema on every connector's schema.

kloset_sdk.options checks coerced values against the option declarations itself (importing a
JSON Schema library would cost every plugin start-up a third of its time); the manifests hand
Plakar the generated schema. These tests hold the two equal: for every option of every
integration's connectors, a value is refused by the SDK exactly when jsonschema refuses it
under the generated schema, and a refused value names the key and never shows a secret.
"""

from __future__ import annotations

import math
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kloset_sdk import ConfigError
from kloset_sdk.options import OptionSpec, _violation, parse, schema_for, specs
from kloset_sdk.registry import connector_specs, load_class, module_for

NAMES = ("fs", "s3", "sftp", "gdrive", "onedrive")
KINDS = ("importer", "exporter", "storage")


def _options() -> list[tuple[str, OptionSpec, dict[str, Any]]]:
    """(id, spec, property schema) for every option of every connector of every integration."""
    out = []
    for name in NAMES:
        for kind, path in sorted(connector_specs(module_for(name)).items()):
            cls = load_class(path).options_class
            props = schema_for(cls, kind)["properties"]
            for spec in specs(cls):
                if spec.name in props:
                    out.append((f"{name}-{kind}-{spec.name}", spec, props[spec.name]))
    return out


OPTIONS = _options()


def _candidates(spec: OptionSpec) -> st.SearchStrategy[Any]:
    """Values around every bound and rule the declaration has, and values of other types."""
    edges: list[Any] = [None, True, False, 0, -1, 1, 0.5, 1.0, math.inf, "", "x", [], ["a"], [1]]
    for key in ("minimum", "maximum"):
        bound = spec.meta.get(key)
        if bound is not None:
            edges += [bound, bound - 1, bound + 1, bound - 0.1, bound + 0.1, float(bound)]
    if spec.enum:
        edges += list(spec.enum) + [spec.enum[0].upper() + "?"]
    if spec.default is not None:
        edges.append(spec.default)
    return st.one_of(
        st.sampled_from(edges),
        st.integers(-(10**12), 10**12),
        st.floats(allow_nan=False),
        st.text(max_size=40),
        st.lists(st.one_of(st.text(max_size=5), st.integers()), max_size=3),
    )


@pytest.mark.parametrize(("spec", "prop"), [o[1:] for o in OPTIONS], ids=[o[0] for o in OPTIONS])
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_refused_exactly_when_jsonschema_refuses(
    spec: OptionSpec, prop: dict[str, Any], data: st.DataObject
) -> None:
    value = data.draw(_candidates(spec))
    ours = _violation(spec, value)
    theirs = list(jsonschema.Draft202012Validator(prop).iter_errors(value))
    assert (ours is None) == (not theirs), (value, ours, [e.message for e in theirs])


def test_every_schema_keyword_is_checked() -> None:
    """A keyword schema_for starts writing must be checked at Init too (or listed as prose)."""
    checked = {"type", "items", "enum", "minimum", "maximum", "pattern", "minLength"}
    prose = {"default", "description", "writeOnly", "deprecated"}
    used = {k for _, _, prop in OPTIONS for k in prop}
    assert used <= checked | prose, used - checked - prose


@pytest.mark.parametrize(
    ("name", "config", "key", "words"),
    [
        ("fs", {"location": "/r", "concurrency": "0"}, "concurrency", "less than the minimum of 1"),
        (
            "fs",
            {"location": "/r", "concurrency": "1000"},
            "concurrency",
            "greater than the maximum",
        ),
        ("fs", {"location": "/r", "workers": "0"}, "workers", "less than the minimum of 1"),
        ("s3", {"location": "http://h/b"}, "location", '"http://h/b" does not match ^s3://'),
    ],
)
def test_a_refused_value_names_the_key_the_config_used(
    name: str, config: dict[str, str], key: str, words: str
) -> None:
    cls = load_class(connector_specs(module_for(name))["importer"]).options_class
    with pytest.raises(ConfigError) as err:
        parse(cls, config, "importer")
    assert err.value.key == key and words in str(err.value)


def test_a_secret_is_never_shown() -> None:
    cls = load_class(connector_specs(module_for("sftp"))["storage"]).options_class
    secret = next(s for s in specs(cls) if s.secret and s.kind == "string")
    assert _violation(secret, 12345) == "<secret> is not of type string"
