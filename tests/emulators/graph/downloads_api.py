"""Download URLs: signing the pre-authenticated ``@microsoft.graph.downloadUrl`` and serving it
(whole or one byte range), as SharePoint's ``download.aspx`` does."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from .state import Drive, GraphError, Item
from .wire import Response

if TYPE_CHECKING:
    from .emulator import GraphEmulator
    from .server import Handler


@dataclass
class UrlSigning:
    """The URLs' signing key; bumping ``generation`` expires every URL handed out so far."""

    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    generation: int = 0
    stale: int = 0  # how many of the next download URLs are born expired


def download_url(emu: GraphEmulator, base: str, drive: Drive, item: Item) -> str:
    """A signed URL that needs no bearer token, valid ``download_url_lifetime`` seconds."""
    exp = int(time.time() + emu.download_url_lifetime)
    with emu.state.lock:
        if emu.urls.stale > 0:
            emu.urls.stale -= 1
            exp = int(time.time()) - 1
    sig = sign(emu, f"{drive.id}|{item.id}|{exp}")
    q = urlencode({"UniqueId": item.id, "drive": drive.id, "tempauth": f"{exp}.{sig}"})
    return f"{base}/_layouts/15/download.aspx?{q}"


def sign(emu: GraphEmulator, text: str) -> str:
    """A URL signature that changes when the URLs are expired (``UrlSigning.generation``)."""
    msg = f"{emu.urls.generation}|{text}".encode()
    return hmac.new(emu.urls.key, msg, hashlib.sha256).hexdigest()[:32]


def download(emu: GraphEmulator, h: Handler, query: dict[str, str]) -> Response:
    """``GET download.aspx``: check the signature and its expiry, then the bytes (or a range)."""
    exp_sig = query.get("tempauth", "")
    exp, _, sig = exp_sig.partition(".")
    drive_id, item_id = query.get("drive", ""), query.get("UniqueId", "")
    if not exp.isdigit() or not hmac.compare_digest(sig, sign(emu, f"{drive_id}|{item_id}|{exp}")):
        raise GraphError(401, "unauthenticated", "Invalid tempauth token")
    if int(exp) < time.time():
        raise GraphError(401, "unauthenticated", "The tempauth token has expired")
    with emu.state.lock:
        drive = emu.state.drive(drive_id)
        item = emu.state.item(drive, item_id)
        data = item.data
        etag = f'"{{{item.id}}},{item.etag_v}"'
        mime = emu.state.item_json(drive, item, "")["file"]["mimeType"]
    headers = {"Accept-Ranges": "bytes", "ETag": etag}
    rng = h.headers.get("Range")
    size = len(data)
    if rng:
        m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())
        if m and (m.group(1) or m.group(2)):
            if m.group(1):
                start = int(m.group(1))
                end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
            else:
                start, end = max(0, size - int(m.group(2))), size - 1
            if start >= size or end < start:
                headers["Content-Range"] = f"bytes */{size}"
                return Response(416, b"", headers, mime)
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
            emu.count("download_range")
            return Response(206, data[start : end + 1], headers, mime, truncatable=True)
    return Response(200, data, headers, mime, truncatable=True)
