#!/usr/bin/env python3
"""CPU per download GET: requests' Session against kloset_sdk's Rest.stream, same server.

A drive importer sends one GET per file, so for small files what the HTTP client spends per
request is most of the plugin's own work. This measures it on one thread against a local HTTP
server (a 20-byte body, as the Drive and OneDrive benchmarks' files), as the CPU time of the
client thread alone (`time.thread_time`), interleaved rounds, median and spread:

- requests: `Session.get(url, stream=True)`, the body read with `iter_content`, as the drive
  connectors downloaded before `Rest.stream`;
- Rest.stream: the same GET through `kloset_sdk.http.Rest.stream` (urllib3 on the Session's
  pools);
- urllib3: a bare `PoolManager.request`, the floor `Rest.stream` builds on.

    .venv/bin/python scripts/bench_http_get.py [--requests 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sdk"))

import requests  # noqa: E402
import urllib3  # noqa: E402

from kloset_sdk.http import Rest, status_error  # noqa: E402
from kloset_sdk.retry import Pacer, RetryPolicy  # noqa: E402

BODY = b"content of file 1234\n"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    #: Head and body in one write (the handler flushes after each request): sent apart, the
    #: 21-byte body waited on Nagle for an ACK that this sandbox's TCP stack sometimes never sent.
    wbufsize = 1 << 16

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args: object) -> None:
        pass


def cpu_per_get(fn: Callable[[], bytes], n: int) -> float:
    """Microseconds of this thread's CPU per call of `fn`."""
    assert fn() == BODY
    t0 = time.thread_time()
    for _ in range(n):
        fn()
    return (time.thread_time() - t0) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=2000, help="GETs per client and round")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/file?alt=media"

    session = requests.Session()
    rest = Rest(Pacer(RetryPolicy()), status_error, requests.Session, 30.0)
    pool = urllib3.PoolManager()

    def with_requests() -> bytes:
        resp = session.get(url, stream=True, timeout=30.0)
        data = b"".join(resp.iter_content(1 << 20))
        resp.close()
        return data

    def with_stream() -> bytes:
        resp = rest.stream(url)
        data = b"".join(resp.iter_content(1 << 20))
        resp.close()
        return data

    def with_urllib3() -> bytes:
        resp = pool.request("GET", url, preload_content=False)
        data = b"".join(resp.stream(1 << 20))
        resp.release_conn()
        return data

    clients = {"requests": with_requests, "Rest.stream": with_stream, "urllib3": with_urllib3}
    got: dict[str, list[float]] = {name: [] for name in clients}
    for _ in range(args.rounds):
        for name, fn in clients.items():
            got[name].append(cpu_per_get(fn, args.requests))
    httpd.shutdown()

    ref = statistics.median(got["requests"])
    print(f"CPU per GET, {args.requests:,} GETs x {args.rounds} interleaved rounds, one thread")
    print("| client | median us/GET | spread | requests / client |")
    print("|---|---:|---:|---:|")
    for name, runs in got.items():
        med = statistics.median(runs)
        print(f"| {name} | {med:.0f} | {min(runs):.0f}-{max(runs):.0f} | {ref / med:.2f}x |")


if __name__ == "__main__":
    main()
