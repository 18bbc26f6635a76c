"""`klosetctl login gdrive|onedrive`: run the integration's own login flow, print config lines.

The flows live in the integrations (`kloset_gdrive.auth`, `kloset_onedrive.login`): this module
only picks one from the flags and passes through the arguments the function accepts, so an
integration can evolve its signature without a CLI change.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import shlex
import sys
from collections.abc import Callable, Mapping
from typing import Any

from .config import CliError, parse_pairs

#: service -> (module, {flow: function}); each integration keeps its flows where it likes.
FLOWS = {
    "gdrive": (
        "kloset_gdrive.auth",
        {"default": "login_installed_app", "headless": "login_headless"},
    ),
    "onedrive": (
        "kloset_onedrive.login",
        {
            "default": "login_auth_code",
            "device": "login_device_code",
            "headless": "login_device_code",
        },
    ),
}
#: What each flow cannot do without (asked for on the command line, never guessed).
REQUIRED = {"gdrive": ("client_id", "client_secret"), "onedrive": ("client_id",)}


def _pick(service: str, a: argparse.Namespace) -> Callable[..., Any]:
    mod_name, names = FLOWS[service]
    try:
        mod = importlib.import_module(mod_name)
    except ModuleNotFoundError as exc:
        raise CliError(
            f"login {service}: the {service} integration is not installed ({exc})"
        ) from None
    want = "device" if a.device_code else ("headless" if a.headless else "default")
    for name in (names.get(want), names["default"]):
        fn = getattr(mod, name or "", None)
        if callable(fn):
            return fn  # type: ignore[no-any-return]
    raise CliError(f"login {service}: {mod_name} has no {names.get(want)}()")


def _accepted(fn: Callable[..., Any], service: str) -> set[str]:
    """Keyword names `fn` takes; a `**kw` wrapper (gdrive's login_headless) takes those of the
    service's default flow, which it forwards to."""
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        mod_name, names = FLOWS[service]
        default = getattr(importlib.import_module(mod_name), names["default"])
        if default is not fn:
            return _accepted(default, service)
    return {n for n, p in params.items() if p.kind is not inspect.Parameter.VAR_KEYWORD}


def _call(fn: Callable[..., Any], a: argparse.Namespace) -> Any:
    params = _accepted(fn, a.service)
    missing = [k for k in REQUIRED[a.service] if not getattr(a, k)]
    if missing:
        flags = " ".join(f"--{k.replace('_', '-')} ..." for k in missing)
        raise CliError(f"login {a.service}: give {flags} (your OAuth app registration)")
    given: dict[str, Any] = {
        "client_id": a.client_id,
        "client_secret": a.client_secret,
        "tenant": a.tenant,
        "token_file": a.token_file,
        "token_path": a.token_file,
        "scope": a.scope,
        "headless": a.headless or None,
        "open_browser": False if a.headless else None,
    }
    given.update(parse_pairs(a.option, what="-o"))
    unknown = [k for k in parse_pairs(a.option) if k not in params]
    if unknown:
        raise CliError(f"login {a.service}: {fn.__name__}() takes no {', '.join(unknown)}")
    kwargs = {k: v for k, v in given.items() if v is not None and k in params}
    return fn(**kwargs)


def config_lines(service: str, result: Any, a: argparse.Namespace) -> dict[str, str]:
    """What to put in `plakar source|destination|store add`: exactly the flow's answer.

    Nothing is added from the command line: the flow knows which of its inputs are connector
    options (both print the declared `token_file`, a gdrive token file already holds the
    client id and secret), and a key it did not return would be refused by the connector.
    """
    if isinstance(result, Mapping):
        return {str(k): str(v) for k, v in result.items() if v is not None}
    if isinstance(result, str) and result:
        return {"token_file": result}
    raise CliError(f"login {service}: the login flow returned no configuration")


#: Suggested locations, per kind: the whole drive, a folder to restore into, one for a
#: repository. Real locations (not `<folder>`), so the lines work as printed.
SUGGESTED = (("source", ""), ("destination", "Restored"), ("store", "plakar"))


def plakar_commands(service: str, lines: Mapping[str, str]) -> list[str]:
    """`plakar source|destination|store add ...` lines, shell-quoted."""
    root = f"{service}://" if service == "gdrive" else f"{service}:///"
    pairs = " ".join(shlex.quote(f"{k}={v}") for k, v in lines.items())
    return [f"plakar {kind} add my{service} {root}{folder} {pairs}" for kind, folder in SUGGESTED]


def run_login(a: argparse.Namespace) -> int:
    fn = _pick(a.service, a)
    result = _call(fn, a)
    lines = config_lines(a.service, result, a)
    proto = a.service
    out = sys.stdout
    out.write(
        f"# logged in to {proto}; add these options to a Plakar source, destination or store:\n"
    )
    for k, v in lines.items():
        out.write(f"{k}={v}\n")
    out.write("\n")
    for cmd in plakar_commands(proto, lines):
        out.write(f"#   {cmd}\n")
    return 0
