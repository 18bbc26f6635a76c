"""Streamed GETs sent straight through urllib3, on the pools of a requests Session.

A download is the one request a connector sends per file, and requests' own per-request work
(merging environment settings, preparing, hooks, cookies, building a Response) made it cost 0.70
ms of CPU where urllib3 alone costs 0.25 ms (scripts/bench_http_get.py): a third of the plugin's
work per small file (docs/BENCHMARKS.notes.md). Here the Session is read once per host and
thread for what it decides (proxies from the environment, the CA bundle, client certificates)
and the adapter's own connection pool is used from then on, so TLS, proxies and keep-alive
behave as through requests. urllib3's errors are raised as the requests errors they would have
been, so the integrations' retry rules need not know which path a download took.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.structures import CaseInsensitiveDict
from requests.utils import select_proxy
from urllib3 import exceptions as u3

REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 10
#: As requests' adapter sends: no retry inside urllib3 (the Pacer retries), read errors raised.
NO_RETRY = urllib3.Retry(0, read=False)


class Streamed:
    """An answer whose body is read as it arrives; what the error hooks and `ranged_download`
    read of a requests Response (`status_code`, `reason`, `headers`, `content`,
    `text`, `iter_content`, `json`, `close`, `url`, `request`)."""

    def __init__(self, raw: urllib3.BaseHTTPResponse, url: str, headers: Mapping[str, str]) -> None:
        self.raw = raw
        self.url = url
        self._sent = headers
        self.status_code = raw.status
        self.reason = raw.reason or ""
        self.headers = raw.headers
        self._consumed = False
        self._content: bytes | None = None

    def iter_content(self, chunk_size: int) -> Iterator[bytes]:
        try:
            yield from self.raw.stream(chunk_size, decode_content=True)
        except Exception as exc:
            raise body_error(exc) from exc
        self._consumed = True

    @property
    def request(self) -> Request:
        """Built when asked (an error hook may look): a download never needs it."""
        return Request("GET", self.url, CaseInsensitiveDict(self._sent))

    @property
    def content(self) -> bytes:
        if self._content is None:
            self._content = b"".join(self.iter_content(1 << 20))
        return self._content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)

    def close(self) -> None:
        """Back to the pool when read to the end; a connection left mid-body is closed."""
        if not self._consumed:
            self.raw.close()
        self.raw.release_conn()


@dataclass
class Request:
    """What was sent, as a Response's `request` tells it."""

    method: str
    url: str
    headers: Mapping[str, str]


class _Route:
    """Where one host's requests go, as the Session decided for it."""

    def __init__(self, session: requests.Session, url: str) -> None:
        settings = session.merge_environment_settings(url, {}, True, None, None)
        adapter = session.get_adapter(url)
        if not isinstance(adapter, requests.adapters.HTTPAdapter):
            raise TypeError(f"{url}: the session's adapter is not an HTTPAdapter")
        probe = requests.Request("GET", url).prepare()
        verify, cert = settings["verify"], settings["cert"]
        pool = adapter.get_connection_with_tls_context(probe, verify, settings["proxies"], cert)
        if not isinstance(pool, urllib3.HTTPConnectionPool):
            raise TypeError(f"{url}: requests gave no HTTP connection pool")
        self.pool = pool
        adapter.cert_verify(self.pool, url, verify, cert)  # type: ignore[no-untyped-call]
        proxy = select_proxy(url, settings["proxies"])
        # An http:// request through an HTTP proxy names the whole URL; else only the path.
        self.full_url = bool(
            proxy
            and urlsplit(url).scheme != "https"
            and not urlsplit(proxy).scheme.startswith("socks")
        )
        self.headers = {k: str(v) for k, v in session.headers.items()}


class Router:
    """The routes of one thread's Session, one per scheme and host."""

    def __init__(self, session: requests.Session, timeout: float | tuple[float, float]) -> None:
        self.session = session
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        self.timeout = urllib3.Timeout(connect=connect, read=read)
        self._routes: dict[tuple[str, str], _Route] = {}

    def route(self, url: str) -> _Route:
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        found = self._routes.get(key)
        if found is None:
            found = self._routes[key] = _Route(self.session, url)
        return found

    def get(self, url: str, headers: Mapping[str, str]) -> Streamed:
        """GET `url`, following redirects as requests does (a token never goes to another
        host); the body is not read."""
        sent = dict(headers)
        for _ in range(MAX_REDIRECTS + 1):
            route = self.route(url)
            hdrs = {**route.headers, "Accept-Encoding": "identity", **sent}
            target = url if route.full_url else _path(url)
            try:
                raw = route.pool.urlopen(
                    "GET",
                    target,
                    headers=hdrs,
                    redirect=False,
                    assert_same_host=False,
                    preload_content=False,
                    decode_content=False,
                    retries=NO_RETRY,
                    timeout=self.timeout,
                )
            except Exception as exc:
                raise open_error(exc) from exc
            location = raw.headers.get("Location")
            if raw.status not in REDIRECTS or not location:
                return Streamed(raw, url, hdrs)
            raw.drain_conn()
            raw.release_conn()
            nxt = urljoin(url, location)
            if urlsplit(nxt).netloc != urlsplit(url).netloc:
                sent = {k: v for k, v in sent.items() if k.lower() != "authorization"}
            url = nxt
        raise requests.TooManyRedirects(f"{url}: more than {MAX_REDIRECTS} redirects")


def _path(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def open_error(exc: BaseException) -> BaseException:
    """What requests' adapter raises when sending fails with `exc`."""
    if isinstance(exc, u3.MaxRetryError):  # a failed connect: its reason says which
        reason = exc.reason
        if isinstance(reason, u3.ConnectTimeoutError) and not isinstance(
            reason, u3.NewConnectionError
        ):
            return requests.ConnectTimeout(exc)
        proxy_or_tls = [
            (u3.ProxyError, requests.exceptions.ProxyError),
            (u3.SSLError, requests.exceptions.SSLError),
        ]
        return (_first(reason, proxy_or_tls) or requests.ConnectionError)(exc)
    table = [
        ((u3.ProtocolError, OSError, u3.ClosedPoolError), requests.ConnectionError),
        (u3.ProxyError, requests.exceptions.ProxyError),
        (u3.SSLError, requests.exceptions.SSLError),
        (u3.ReadTimeoutError, requests.ReadTimeout),
    ]
    kind = _first(exc, table)
    return kind(exc) if kind else exc


def body_error(exc: BaseException) -> BaseException:
    """What a requests Response raises when reading its body fails with `exc`."""
    table = [
        (u3.ProtocolError, requests.exceptions.ChunkedEncodingError),
        (u3.DecodeError, requests.exceptions.ContentDecodingError),
        (u3.ReadTimeoutError, requests.ConnectionError),
        (u3.SSLError, requests.exceptions.SSLError),
    ]
    kind = _first(exc, table)
    return kind(exc) if kind else exc


Table = Sequence[tuple[Any, type[Exception]]]


def _first(exc: BaseException | None, table: Table) -> type[Exception] | None:
    return next((to for kinds, to in table if isinstance(exc, kinds)), None)
