"""File content through `@microsoft.graph.downloadUrl`: no bearer token, ranged, resumable.

Graph hands out a pre-authenticated URL per file (valid about an hour). Using it directly saves
the `/content` round trip and keeps the access token off the download host. When the URL has
expired (401/403), the item is fetched again for a new one, as often as the retry budget
allows (`max_retries` renewals within `max_retry_time`: a URL from a long queue can expire
again before its first use); when a transfer breaks half-way, it resumes with
`Range: bytes=<pos>-` instead of starting over (kloset_sdk.http.ranged_download, bounded by the
same retry budget), so a 100 MiB file survives a reset. Whole-file reads are checked against
the item's quickXorHash while streaming.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import requests
import urllib3

from kloset_sdk import Fatal
from kloset_sdk.http import Answer, ranged_download

from .api import DOWNLOAD_URL, DriveItem, parse_item
from .client import GraphClient, ItemNotFound, UrlRefused
from .quickxor import QuickXor

log = logging.getLogger(__name__)
CHUNK = 1 << 20
_BROKEN = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.HTTPError,
)


def refresh_url(client: GraphClient, item: DriveItem) -> str:
    """A new download URL for `item` (and its current size and hashes)."""
    body = client.item(f"/items/{item.id}")
    fresh = parse_item(body)
    item.size, item.hashes = fresh.size, fresh.hashes
    url = body.get(DOWNLOAD_URL)
    if not url:  # some tenants omit it from $select answers: /content redirects to it
        resp = client.call("GET", f"/items/{item.id}/content")
        resp.close()
        url = resp.headers.get("Location")
        if not url:
            raise Fatal(f"item {item.id}: Graph gave no download URL")
    item.download_url, item.url_time = str(url), time.monotonic()
    return item.download_url


def download(
    client: GraphClient,
    item: DriveItem,
    offset: int = 0,
    length: int | None = None,
    verify: bool = False,
) -> Iterator[bytes]:
    """Bytes [offset, offset+length) of a file, or all of it (length None, offset 0)."""
    hasher = QuickXor() if verify and length is None and offset == 0 else None
    renewals = 0
    started = time.monotonic()
    policy = client.pacer.policy

    def open_range(pos: int, end: int | None) -> Answer:
        nonlocal renewals
        while True:
            url = item.fresh_url() or refresh_url(client, item)
            headers = {}
            if pos or end is not None:
                headers["Range"] = f"bytes={pos}-" + ("" if end is None else str(end - 1))
            try:
                return client.rest.call_stream(url, auth=False, headers=headers)
            except (UrlRefused, ItemNotFound) as exc:
                renewals += 1
                spent = time.monotonic() - started
                if renewals > policy.attempts or spent > policy.max_total:
                    raise UrlRefused(
                        f"download of item {item.id}: its download URL was refused {renewals}"
                        f" times in {spent:.0f}s, each time renewed from Graph (expired before"
                        f" use?); giving up: {exc}"
                    ) from exc
                log.info(
                    "item %s: download URL refused (%s); asking Graph for a new one", item.id, exc
                )
                item.download_url = None  # expired URL: ask Graph for a new one

    what = f"download of item {item.id}"
    for chunk in ranged_download(open_range, what, client.pacer, _broken, offset, length, CHUNK):
        if hasher is not None:
            hasher.update(chunk)
        yield chunk
    if hasher is not None and "quickXorHash" in item.hashes:
        got, want = hasher.b64(), item.hashes["quickXorHash"]
        if got != want:
            raise Fatal(f"item {item.id}: downloaded bytes hash to {got}, Graph says {want}")


def _broken(exc: BaseException) -> bool:
    return isinstance(exc, _BROKEN)
