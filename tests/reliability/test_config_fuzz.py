"""Broken configs: Init fails with one clear line naming the key, never a traceback.

Property-based (hypothesis, bounded and derandomized): start from a config that works and apply
one mutation (an unknown key, a wrong type, an empty or huge value, control characters, a
malformed location). In-process, run what Init runs (`options.parse` of the connector's options
class, the constructor, `identity()`): it either succeeds or raises an error whose status message
(`kloset_sdk.errors.status_of`, what the host receives) is one short line, names the key (for a
ConfigError), and never shows a secret. Then a handful of the same mutations go through real
plugin processes, to prove the status the host gets and that the process stays usable.

Name resolution is short-circuited in-process (anything but loopback is "unknown host" at once):
this machine has no network, and a DNS timeout per example would only measure the resolver.
"""

from __future__ import annotations

import math
import re
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from kloset_sdk import KlosetError, options
from kloset_sdk.connector import Connector, InitContext
from kloset_sdk.errors import ConfigError, status_of
from kloset_sdk.harness import ExporterClient, ImporterClient, PluginProcess, StoreClient
from tests.reliability.backends import PROTO, make_backend
from tests.reliability.common import Scenario, assert_clear, plugin_environment, status

EXAMPLES = 40
CONNECTORS = ["sdk", "fs", "s3", "sftp", "gdrive", "onedrive"]
KINDS = ("importer", "exporter", "storage")
HUGE = 200_000


def connector_class(name: str, kind: str) -> type[Connector[Any]]:
    """The connector class; an integration whose module fails to import fails the test."""
    if name == "sdk":
        if kind == "storage":
            from kloset_sdk.examples.memstore import MemStorage

            return MemStorage
        from kloset_sdk.examples.tree import TreeExporter, TreeImporter

        return TreeImporter if kind == "importer" else TreeExporter
    from kloset_sdk.registry import connectors

    table = connectors(name, kind)
    return table[next(iter(table))]


def _sdk_proto(kind: str) -> str:
    return "mem" if kind == "storage" else "tree"


@dataclass
class Subject:
    name: str
    kind: str
    cls: type[Connector[Any]]
    proto: str
    base: dict[str, str]

    def specs(self) -> dict[str, options.OptionSpec]:
        return {
            s.name: s
            for s in options.specs(self.cls.options_class)
            if self.kind in s.meta.get("kinds", KINDS)
        }


def subjects(name: str, request: pytest.FixtureRequest, tmp: Path) -> list[Subject]:
    """One subject per kind: every kind exists for every connector, so none may be missing."""
    out = []
    for kind in KINDS:
        cls = connector_class(name, kind)
        if name == "sdk":
            d = tmp / "tree"
            d.mkdir(exist_ok=True)
            base = {"location": "mem://fuzz"} if kind == "storage" else {"location": f"tree://{d}"}
            out.append(Subject(name, kind, cls, _sdk_proto(kind), base))
            continue
        backend = make_backend(name, kind, request, tmp / kind)
        base = dict(backend.config)
        if name == "sftp":
            base["connect_timeout"] = "10"
        out.append(Subject(name, kind, cls, PROTO[name], base))
    return out


# -- mutations -----------------------------------------------------------------------------------

JUNK = st.text(
    alphabet=st.characters(codec="utf-8") | st.sampled_from("\x00\n\r\t%/:@[]"),
    max_size=40,
)
BAD_NUMBERS = st.sampled_from(
    ["", " ", "abc", "1.5", "1e400", "-1", "0", "0x", "99999999999999999999999", "NaN", "∞", "1_0"]
)
BAD_BOOLS = st.sampled_from(["", "maybe", "2", "TRUE!", "nope", "-1", "yes please", "\x00"])


def malformed_locations(proto: str) -> st.SearchStrategy[str]:
    fixed = [
        "",
        f"{proto}",
        f"{proto}:",
        f"{proto}://",
        f"{proto}:///",
        f"{proto}://relative/../..",
        f"{proto}://user@:22/x",
        f"{proto}://[::1/x",
        f"{proto}://127.0.0.1:99999/x",
        f"{proto}://127.0.0.1:abc/x",
        f"{proto}://user@@127.0.0.1/x",
        f"{proto}://%zz/x",
        f"{proto}://127.0.0.1/\x00",
        f"{proto}://127.0.0.1/a b/../../c",
        "ftp://127.0.0.1/x",
        "://x",
        "/just/a/path",
        f"{proto.upper()}://127.0.0.1/x",
        f"{proto}:relative",
        f"{proto}://unknown-host.invalid/x",
    ]
    return st.sampled_from(fixed) | JUNK.map(lambda j: f"{proto}://{j}")


@dataclass(frozen=True)
class Mutation:
    """One broken thing; kept small so hypothesis prints it readably (huge values are built)."""

    what: str
    key: str
    value: str
    repeat: int = 1

    def apply(self, base: Mapping[str, str]) -> dict[str, str]:
        config = dict(base)
        config[self.key] = self.value * self.repeat
        return config


@st.composite
def mutation(draw: st.DrawFn, subj: Subject) -> Mutation:
    """The base config with one thing broken."""
    specs = subj.specs()
    what = draw(
        st.sampled_from(
            ["unknown key", "wrong type", "empty", "huge", "junk", "malformed location"]
        )
    )
    if what == "unknown key":
        key = draw(
            st.sampled_from(["locaton", "Location", "location ", "", "x" * 300, "\x00"])
            | JUNK.filter(lambda k: k not in specs)
        )
        return Mutation(what, key, draw(JUNK))
    if what == "malformed location":
        return Mutation(what, "location", draw(malformed_locations(subj.proto)))
    if what == "wrong type":
        typed = sorted(k for k, s in specs.items() if s.kind in ("boolean", "integer", "number"))
        if typed:
            key = draw(st.sampled_from(typed))
            bad = BAD_BOOLS if specs[key].kind == "boolean" else BAD_NUMBERS
            return Mutation(what, key, draw(bad))
        what = "junk"
    key = draw(st.sampled_from(sorted(specs)))
    if what == "empty":
        return Mutation(what, key, "")
    if what == "huge":
        return Mutation(what, key, draw(st.sampled_from(["x", "/", "%", "é", "1"])), HUGE)
    return Mutation(what, key, draw(JUNK))


# -- in-process ---------------------------------------------------------------------------------


def _loopback_only() -> Iterator[None]:
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kw: Any) -> Any:
        h = host.decode() if isinstance(host, bytes) else str(host)
        if h not in ("127.0.0.1", "localhost", "::1", "0.0.0.0"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kw)

    socket.getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        socket.getaddrinfo = real


def _fast_botocore(monkeypatch: pytest.MonkeyPatch) -> None:
    """One botocore session for every example: a new one costs ~0.5 s of JSON loading."""
    try:
        import botocore.session
    except ImportError:
        return
    shared = botocore.session.Session()
    real = botocore.session.Session

    def session(*args: Any, **kw: Any) -> Any:
        return shared if not args and not kw.get("profile") else real(*args, **kw)

    monkeypatch.setattr(botocore.session, "Session", session)


def init_in_process(subj: Subject, config: Mapping[str, str]) -> BaseException | None:
    """What Init does: parse, construct, identity; the error raised, if any."""
    try:
        opts = options.parse(subj.cls.options_class, config, subj.kind)
        conn = subj.cls(opts, InitContext(kind=subj.kind, proto=subj.proto, config=config))
        try:
            conn.identity()
        finally:
            conn.close()
    except Exception as exc:  # judged below
        return exc
    return None


# What every option accepts (kloset_sdk.options.VALUE_RULES, under each README's options table),
# written out here so the test does not borrow the product's own definitions.
MAX_VALUE = 65_536
INTEGER = re.compile(r"[+-]?[0-9]+")
NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
CONTROL_LOCATION = re.compile(r"[\x00-\x1f\x7f-\x9f]")
BOOLEANS = {"true", "false", "yes", "no", "on", "off", "1", "0", "y", "n", "t", "f", ""}
#: Locations naming a host (and maybe a user and a port), as opposed to a path or a name.
HOST_LOCATIONS = {"s3", "sftp"}


def must_refuse(subj: Subject, what: str, key: str, value: str) -> str:
    """Why this broken value is outside what the option accepts ("" if it is a legal value).

    A value that is odd but legal (a Drive folder called "user@@127.0.0.1", a password of
    random letters, an empty optional value) may be accepted; these may not.
    """
    if what == "unknown key":
        return "an unknown key"
    if len(value) > MAX_VALUE:
        return f"a value over {MAX_VALUE:,} characters"
    if (CONTROL_LOCATION if key == "location" else CONTROL).search(value):
        return "a control character"
    spec = subj.specs()[key]
    text = value.strip()
    if spec.required and not text:
        return "an empty required value"
    if spec.kind == "integer" and text:
        if not INTEGER.fullmatch(text):
            return "not a decimal integer"
        low, high = spec.meta.get("minimum"), spec.meta.get("maximum")
        if (low is not None and int(text) < low) or (high is not None and int(text) > high):
            return "an integer out of range"
    if spec.kind == "number" and (not NUMBER.fullmatch(text) or not math.isfinite(float(text))):
        return "not a finite decimal number"
    if spec.kind == "boolean" and text.lower() not in BOOLEANS:
        return "not a boolean"
    if key == "location" and not (subj.name == "sdk" and subj.kind == "storage"):
        proto, sep, rest = value.partition(":")
        if not sep or proto.lower() != subj.proto:
            return "a location of another protocol"
        if subj.proto in HOST_LOCATIONS:
            authority = rest.removeprefix("//").split("/", 1)[0]
            user, _, hostport = authority.rpartition("@")
            host, port = hostport, ""
            if ":" in hostport.rsplit("]", 1)[-1]:
                host, port = hostport.rsplit(":", 1)
            if user.count("@") or (subj.proto == "s3" and "@" in authority):
                return "a user part the location cannot have"
            if port and not (port.isdigit() and port.isascii() and 0 < int(port) < 65536):
                return "a port that is not 1-65535"
            if not host:
                return "a location without a host"
    return ""


def judge(
    subj: Subject, what: str, key: str, config: Mapping[str, str], exc: BaseException | None
) -> str:
    """Raise if the outcome is not acceptable; else a short tag for the notes."""
    if exc is None:
        why = must_refuse(subj, what, key, config.get(key, ""))
        assert not why, f"{subj.kind}: {what} {key[:40]!r} accepted although it is {why}"
        return "accepted (a legal value)"
    code, msg = status_of(exc)
    context = f"{subj.kind} {what} {key[:40]!r}: {type(exc).__name__}: {msg[:300]!r}"
    assert isinstance(exc, KlosetError), f"not a KlosetError ({context})"
    assert_clear(msg)
    for k, v in config.items():
        spec = subj.specs().get(k)
        if spec is not None and spec.secret and len(v) >= 4:
            assert v not in msg, f"secret {k} shown in the message ({context})"
    if isinstance(exc, ConfigError):
        shown = key if key.isprintable() and key.strip() == key else None
        named = exc.key == key or (shown is not None and shown[:40] in msg)
        if not named:
            assert exc.key in config or exc.key in ("", "proto"), f"names no key ({context})"
            return "config error naming another key"
        return "config error naming the key"
    return f"{type(exc).__name__}"


@pytest.mark.parametrize("connector", CONNECTORS)
def test_config_mutations_in_process(
    connector: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    scenario: Scenario,
) -> None:
    """Init in-process with 40 broken configs: one clear line naming the key, or a legal value"""
    subs = subjects(connector, request, tmp_path)
    assert [s.kind for s in subs] == list(KINDS), f"{connector}: kinds {[s.kind for s in subs]}"
    _fast_botocore(monkeypatch)
    for s in subs:  # the unbroken configs work
        exc = init_in_process(s, s.base)
        assert exc is None, f"{s.kind}: the base config fails: {exc}"
    tags: dict[str, int] = {}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure prints as drawn
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        subj = data.draw(st.sampled_from(subs), label="connector")
        mut = data.draw(mutation(subj), label="mutation")
        what, key, config = mut.what, mut.key, mut.apply(subj.base)
        gen = _loopback_only()
        next(gen)
        try:
            exc = init_in_process(subj, config)
        finally:
            next(gen, None)
        tag = judge(subj, what, key, config, exc)
        tags[tag] = tags.get(tag, 0) + 1
        scenario.runs += 1

    check()
    scenario.note(", ".join(f"{n} {t}" for t, n in sorted(tags.items())))


# -- through real plugin processes -----------------------------------------------------------


def _client(kind: str, proc: PluginProcess) -> Any:
    return {"storage": StoreClient, "exporter": ExporterClient, "importer": ImporterClient}[kind](
        proc
    )


def process_cases(subj: Subject) -> list[tuple[str, str, dict[str, str]]]:
    """Configs every connector must refuse (a value that is merely odd may be legal)."""
    specs = subj.specs()
    typed = sorted(k for k, s in specs.items() if s.kind in ("boolean", "integer", "number"))
    cases = [
        ("unknown key", "no_such_option", {**subj.base, "no_such_option": "1"}),
        ("huge unknown key", "x" * 40, {**subj.base, "x" * HUGE: "1"}),
        ("empty location", "location", {**subj.base, "location": ""}),
        ("location of another protocol", "location", {**subj.base, "location": "zz://x/y"}),
    ]
    if subj.name == "sdk" and subj.kind == "storage":
        cases.pop()  # the example memstore takes any location as a name
    for key in typed[:2]:
        cases.append(("wrong type", key, {**subj.base, key: "not a value\nat all"}))
        cases.append(("huge wrong type", key, {**subj.base, key: "é" * HUGE}))
    return cases


@pytest.mark.parametrize("connector", CONNECTORS)
def test_config_errors_through_the_plugin(
    connector: str, request: pytest.FixtureRequest, tmp_path: Path, scenario: Scenario
) -> None:
    """Broken configs through real plugin processes: INVALID_ARGUMENT, one line, key named"""
    subs = subjects(connector, request, tmp_path)
    assert [s.kind for s in subs] == list(KINDS), f"{connector}: kinds {[s.kind for s in subs]}"
    env = plugin_environment(tmp_path)
    for subj in subs:
        argv = make_argv(subj)
        with open(tmp_path / f"{subj.kind}.log", "wb") as log:
            with PluginProcess(argv, env=env, stderr=log) as proc:
                client = _client(subj.kind, proc)
                for what, key, config in process_cases(subj):
                    code, details, _ = status(partial(client.init, config, proto=subj.proto))
                    assert code == grpc.StatusCode.INVALID_ARGUMENT, (
                        subj.kind,
                        what,
                        code,
                        details,
                    )
                    assert_clear(details, names=[key])
                    scenario.runs += 1
                client.init(subj.base, proto=subj.proto)  # and the process is still usable
                assert proc.proc.poll() is None
        text = (tmp_path / f"{subj.kind}.log").read_text(errors="replace")
        assert "Traceback" not in text, f"{subj.kind}: a traceback on stderr:\n{text[-2000:]}"


def make_argv(subj: Subject) -> list[str]:
    from tests.conftest import example_argv, plugin_argv

    if subj.name == "sdk":
        return (
            example_argv("memstore") if subj.kind == "storage" else example_argv("tree", subj.kind)
        )
    return plugin_argv(subj.name, subj.kind)
