"""Integrations by name and protocol, resolved lazily (fsspec's registry, via entry points).

An integration package `kloset_<name>` declares in its `__init__`:

    NAME = "s3"
    PROTOCOLS = ("s3",)

and serves kind K with the one concrete connector class of module `kloset_<name>.<K>`, by
convention. An explicit `CONNECTORS = {"importer": "pkg.mod:Class", ...}` still wins; a value
without ":" names a module whose one concrete class serves that kind.

Classes are imported only when Init arrives, after the gRPC server is up, so a plugin answers
the host's HTTP/2 handshake before paying for boto3 or googleapiclient imports (P17).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from types import ModuleType
from typing import Any, NoReturn

from .connector import Connector
from .errors import ConfigError, Fatal

GROUP = "kloset.integrations"
#: Integrations whose libraries come with an extra of the same name (pyproject.toml).
EXTRAS = ("s3", "sftp", "gdrive", "onedrive")

#: Protocols Plakar registers itself, per connector kind (docs/PROTOCOL.md: Manifests and packages):
#: never reuse them.
BUILTIN = {
    "importer": {"fs", "stdin", "tar", "tar+gz", "tar+gzip", "tgz"},
    "exporter": {"fs", "stdout", "stderr"},
    "storage": {"fs", "http", "https", "ptar", "ptar+http", "ptar+https"},
}


def module_for(name: str) -> ModuleType:
    """The integration package for an integration name or one of its protocols.

    `kloset_<name>` is tried before the entry points: reading every installed distribution's
    metadata costs a plugin about 12 ms of its start-up, and a plugin's own package is named so.
    """
    mod_name = f"kloset_{name}"
    if importlib.util.find_spec(mod_name) is None:
        from importlib.metadata import entry_points

        for ep in entry_points(group=GROUP):
            if ep.name == name:
                mod_name = ep.value
                break
    try:
        return importlib.import_module(mod_name)
    except ModuleNotFoundError as exc:
        if exc.name == mod_name:
            raise Fatal(f'no integration named "{name}" is installed') from None
        raise Fatal(
            f'integration "{name}" needs {exc.name}: {_install_hint(mod_name, exc.name)}'
        ) from None


KINDS = ("importer", "exporter", "storage")


def connector_specs(mod: ModuleType) -> dict[str, str]:
    """kind -> "module[:Class]" for an integration package, without importing the modules.

    An explicit `CONNECTORS` wins; otherwise each kind whose module `<package>.<kind>` exists.
    """
    table = getattr(mod, "CONNECTORS", None)
    if table is not None:
        return dict(table)
    found: dict[str, str] = {}
    for kind in KINDS:
        name = f"{mod.__name__}.{kind}"
        if importlib.util.find_spec(name) is not None:
            found[kind] = name
    return found


def load_class(spec: str) -> type[Connector[Any]]:
    """Import a "module:Class" spec, or the one concrete connector of a bare module name."""
    mod, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(mod)
    except ModuleNotFoundError as exc:
        raise Fatal(f"{spec} needs {exc.name}: {_install_hint(mod, exc.name)}") from None
    cls = getattr(module, attr) if attr else _sole_connector(module)
    assert isinstance(cls, type)
    return cls


def _sole_connector(module: ModuleType) -> type[Connector[Any]]:
    """The one concrete connector class (one with a `type_name`) defined in `module`."""
    found = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, Connector)
        and obj.__module__ == module.__name__
        and obj.type_name
    ]
    if len(found) != 1:
        names = ", ".join(sorted(c.__name__ for c in found)) or "none"
        raise Fatal(
            f"{module.__name__}: expected one concrete connector class (with a type_name), "
            f"found {len(found)} ({names}); name it in CONNECTORS"
        )
    return found[0]


class LazyConnectors(Mapping[str, type[Connector[Any]]]):
    """protocol -> connector class, importing the class on first lookup."""

    def __init__(self, protocols: tuple[str, ...], spec: str) -> None:
        self._protocols = protocols
        self._spec = spec
        self._cls: type[Connector[Any]] | None = None

    def __getitem__(self, proto: str) -> type[Connector[Any]]:
        if proto not in self._protocols:
            raise KeyError(proto)
        if self._cls is None:
            self._cls = load_class(self._spec)
        return self._cls

    def __iter__(self) -> Any:
        return iter(self._protocols)

    def __len__(self) -> int:
        return len(self._protocols)


def connectors(name: str, kind: str) -> LazyConnectors:
    mod = module_for(name)
    table = connector_specs(mod)
    if kind not in table:
        raise ConfigError("kind", f'integration "{name}" has no {kind} (has: {", ".join(table)})')
    protocols = tuple(mod.PROTOCOLS)
    clash = BUILTIN.get(kind, set()) & set(protocols)
    if clash:
        raise Fatal(f"{name}: protocol {', '.join(sorted(clash))} is a Plakar built-in {kind}")
    return LazyConnectors(protocols, table[kind])


def serve_integration(name: str, kind: str) -> NoReturn:
    from .entrypoint import serve

    serve(kind, connectors(name, kind))


def _install_hint(module: str, missing: str | None) -> str:
    """The pip line that brings the missing library: the integration's extra (pyproject)."""
    package, _, _ = module.partition(".")
    extra = package.removeprefix("kloset_")
    if extra in EXTRAS:
        return f"install it (pip install 'kloset-connectors[{extra}]')"
    if package.startswith("kloset_"):
        return "install it (pip install kloset-connectors)"
    return f"install it (pip install {missing})"
