"""driveItem routes: get, list children, create folder, content redirect, patch, delete,
versions, and the drive listings; also the item JSON every other route answers with."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from .downloads_api import download_url
from .state import USER_NAME, USER_OID, Drive, GraphError, Item, iso
from .wire import Addr, Response, json_body, json_response, page_size

if TYPE_CHECKING:
    from .emulator import GraphEmulator
    from .server import Handler


def resolve(emu: GraphEmulator, addr: Addr) -> Item:
    st = emu.state
    item = st.item(addr.drive, addr.base_id)
    if addr.rel:
        item = st.resolve(addr.drive, item, addr.rel)
    guard_vault(emu, addr.drive, item)
    return item


def guard_vault(emu: GraphEmulator, drive: Drive, item: Item) -> None:
    if not emu.vault_unlocked and emu.state.in_vault(drive, item):
        raise GraphError(403, "accessDenied", "The Personal Vault is locked.", "vaultLocked")


def item_json(
    emu: GraphEmulator, drive: Drive, item: Item, base: str, in_delta: bool = False
) -> dict[str, Any]:
    url = download_url(emu, base, drive, item) if item.kind == "file" else None
    return emu.state.item_json(drive, item, base, download_url=url, in_delta=in_delta)


def select_fields(obj: dict[str, Any], select: str | None) -> dict[str, Any]:
    if not select:
        return obj
    keys = {s.strip() for s in select.split(",") if s.strip()}
    if "content.downloadUrl" in keys:
        keys.add("@microsoft.graph.downloadUrl")
    keys |= {"id", "deleted"}
    return {k: v for k, v in obj.items() if k in keys}


def check_if_match(h: Handler, item: Item, obj: dict[str, Any]) -> None:
    want = h.headers.get("If-Match")
    if want and want != "*" and want not in (obj["eTag"], obj["cTag"]):
        raise GraphError(412, "preconditionFailed", "ETag does not match current item's value")


def list_drives(emu: GraphEmulator, base: str, site_id: str | None) -> Response:
    drives = [
        emu.state.drive_json(d, base)
        for d in emu.state.drives.values()
        if (site_id is None and d.site_id is None) or (site_id and d.site_id == site_id)
    ]
    return json_response(200, {"value": drives})


def get_item(emu: GraphEmulator, addr: Addr, query: dict[str, str], base: str) -> Response:
    item = resolve(emu, addr)
    obj = item_json(emu, addr.drive, item, base)
    return json_response(200, select_fields(obj, query.get("$select")))


def children(
    emu: GraphEmulator, h: Handler, addr: Addr, query: dict[str, str], base: str
) -> Response:
    item = resolve(emu, addr)
    if not item.is_container:
        raise GraphError(400, "invalidRequest", "The item is not a folder")
    if item.special == "vault" and not emu.vault_unlocked:
        raise GraphError(403, "accessDenied", "The Personal Vault is locked.", "vaultLocked")
    top = page_size(query)
    after = query.get("$skiptoken")
    names = sorted(item.children)
    if after:
        after_name = bytes.fromhex(after).decode()
        names = [n for n in names if n > after_name]
    page = names[:top]
    values = [
        select_fields(
            item_json(emu, addr.drive, addr.drive.items[item.children[n]], base),
            query.get("$select"),
        )
        for n in page
    ]
    out: dict[str, Any] = {
        "@odata.context": f"{base}/v1.0/$metadata#Collection(driveItem)",
        "value": values,
    }
    if len(names) > top:
        params = {k: v for k, v in query.items() if k != "$skiptoken"}
        params["$skiptoken"] = page[-1].encode().hex()
        out["@odata.nextLink"] = f"{base}{urlsplit(h.path).path}?{urlencode(params)}"
    return json_response(200, out)


def mkdir(emu: GraphEmulator, addr: Addr, body: bytes, base: str) -> Response:
    parent = resolve(emu, addr)
    req = json_body(body)
    if "folder" not in req or not isinstance(req.get("name"), str):
        raise GraphError(400, "invalidRequest", "Only folders can be created with POST")
    conflict = str(req.get("@microsoft.graph.conflictBehavior", "fail"))
    item = emu.state.create_folder(addr.drive, parent, req["name"], conflict)
    return json_response(201, item_json(emu, addr.drive, item, base))


def content(emu: GraphEmulator, addr: Addr, base: str) -> Response:
    item = resolve(emu, addr)
    if item.kind != "file":
        raise GraphError(400, "invalidRequest", "Only files have content")
    return Response(302, b"", {"Location": download_url(emu, base, addr.drive, item)})


def patch(
    emu: GraphEmulator, h: Handler, addr: Addr, query: dict[str, str], body: bytes, base: str
) -> Response:
    item = resolve(emu, addr)
    check_if_match(h, item, item_json(emu, addr.drive, item, base))
    req = json_body(body)
    conflict = str(
        req.pop("@microsoft.graph.conflictBehavior", None)
        or query.get("@microsoft.graph.conflictBehavior")
        or "fail"
    )
    emu.state.patch(addr.drive, item, req, conflict)
    return json_response(200, item_json(emu, addr.drive, item, base))


def delete(emu: GraphEmulator, h: Handler, addr: Addr) -> Response:
    item = resolve(emu, addr)
    check_if_match(h, item, item_json(emu, addr.drive, item, ""))
    emu.state.delete(addr.drive, item)
    return Response(204)


def versions(emu: GraphEmulator, addr: Addr) -> Response:
    item = resolve(emu, addr)
    if item.kind != "file":
        raise GraphError(400, "invalidRequest", "Only files have versions")
    versions = [{"mtime": item.fs_modified, "size": len(item.data)}]
    versions += [{"mtime": m, "size": s} for m, s in reversed(item.versions)]
    n = len(versions)
    out = [
        {
            "id": f"{n - i}.0",
            "lastModifiedDateTime": iso(v["mtime"]),
            "size": v["size"],
            "lastModifiedBy": {"user": {"displayName": USER_NAME, "id": USER_OID}},
        }
        for i, v in enumerate(versions)
    ]
    return json_response(200, {"value": out})
