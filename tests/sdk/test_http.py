"""kloset_sdk.http against a real HTTP server on localhost: Retry-After, 401, cut bodies, budget."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from kloset_sdk.errors import Fatal, KlosetError, Throttled
from kloset_sdk.http import Rest, Unauthorized, Unavailable, process_pacer, ranged_download
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
            def do_GET(self) -> None:
                outer.seen.append(dict(self.headers.items()))
                reply = outer.replies[min(len(outer.seen), len(outer.replies)) - 1]
                reply(self)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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


def content(cut_at: int | None = None) -> Reply:
    """BODY, honouring `Range: bytes=a-`; `cut_at`: close the connection after that many."""

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
        h.close_connection = True

    return reply


def pacer(clock: Clock, attempts: int = 5) -> Pacer:
    return Pacer(RetryPolicy(attempts=attempts), sleep=clock.sleep, clock=clock)


def hook(method: str, url: str, resp: requests.Response) -> KlosetError:
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


def opener(r: Rest, url: str) -> Callable[[int, int | None], requests.Response]:
    """What a connector hands ranged_download: the paced GET of the bytes from `pos`."""

    def open_range(pos: int, end: int | None) -> requests.Response:
        headers = {"Range": f"bytes={pos}-"} if pos else {}
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


def test_download_resumes_from_the_byte_reached(serve: Callable[..., Server]) -> None:
    cut = 2 << 20  # on a piece boundary: a piece cut half-way is dropped by requests
    srv = serve(content(cut_at=cut), content())
    clock = Clock()
    p = pacer(clock)
    r = rest(p)

    def broken(exc: BaseException) -> bool:
        return isinstance(exc, requests.RequestException)

    got = b"".join(ranged_download(opener(r, srv.url), "obj", p, broken))
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


def test_a_body_that_keeps_breaking_ends_in_one_error(serve: Callable[..., Server]) -> None:
    srv = serve(content(cut_at=1000))  # not even one piece gets through
    clock = Clock()
    p = pacer(clock, attempts=3)
    r = rest(p)

    with pytest.raises(Fatal) as ei:
        b"".join(ranged_download(opener(r, srv.url), "obj", p, lambda e: True))
    assert str(ei.value).startswith(
        "obj: download broke off at byte 0 (3 times, the retry budget): ('Connection broken"
    )
    assert len(srv.seen) == 3
    assert len(clock.slept) == 2 and min(clock.slept) > 0  # no progress: backed off


def test_one_pacer_per_process() -> None:
    assert process_pacer(RetryOptions()) is process_pacer(RetryOptions(max_retries=3))
