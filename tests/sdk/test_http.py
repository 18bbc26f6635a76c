"""kloset_sdk.http against a real HTTP server on localhost: Retry-After, 401, cut bodies, budget."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from kloset_sdk.errors import Fatal, KlosetError, Throttled
from kloset_sdk.http import (
    Answer,
    Rest,
    Unauthorized,
    Unavailable,
    process_pacer,
    ranged_download,
)
from kloset_sdk.retry import Pacer, RetryOptions, RetryPolicy, parse_retry_after
from tests.clock import FakeClock as Clock

BODY = bytes(range(256)) * (3 * 4096)  # 3 MiB: several pieces of the 1 MiB reads

Reply = Callable[[BaseHTTPRequestHandler], None]


class Server:
    """Answers each request with the next scripted reply (the last one repeats); records the
    headers every request came with."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.seen: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, unless a reply closes
            wbufsize = 1 << 16  # head and body in one write: no Nagle wait on a small body

            def do_GET(self) -> None:
                peer = {"_port": str(self.client_address[1]), "_path": self.path}
                outer.seen.append(dict(self.headers.items()) | peer)
                reply = outer.replies[min(len(outer.seen), len(outer.replies)) - 1]
                reply(self)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.handle_error = lambda *args: None  # type: ignore[method-assign]  # a client left
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/obj"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(*replies: Reply) -> Server:
        servers.append(Server(*replies))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def status(code: int, headers: dict[str, str] | None = None) -> Reply:
    def reply(h: BaseHTTPRequestHandler) -> None:
        body = b'{"error": {"message": "scripted"}}'
        h.send_response(code)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return reply


def content(cut_at: int | None = None, keep: bool = False) -> Reply:
    """BODY, honouring `Range: bytes=a-`; `cut_at`: close the connection after that many;
    `keep`: leave the connection open for the next request."""

    def reply(h: BaseHTTPRequestHandler) -> None:
        start = 0
        rng = h.headers.get("Range")
        if rng:
            start = int(rng.removeprefix("bytes=").split("-")[0])
        part = BODY[start:]
        h.send_response(206 if rng else 200)
        if rng:
            h.send_header("Content-Range", f"bytes {start}-{len(BODY) - 1}/{len(BODY)}")
        h.send_header("Content-Length", str(len(part)))
        h.end_headers()
        h.wfile.write(part if cut_at is None else part[:cut_at])
        h.wfile.flush()
        h.close_connection = not keep

    return reply


def redirect(to: str) -> Reply:
    def reply(h: BaseHTTPRequestHandler) -> None:
        h.send_response(302)
        h.send_header("Location", to)
        h.send_header("Content-Length", "0")
        h.end_headers()

    return reply


def pacer(clock: Clock, attempts: int = 5) -> Pacer:
    return Pacer(RetryPolicy(attempts=attempts), sleep=clock.sleep, clock=clock)


def hook(method: str, url: str, resp: Answer) -> KlosetError:
    """A service's error hook: its error body and status become SDK errors."""
    message = resp.json()["error"]["message"]
    if resp.status_code == 429:
        retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        return Throttled(f"GET obj: throttled ({message})", retry_after)
    if resp.status_code == 401:
        return Unauthorized(f"GET obj: 401 {message}")
    if resp.status_code >= 500:
        return Unavailable(f"GET obj: {resp.status_code} {message}")
    return Fatal(f"GET obj: {resp.status_code} {message}")


class Tokens:
    def __init__(self) -> None:
        self.current = "old"
        self.refreshes = 0

    def token(self) -> str:
        return self.current

    def refresh(self, stale: str) -> str:
        self.refreshes += 1
        self.current = "new"
        return self.current


def rest(p: Pacer, tokens: Tokens | None = None) -> Rest:
    return Rest(p, hook, requests.Session, 10.0, tokens)


def opener(r: Rest, url: str, lean: bool = False) -> Callable[[int, int | None], Answer]:
    """What a connector hands ranged_download: the paced GET of the bytes from `pos`, through
    requests (`call`) or straight through urllib3 (`call_stream`, `lean`)."""

    def open_range(pos: int, end: int | None) -> Answer:
        headers = {"Range": f"bytes={pos}-"} if pos else {}
        if lean:
            return r.call_stream(url, headers=headers)
        return r.call("GET", url, headers=headers, stream=True)

    return open_range


def test_retry_after_is_honoured(serve: Callable[..., Server]) -> None:
    srv = serve(status(429, {"Retry-After": "7"}), content())
    clock = Clock()
    resp = rest(pacer(clock)).call("GET", srv.url)
    assert resp.content == BODY
    assert len(srv.seen) == 2
    assert sum(clock.slept) >= 7.0  # the service's wait, not the 0.5 s backoff


def test_401_refreshes_once_then_succeeds(serve: Callable[..., Server]) -> None:
    def need_new(h: BaseHTTPRequestHandler) -> None:
        ok = h.headers.get("Authorization") == "Bearer new"
        (content() if ok else status(401))(h)

    srv = serve(need_new)
    tokens = Tokens()
    assert rest(pacer(Clock()), tokens).call("GET", srv.url).content == BODY
    assert tokens.refreshes == 1
    assert [s["Authorization"] for s in srv.seen] == ["Bearer old", "Bearer new"]


def test_401_after_a_refresh_is_final(serve: Callable[..., Server]) -> None:
    srv = serve(status(401))
    tokens = Tokens()
    with pytest.raises(Unauthorized, match="401 scripted"):
        rest(pacer(Clock()), tokens).call("GET", srv.url)
    assert tokens.refreshes == 1 and len(srv.seen) == 2


@pytest.mark.parametrize("lean", [False, True], ids=["requests", "urllib3"])
def test_download_resumes_from_the_byte_reached(serve: Callable[..., Server], lean: bool) -> None:
    cut = 2 << 20  # on a piece boundary: a piece cut half-way is dropped by requests
    srv = serve(content(cut_at=cut), content())
    clock = Clock()
    p = pacer(clock)
    r = rest(p)

    def broken(exc: BaseException) -> bool:
        return isinstance(exc, requests.RequestException)  # also on the urllib3 path

    got = b"".join(ranged_download(opener(r, srv.url, lean), "obj", p, broken))
    assert got == BODY
    assert len(srv.seen) == 2
    assert srv.seen[1]["Range"] == f"bytes={cut}-"  # never the bytes already delivered
    assert clock.slept == []  # progress was made: resumed at once


def test_budget_exhausted_is_one_clear_error(serve: Callable[..., Server]) -> None:
    srv = serve(status(503))
    with pytest.raises(Fatal) as ei:
        rest(pacer(Clock(), attempts=3)).call("GET", srv.url)
    assert len(srv.seen) == 3
    # one line: what gave up, after how much, and the service's last word
    assert re.fullmatch(
        r"gave up after 3 attempts in \d+s \((GET obj: 503 scripted)\): \1", str(ei.value)
    )


@pytest.mark.parametrize("lean", [False, True], ids=["requests", "urllib3"])
def test_a_body_that_keeps_breaking_ends_in_one_error(
    serve: Callable[..., Server], lean: bool
) -> None:
    srv = serve(content(cut_at=1000))  # not even one piece gets through
    clock = Clock()
    p = pacer(clock, attempts=3)
    r = rest(p)

    with pytest.raises(Fatal) as ei:
        b"".join(ranged_download(opener(r, srv.url, lean), "obj", p, lambda e: True))
    assert str(ei.value).startswith(
        "obj: download broke off at byte 0 (3 times, the retry budget): ('Connection broken"
    )
    assert len(srv.seen) == 3
    assert len(clock.slept) == 2 and min(clock.slept) > 0  # no progress: backed off


def test_one_pacer_per_process() -> None:
    assert process_pacer(RetryOptions()) is process_pacer(RetryOptions(max_retries=3))


# -- Rest.stream: downloads straight through urllib3 on the Session's pools ---------------------
def test_stream_errors_go_through_the_hook_and_401_refreshes(serve: Callable[..., Server]) -> None:
    def need_new(h: BaseHTTPRequestHandler) -> None:
        ok = h.headers.get("Authorization") == "Bearer new"
        (content() if ok else status(401))(h)

    srv = serve(need_new)
    tokens = Tokens()
    assert rest(pacer(Clock()), tokens).call_stream(srv.url).content == BODY
    assert tokens.refreshes == 1
    assert [s["Authorization"] for s in srv.seen] == ["Bearer old", "Bearer new"]
    srv2 = serve(status(418))
    with pytest.raises(Fatal, match="GET obj: 418 scripted"):  # the hook read its JSON body
        rest(pacer(Clock())).stream(srv2.url)


def test_stream_keeps_a_read_connection_and_drops_a_half_read_one(
    serve: Callable[..., Server],
) -> None:
    srv = serve(content(keep=True))
    r = rest(pacer(Clock()))
    for _ in range(2):
        resp = r.stream(srv.url)
        assert b"".join(resp.iter_content(1 << 20)) == BODY
        resp.close()
    half = r.stream(srv.url)
    next(iter(half.iter_content(1 << 20)))
    half.close()  # the rest of the body is still in the socket: this connection is done
    r.stream(srv.url).close()
    ports = [s["_port"] for s in srv.seen]
    assert ports[0] == ports[1] == ports[2] != ports[3]
    assert all(s["Accept-Encoding"] == "identity" for s in srv.seen)  # bytes as stored


def test_stream_follows_redirects_and_keeps_the_token_on_its_host(
    serve: Callable[..., Server],
) -> None:
    same = serve(redirect("/obj?moved=1"), content())  # a relative Location, on the same host
    r = rest(pacer(Clock()), Tokens())
    assert r.stream(same.url).content == BODY
    assert [s["_path"] for s in same.seen] == ["/obj", "/obj?moved=1"]
    assert same.seen[1]["Authorization"] == "Bearer old"  # same host and port: kept
    target = serve(content())
    elsewhere = serve(redirect(target.url.replace("127.0.0.1", "localhost")))
    assert r.stream(elsewhere.url).content == BODY
    assert "Authorization" not in target.seen[-1]  # another host: never sent there


def test_stream_goes_through_the_proxy_the_environment_names(
    serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = serve(content())
    for var in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url.removesuffix("/obj"))
    url = "http://files.invalid/obj?alt=media"
    assert rest(pacer(Clock())).stream(url).content == BODY
    assert proxy.seen[0]["_path"] == url  # an HTTP proxy is sent the whole URL


def test_stream_connection_failures_are_requests_errors() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(requests.ConnectionError):
        rest(pacer(Clock())).stream(f"http://127.0.0.1:{port}/obj")
