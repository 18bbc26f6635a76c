"""File content through `@microsoft.graph.downloadUrl`: no bearer token, ranged, resumable.

Graph hands out a pre-authenticated URL per file (valid about an hour). Using it directly saves
the `/content` round trip and keeps the access token off the download host. When the URL has
expired (401/403), the item is fetched again for a new one, as often as the retry budget
allows (`max_retries` renewals within `max_retry_time`: a URL from a long queue can expire
again before its first use); when a transfer breaks half-way,
it resumes with `Range: bytes=<pos>-` instead of starting over, so a 100 MiB file survives a
reset. Whole-file reads are checked against the item's quickXorHash while streaming.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator

import requests
import urllib3

from kloset_sdk import Fatal

from .api import DOWNLOAD_URL, DriveItem, parse_item
from .client import GraphClient, ItemNotFound, UrlRefused
from .quickxor import QuickXor

log = logging.getLogger(__name__)
CHUNK = 1 << 20
MAX_RESUMES = 8
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
    end = None if length is None else offset + length
    pos = offset
    hasher = QuickXor() if verify and end is None and offset == 0 else None
    renewals = 0
    started = time.monotonic()
    policy = client.pacer.policy
    resumes = 0
    while end is None or pos < end:
        url = item.fresh_url() or refresh_url(client, item)
        headers = {}
        if pos or end is not None:
            headers["Range"] = f"bytes={pos}-" + ("" if end is None else str(end - 1))
        try:
            resp = client.call("GET", url, auth=False, headers=headers, stream=True)
        except (UrlRefused, ItemNotFound) as exc:
            renewals += 1
            spent = time.monotonic() - started
            if renewals > policy.attempts or spent > policy.max_total:
                raise UrlRefused(
                    f"download of item {item.id}: its download URL was refused {renewals}"
                    f" times in {spent:.0f}s, each time renewed from Graph (expired before"
                    f" use?); giving up: {exc}"
                ) from exc
            log.info("item %s: download URL refused (%s); asking Graph for a new one", item.id, exc)
            item.download_url = None  # expired URL: ask Graph for a new one
            continue
        skip = pos if resp.status_code == 200 and pos else 0  # Range ignored: skip ourselves
        broke: BaseException | None = None
        try:
            for chunk in resp.iter_content(CHUNK):
                if skip:
                    cut = min(skip, len(chunk))
                    chunk, skip = chunk[cut:], skip - cut
                if end is not None and pos + len(chunk) > end:
                    chunk = chunk[: end - pos]
                if not chunk:
                    continue
                pos += len(chunk)
                if hasher is not None:
                    hasher.update(chunk)
                yield chunk
                if end is not None and pos >= end:
                    break
        except _BROKEN as exc:
            broke = exc
        finally:
            resp.close()
        if (end is None and broke is None) or (end is not None and pos >= end):
            break
        resumes += 1
        if resumes > MAX_RESUMES:
            raise Fatal(f"download of item {item.id} kept breaking at byte {pos}: {broke}")
        log.info("download of item %s stopped at byte %d (%s); resuming", item.id, pos, broke)
        time.sleep(min(5.0, 0.2 * 2**resumes) * random.uniform(0.5, 1.0))
    if hasher is not None and "quickXorHash" in item.hashes:
        got, want = hasher.b64(), item.hashes["quickXorHash"]
        if got != want:
            raise Fatal(f"item {item.id}: downloaded bytes hash to {got}, Graph says {want}")
