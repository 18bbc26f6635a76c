"""The identity endpoints msal talks to: OpenID discovery, token, device code, authorize.

The OAuth logic itself is in ``auth.py``; this module only maps requests onto it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from .state import GraphError
from .wire import Response, Route, json_response

if TYPE_CHECKING:
    from .emulator import GraphEmulator
    from .server import Handler


def route_auth(
    emu: GraphEmulator,
    h: Handler,
    method: str,
    tenant: str,
    what: str,
    query: dict[str, str],
    base: str,
) -> tuple[str, Route]:
    def form(body: bytes) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}

    def token_json(obj: dict[str, Any]) -> Response:
        headers = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}
        return Response(200, json.dumps(obj).encode(), headers, "application/json")

    if what.endswith("openid-configuration") and method == "GET":
        cfg = emu.auth.openid_configuration(base, tenant)
        return "discovery", lambda body: json_response(200, cfg)
    if what == "oauth2/v2.0/token" and method == "POST":
        return "token", lambda body: token_json(emu.auth.token(base, tenant, form(body)))
    if what == "oauth2/v2.0/devicecode" and method == "POST":
        return "devicecode", lambda body: token_json(emu.auth.devicecode(base, form(body)))
    if what == "oauth2/v2.0/authorize" and method == "GET":

        def authorize(body: bytes) -> Response:
            status, headers, page = emu.auth.authorize(query)
            ctype = headers.pop("Content-Type", None)
            return Response(status, page, headers, ctype)

        return "authorize", authorize
    raise GraphError(404, "itemNotFound", "Unknown identity endpoint")
