"""Example storage: a Kloset repository on a WebDAV server (`webdav://host:port/path`).

The whole connector: ObjectStore supplies the repository layout and every Storage call, the
http helper supplies paced and retried requests, and this file only speaks WebDAV (PUT to a
temporary name then MOVE, ranged GET, PROPFIND, MKCOL, DELETE). docs/SDK.md walks through it.
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

import requests

from kloset_sdk import AlreadyExists, ChunkStream, Fatal, Identity, NotFound, option, serve
from kloset_sdk.connector import InitContext
from kloset_sdk.http import (
    Answer,
    Rest,
    Unavailable,
    process_pacer,
    ranged_download,
    status_error,
)
from kloset_sdk.location import parse_location
from kloset_sdk.objectstore import ObjectStore
from kloset_sdk.retry import RetryOptions


@dataclass(frozen=True)
class WebDavOptions(RetryOptions):
    location: str = option(required=True, help="webdav://host[:port]/path (webdavs:// for TLS)")
    username: str = option("", help="User name for HTTP basic authentication.")
    password: str = option("", secret=True, help="Password for HTTP basic authentication.")


class WebDavStorage(ObjectStore[WebDavOptions]):
    type_name = "webdav"

    def __init__(self, opts: WebDavOptions, ctx: InitContext) -> None:
        super().__init__(opts, ctx)
        loc = parse_location(opts.location)
        scheme, port = ("https", 443) if loc.proto == "webdavs" else ("http", 80)
        self.origin, self.root = f"{loc.host}:{loc.port or port}", loc.path or "/"
        self.base = f"{scheme}://{self.origin}{quote(loc.path.rstrip('/'))}"

        def new_session() -> requests.Session:
            session = requests.Session()
            session.auth = (opts.username, opts.password) if opts.username else None
            return session

        def dropped(method: str, url: str, exc: BaseException) -> BaseException:
            return Unavailable(f"{method} {url}: connection failed ({type(exc).__name__})")

        self.pacer = process_pacer(opts)
        self.rest = Rest(self.pacer, status_error, new_session, opts.timeout, on_drop=dropped)

    def identity(self) -> Identity:
        return Identity(origin=self.origin, type=self.type_name, root=self.root)

    def url(self, key: str = "") -> str:
        return f"{self.base}/{quote(key)}" if key else self.base + "/"

    # -- the five primitives --------------------------------------------------------------
    def claim(self) -> None:
        try:
            if list(self._children("")):
                raise AlreadyExists(f"{self.url()} is not empty")
        except NotFound:
            self.make_dirs([""])

    def write(self, key: str, data: ChunkStream) -> int:
        temp = f"{key}.tmp-{secrets.token_hex(8)}"  # not a MAC: List never reports it
        sent = 0

        def body() -> Iterator[bytes]:
            nonlocal sent
            while chunk := data.read_chunk():  # raises if the host went away: PUT fails
                sent += len(chunk)
                yield bytes(chunk)

        self.rest.send("PUT", self.url(temp), data=body()).close()  # a stream: one try only
        move = {"Destination": self.url(key), "Overwrite": "T"}
        self.rest.call("MOVE", self.url(temp), headers=move).close()
        return sent

    def read(self, key: str, offset: int | None, length: int | None) -> Iterator[bytes]:
        def open_range(pos: int, end: int | None) -> Answer | None:
            whole = pos == 0 and end is None
            span = {} if whole else {"Range": f"bytes={pos}-{'' if end is None else end - 1}"}
            try:
                return self.rest.call_stream(self.url(key), headers=span)
            except Fatal as exc:
                if getattr(exc, "status", 0) == 416:  # the range starts at or past the end
                    return None
                raise

        def broken(exc: BaseException) -> bool:  # worth resuming from the byte reached
            return isinstance(exc, requests.RequestException)

        return ranged_download(open_range, f"get {key}", self.pacer, broken, offset or 0, length)

    def names(self, directory: str) -> Iterator[str]:
        try:
            yield from self._children(directory)
        except NotFound:
            return

    def remove(self, key: str) -> None:
        self.rest.call("DELETE", self.url(key)).close()

    # -- hooks ------------------------------------------------------------------------------
    def make_dirs(self, dirs: Sequence[str]) -> None:
        for d in dirs:
            try:
                self.rest.call("MKCOL", self.url(d)).close()
            except Exception as exc:
                if getattr(exc, "status", None) != 405:  # 405: the collection exists
                    raise

    def _children(self, directory: str) -> Iterator[str]:
        """Names in one collection (PROPFIND Depth 1), the collection itself left out."""
        url = self.url(f"{directory}/" if directory else "")
        resp = self.rest.call("PROPFIND", url, headers={"Depth": "1"})
        here = urlsplit(url).path.rstrip("/")
        for href in ET.fromstring(resp.content).iter("{DAV:}href"):
            path = urlsplit(href.text or "").path.rstrip("/")
            if path != here:
                yield unquote(path.rsplit("/", 1)[-1])


if __name__ == "__main__":
    serve("storage", WebDavStorage)
