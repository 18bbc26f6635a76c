"""Config options declared once per connector, as a dataclass (rclone's option list, typed).

    @dataclass(frozen=True)
    class S3Options:
        location: str = option(required=True, help="s3://<endpoint>/<bucket>[/prefix]")
        use_tls: bool = option(True, help="Talk TLS to the endpoint.")
        secret_access_key: str | None = option(None, secret=True)

From that one declaration the SDK derives the JSON Schema of each connector kind (written to
manifests/ by scripts/gen, and the manifest's `validator`), coerces Plakar's all-string config
map into typed values, checks them against the same declaration, and hands the connector a
typed instance. Errors name the key and never echo a secret.

The check at Init reads the declaration, not the schema: a JSON Schema library costs a plugin
about a third of its start-up (importing jsonschema takes 60-80 ms here, and Plakar spawns a
plugin per connector use). The schemas use a handful of keywords, all checked in `_violation`;
tests/sdk/test_options_check.py holds it equal to jsonschema on every connector's schema.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar, get_args, get_origin

from . import log
from .errors import ConfigError

T = TypeVar("T")
KINDS = ("importer", "exporter", "storage")
_TRUE = {"true", "1", "yes", "on", "y", "t"}
_FALSE = {"false", "0", "no", "off", "n", "f", ""}
#: The longest value any option takes (a PEM private key or an excludes list fits many times).
MAX_VALUE = 65_536
_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
#: C0 controls but tab, newline and carriage return; DEL; C1 controls. A location (one line)
#: refuses tab, newline and carriage return too.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROL_LOCATION = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: What every option value accepts, said under each generated options table (scripts/gen).
VALUE_RULES = (
    "Values: integers are decimal digits with an optional sign (no `0x`, no `_`), and an empty"
    " integer means the default; booleans are true/false, yes/no, on/off, 1/0 (empty is false);"
    " numbers are finite decimals; lists are comma-separated or a JSON list. No value is longer"
    f" than {MAX_VALUE:,} characters or holds a control character (`location` not even a tab or"
    " a newline). Anything else is refused at Init with a message naming the key."
)


def option(
    default: Any = dataclasses.MISSING,
    *,
    required: bool = False,
    help: str = "",
    secret: bool = False,
    kinds: typing.Iterable[str] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    pattern: str | None = None,
    min_length: int | None = None,
    advanced: bool = False,
    aliases: Mapping[str, Callable[[Any], Any] | None] | None = None,
) -> Any:
    """Declare one config key; see the module docstring.

    `aliases` maps old names that stay accepted to None, or to a function turning a value given
    under that name (already typed) into this option's value (e.g. MiB to bytes).
    """
    meta = {
        "help": help,
        "secret": secret,
        "required": required,
        "kinds": frozenset(kinds) if kinds else frozenset(KINDS),
        "minimum": minimum,
        "maximum": maximum,
        "pattern": pattern,
        "min_length": min_length,
        "advanced": advanced,
        "aliases": dict(aliases or {}),
    }
    if required and default is dataclasses.MISSING:
        default = None
    if isinstance(default, list):
        return dataclasses.field(default_factory=functools.partial(list, default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True)
class OptionSpec:
    name: str
    kind: str  # "string", "boolean", "integer", "number", "array"
    optional: bool
    enum: tuple[str, ...] | None
    default: Any
    meta: Mapping[str, Any]

    @property
    def secret(self) -> bool:
        return bool(self.meta.get("secret"))

    @property
    def required(self) -> bool:
        return bool(self.meta.get("required"))


def specs(cls: type) -> list[OptionSpec]:
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        optional = False
        args = get_args(tp)
        if get_origin(tp) in (typing.Union, types.UnionType) and type(None) in args:
            optional = True
            rest = [a for a in args if a is not type(None)]
            tp = rest[0]
        enum = None
        if get_origin(tp) is Literal:
            enum = tuple(str(a) for a in get_args(tp))
            kind = "string"
        elif tp is bool:
            kind = "boolean"
        elif tp is int:
            kind = "integer"
        elif tp is float:
            kind = "number"
        elif tp is str:
            kind = "string"
        elif get_origin(tp) is list:
            kind = "array"
        else:
            raise TypeError(f"{cls.__name__}.{f.name}: unsupported option type {tp!r}")
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        out.append(OptionSpec(f.name, kind, optional, enum, default, f.metadata))
    return out


def schema_for(cls: type, kind: str, title: str = "") -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of `cls` for one connector kind."""
    props: dict[str, Any] = {}
    required = []
    for s in specs(cls):
        if kind not in s.meta.get("kinds", KINDS):
            continue
        prop: dict[str, Any] = {"type": s.kind}
        if s.kind == "array":
            prop["items"] = {"type": "string"}
        if s.enum:
            prop["enum"] = list(s.enum)
        if s.default is not None and not s.required:
            prop["default"] = s.default
        for k, jk in (
            ("minimum", "minimum"),
            ("maximum", "maximum"),
            ("pattern", "pattern"),
            ("min_length", "minLength"),
        ):
            if s.meta.get(k) is not None:
                prop[jk] = s.meta[k]
        if s.meta.get("help"):
            prop["description"] = s.meta["help"]
        if s.secret:
            prop["writeOnly"] = True
        props[s.name] = prop
        for alias, convert in s.meta.get("aliases", {}).items():
            props[alias] = {
                "type": s.kind,
                **({"items": {"type": "string"}} if s.kind == "array" else {}),
                "description": f"Old name of {s.name}, still accepted{alias_note(convert)}.",
                "deprecated": True,
                **({"writeOnly": True} if s.secret else {}),
            }
        if s.required:
            required.append(s.name)
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title or f"{cls.__name__} ({kind})",
        "type": "object",
        "additionalProperties": False,
        "properties": props,
    }
    if required:
        schema["required"] = required
    return schema


def alias_note(convert: Callable[[Any], Any] | None) -> str:
    """What differs under an old name (its converter's docstring, e.g. "counted in MiB")."""
    return f" ({convert.__doc__.strip()})" if convert and convert.__doc__ else ""


def _check_text(spec: OptionSpec, raw: str) -> None:
    """The rules of VALUE_RULES every option shares, whatever its type (never echoes a value)."""
    if len(raw) > MAX_VALUE:
        raise ConfigError(spec.name, f"{len(raw):,} characters, over the {MAX_VALUE:,} allowed")
    bad = (_CONTROL_LOCATION if spec.name == "location" else _CONTROL).search(raw)
    if bad:
        raise ConfigError(
            spec.name, f"holds a control character (U+{ord(bad.group()):04X}), which no value may"
        )


def _coerce(spec: OptionSpec, raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    _check_text(spec, raw)
    shown = "<secret>" if spec.secret else json.dumps(raw)
    if spec.kind == "boolean":
        v = raw.strip().lower()
        if v in _TRUE:
            return True
        if v in _FALSE:
            return False
        raise ConfigError(spec.name, f"expected true or false, got {shown}")
    if spec.kind == "integer":
        text = raw.strip()
        if not text:
            return None
        if not _INTEGER.fullmatch(text):
            raise ConfigError(spec.name, f"expected a decimal integer, got {shown}")
        return int(text)
    if spec.kind == "number":
        if not _NUMBER.fullmatch(raw.strip()):
            raise ConfigError(spec.name, f"expected a decimal number, got {shown}")
        num = float(raw.strip())
        if not math.isfinite(num):
            raise ConfigError(spec.name, f"expected a finite number, got {shown}")
        return num
    if spec.kind == "array":
        text = raw.strip()
        if text.startswith("["):
            try:
                val = json.loads(text)
            except ValueError:
                raise ConfigError(spec.name, f"expected a JSON list, got {shown}") from None
            return val
        return [p.strip() for p in text.split(",") if p.strip()]
    return raw


def parse(cls: type[T], config: Mapping[str, str], kind: str) -> T:
    """Coerce, validate and instantiate `cls` from Plakar's string map for connector `kind`."""
    all_specs = {s.name: s for s in specs(cls)}
    allowed = {n: s for n, s in all_specs.items() if kind in s.meta.get("kinds", KINDS)}
    old_names = {a: s.name for s in all_specs.values() for a in s.meta.get("aliases", {})}
    given: dict[str, str] = {}  # option name -> the key the config used for it
    for key in sorted(config):
        name = old_names.get(key, key)
        if name not in allowed:
            known = ", ".join(sorted(allowed))
            if name in all_specs:
                raise ConfigError(key, f"not an option of the {kind} (its options: {known})")
            raise ConfigError(key, f"unknown option (known options: {known})")
        if name in given:
            raise ConfigError(key, f"same option as {given[name]}: give only one of them")
        given[name] = key
    values: dict[str, Any] = {}
    for name, key in given.items():
        spec, raw = allowed[name], config[key]
        if spec.secret and isinstance(raw, str):
            log.register_secret(raw)
        val = _coerce(spec if key == name else dataclasses.replace(spec, name=key), raw)
        if val is None and spec.kind != "string":
            continue
        convert = spec.meta["aliases"].get(key) if key != name else None
        values[name] = convert(val) if convert else val
    for name in sorted(values):
        problem = _violation(allowed[name], values[name])
        if problem:
            raise ConfigError(given[name], problem)
    inst = cls(**values)
    for s in allowed.values():
        val = getattr(inst, s.name)
        if s.required and (val is None or val == ""):
            raise ConfigError(s.name, "is required")
    validate = getattr(inst, "validate", None)
    if validate is not None:  # cross-field checks a schema cannot express; raise ConfigError(key)
        validate()
    return inst


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
    "array": (list,),
}


def _violation(spec: OptionSpec, val: Any) -> str | None:
    """What is wrong with a coerced value under its declaration, in schema terms, or None.

    The keywords schema_for writes (type, items, enum, minimum, maximum, pattern, minLength),
    in the order it writes them, with JSON Schema's meaning (an integral float is an integer);
    a secret's value is never shown.
    """
    shown = "<secret>" if spec.secret else json.dumps(val, default=repr)
    wanted = _JSON_TYPES[spec.kind]
    integral = spec.kind == "integer" and isinstance(val, float) and val.is_integer()
    if not (isinstance(val, wanted) or integral) or (
        spec.kind != "boolean" and isinstance(val, bool)
    ):
        return f"{shown} is not of type {spec.kind}"
    if isinstance(val, list):
        for item in val:
            if not isinstance(item, str):
                return (
                    f"list item {'<secret>' if spec.secret else json.dumps(item)} is not a string"
                )
        return None
    if spec.enum and val not in spec.enum:
        return f"{shown} is not one of {', '.join(spec.enum)}"
    low, high = spec.meta.get("minimum"), spec.meta.get("maximum")
    if low is not None and val < low:
        return f"{shown} is less than the minimum of {low}"
    if high is not None and val > high:
        return f"{shown} is greater than the maximum of {high}"
    if not isinstance(val, str):
        return None
    pattern, min_length = spec.meta.get("pattern"), spec.meta.get("min_length")
    if pattern is not None and not re.search(pattern, val):
        return f"{shown} does not match {pattern}"
    if min_length is not None and len(val) < min_length:
        return (
            "must not be empty" if min_length == 1 else f"is shorter than {min_length} characters"
        )
    return None


def secret_values(opts: Any) -> list[str]:
    return [
        str(getattr(opts, s.name))
        for s in specs(type(opts))
        if s.secret and getattr(opts, s.name, None)
    ]
