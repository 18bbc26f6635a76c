"""``GET root/delta``: the change feed, paged by cursor tokens, ending in a deltaLink."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from .items_api import item_json, select_fields
from .state import GraphError
from .wire import Addr, Response, json_response, page_size

if TYPE_CHECKING:
    from .emulator import GraphEmulator
    from .server import Handler


def delta(emu: GraphEmulator, h: Handler, addr: Addr, query: dict[str, str], base: str) -> Response:
    st = emu.state
    drive = addr.drive
    if addr.base_id != drive.root_id or addr.rel:
        raise GraphError(400, "notSupported", "Delta is only supported on the root")
    token = query.get("token")
    top = page_size(query)
    cursor = st.delta_cursors.get(token) if token else None
    if cursor is not None and cursor[0] == drive.id:
        ids, head = cursor[1], cursor[2]
    else:
        ids, head = st.delta_start(drive, token)
    page, ids = ids[:top], ids[top:]
    values = []
    for item_id in page:
        if item_id in drive.items:
            obj = item_json(emu, drive, drive.items[item_id], base, in_delta=True)
        elif item_id in drive.tombstones:
            obj = st.tombstone_json(drive, drive.tombstones[item_id])
        else:
            continue
        values.append(select_fields(obj, query.get("$select")))
    params = {k: v for k, v in query.items() if k != "token"}
    link = f"{base}{urlsplit(h.path).path}?"
    out: dict[str, Any] = {
        "@odata.context": f"{base}/v1.0/$metadata#Collection(driveItem)",
        "value": values,
    }
    if ids:
        cid = "c" + secrets.token_hex(16)
        st.delta_cursors[cid] = (drive.id, ids, head)
        while len(st.delta_cursors) > 500:
            st.delta_cursors.pop(next(iter(st.delta_cursors)))
        out["@odata.nextLink"] = link + urlencode({**params, "token": cid})
    else:
        out["@odata.deltaLink"] = link + urlencode({**params, "token": st.delta_token(drive, head)})
    return json_response(200, out)
