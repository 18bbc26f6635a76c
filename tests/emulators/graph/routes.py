"""Routing: a request's method and path to (stats kind, handler); Graph routes check the
bearer token first, then pick the drive, the item address and the action."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import unquote

from .auth import AccessToken
from .delta_api import delta
from .downloads_api import download
from .identity_api import route_auth
from .items_api import children, content, delete, get_item, list_drives, mkdir, patch, versions
from .state import USER_NAME, USER_OID, USER_UPN, GraphError
from .uploads_api import create_session, put_simple, route_upload
from .wire import Addr, Response, Route, json_response

if TYPE_CHECKING:
    from .emulator import GraphEmulator
    from .server import Handler


def route(
    emu: GraphEmulator, h: Handler, method: str, path: str, query: dict[str, str]
) -> tuple[str, Route]:
    """Map a request to (stats kind, handler); raises GraphError for unknown routes."""
    base = h.server.base_url
    for prefix in ("/v1.0", "/beta"):
        if path == prefix or path.startswith(prefix + "/"):
            return route_graph(emu, h, method, path[len(prefix) :], query, base)
    if path == "/_layouts/15/download.aspx" and method in ("GET", "HEAD"):
        return "download", lambda body: download(emu, h, query)
    m = re.fullmatch(r"/up/([A-Za-z0-9_-]+)", path)
    if m:
        return route_upload(emu, h, method, m.group(1), base)
    m = re.fullmatch(r"/([^/]+)/(v2\.0/\.well-known/openid-configuration|oauth2/v2\.0/\w+)", path)
    if m:
        return route_auth(emu, h, method, m.group(1), m.group(2), query, base)
    if path == "/devicelogin":
        page = b"<html><body>Enter the code (approve_device_code() in tests)</body></html>"
        return "other", lambda body: Response(200, page, {}, "text/html")
    raise GraphError(404, "itemNotFound", f"No route for {path}")


def route_graph(
    emu: GraphEmulator, h: Handler, method: str, rest: str, query: dict[str, str], base: str
) -> tuple[str, Route]:
    """Authenticate first (as Graph does), then run the route under the state lock."""
    me = rest == "/me" or rest.startswith("/me/")
    try:
        kind, fn = graph_routes(emu, h, method, rest, query, base)
    except GraphError as exc:
        err = exc
        kind = "other"

        def fn(body: bytes) -> Response:
            raise err

    def run(body: bytes) -> Response:
        tok = bearer(emu, h)
        if me and tok.kind == "app":
            raise GraphError(
                400,
                "BadRequest",
                "/me request is only valid with delegated authentication flow.",
            )
        with emu.state.lock:
            return fn(body)

    return kind, run


def graph_routes(
    emu: GraphEmulator, h: Handler, method: str, rest: str, query: dict[str, str], base: str
) -> tuple[str, Route]:
    """Graph paths: pick the drive, then the item address, then the action."""
    st = emu.state

    if rest == "/me" and method == "GET":
        user = {
            "id": USER_OID,
            "displayName": USER_NAME,
            "userPrincipalName": USER_UPN,
            "mail": USER_UPN,
        }
        return "me", lambda body: json_response(200, user)
    if rest in ("/me/drives",) and method == "GET":
        return "drives", lambda body: list_drives(emu, base, None)
    m = re.fullmatch(r"/sites/([^/]+)(/drives)?", rest)
    if m and method == "GET":
        site_id = unquote(m.group(1))
        if m.group(2):
            return "drives", lambda body: list_drives(emu, base, site_id)

        def site(body: bytes) -> Response:
            info = st.sites.get(site_id)
            if info is None:
                raise GraphError(404, "itemNotFound", "Site not found")
            return json_response(200, {**info, "webUrl": f"{base}/sites/{site_id}"})

        return "site", site
    drive_id: str | None
    m = re.match(r"/me/drive(?=/|$)", rest) or re.match(r"/users/[^/]+/drive(?=/|$)", rest)
    if m:
        drive_id, tail = None, rest[m.end() :]
    elif m := re.match(r"/drives/([^/]+)", rest):
        drive_id, tail = unquote(m.group(1)), rest[m.end() :]
    elif m := re.match(r"/sites/([^/]+)/drive(?=/|$)", rest):
        site_id = unquote(m.group(1))
        with st.lock:
            drive_id = st.site_drive(site_id).id
        tail = rest[m.end() :]
    else:
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{rest}'.")
    with st.lock:
        drive = st.drive(drive_id)
    if tail == "":
        if method != "GET":
            raise GraphError(405, "notSupported", "Method not allowed on a drive")
        return "drive", lambda body: json_response(200, st.drive_json(drive, base))
    m = re.match(r"/(root|items/([^/:]+))", tail)
    if not m:
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{tail}'.")
    base_id = drive.root_id if m.group(1) == "root" else unquote(m.group(2))
    more = tail[m.end() :]
    rel: str | None = None
    if more.startswith(":"):
        end = more.find(":", 1)
        rel, more = (unquote(more[1:]), "") if end < 0 else (unquote(more[1:end]), more[end + 1 :])
        rel = rel.strip("/") if rel.strip("/") else None
    addr = Addr(drive, base_id, rel)
    action = more.strip("/")
    table: dict[tuple[str, str], tuple[str, Callable[[bytes], Response]]] = {
        ("GET", ""): ("item", lambda b: get_item(emu, addr, query, base)),
        ("PATCH", ""): ("patch", lambda b: patch(emu, h, addr, query, b, base)),
        ("DELETE", ""): ("delete", lambda b: delete(emu, h, addr)),
        ("GET", "children"): ("children", lambda b: children(emu, h, addr, query, base)),
        ("POST", "children"): ("create_folder", lambda b: mkdir(emu, addr, b, base)),
        ("GET", "content"): ("content", lambda b: content(emu, addr, base)),
        ("PUT", "content"): ("upload_simple", lambda b: put_simple(emu, h, addr, query, b, base)),
        ("POST", "createUploadSession"): (
            "upload_session",
            lambda b: create_session(emu, addr, query, b, base),
        ),
        ("GET", "delta"): ("delta", lambda b: delta(emu, h, addr, query, base)),
        ("GET", "versions"): ("versions", lambda b: versions(emu, addr)),
    }
    entry = table.get((method, action))
    if entry is None:
        raise GraphError(400, "invalidRequest", f"Unsupported: {method} {action or 'item'}")
    return entry[0], entry[1]


def bearer(emu: GraphEmulator, h: Handler) -> AccessToken:
    return emu.auth.check_bearer(h.headers.get("Authorization"))
