"""HTTP written once for the REST connectors (rclone's lib/rest + lib/pacer).

What every HTTP service needs lives here, what is particular to one service stays in its
integration:

- `process_pacer`: the one Pacer of a plugin process, so a Retry-After told to one worker holds
  back all of them (every connector of the process shares it).
- `Rest.call`: one request paced with one retry budget (`RetryOptions`), `Throttled` and
  `Unavailable` errors retried (after their `retry_after`: `standard_retry`), and the first 401
  answered by one token refresh through a `TokenSource`.
- The error hook: the service turns an error answer (its JSON body) into SDK errors;
  `status_error` is the hook of a service whose statuses say it all.
- `Rest.stream`: a download (one GET whose body is read as it arrives) sent straight through
  urllib3 on the Session's own pools (kloset_sdk.getstream): a third less CPU per small file.
- `ranged_download`: a body streamed in pieces that resumes from the byte reached when the
  connection breaks, a bounded number of times, each new request through the pacer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .errors import Fatal, KlosetError, NotFound, PermissionDenied, Throttled
from .retry import Pacer, Retry, RetryOptions, parse_retry_after

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R", bound="Answer")
CHUNK = 1 << 20
ShouldRetry = Callable[[BaseException], Retry | None]


class Sent(Protocol):
    @property
    def headers(self) -> Mapping[str, str]: ...


class Answer(Protocol):
    """What the error hooks and `ranged_download` read of an answer: a requests Response, or
    the `Streamed` answer of `Rest.stream`."""

    status_code: int
    reason: str
    url: str

    @property
    def request(self) -> Sent: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def content(self) -> bytes: ...

    @property
    def text(self) -> str: ...

    def json(self) -> Any: ...

    def iter_content(self, chunk_size: int) -> Iterator[Any]: ...

    def close(self) -> None: ...


#: (method, url, answer) -> the error to raise for an answer of status 400 or more.
ErrorHook = Callable[[str, str, Answer], BaseException]

_PACER: Pacer | None = None
_PACER_LOCK = threading.Lock()


def process_pacer(opts: RetryOptions, **overrides: float) -> Pacer:
    """The one Pacer of this plugin process (built from the first options that ask)."""
    global _PACER
    with _PACER_LOCK:
        if _PACER is None:
            _PACER = Pacer(opts.retry_policy(**overrides))
        return _PACER


class Unauthorized(PermissionDenied):
    """A 401: the access token was refused. `Rest.call` refreshes it once, then gives up."""


class TokenSource(Protocol):
    def token(self) -> str: ...

    def refresh(self, stale: str) -> str:
        """A new access token unless another thread already replaced `stale`."""
        ...


class Unavailable(KlosetError):
    """Worth another try: a 5xx answer or a connection that broke before an answer (with the
    service's Retry-After, if it gave one). Not `Fatal`: the Pacer never retries Fatal."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def standard_retry(exc: BaseException) -> Retry | None:
    """`Throttled` and `Unavailable` are retried, after the wait the service asked for."""
    if isinstance(exc, (Throttled, Unavailable)):
        return Retry(str(exc), exc.retry_after)
    return None


def status_error(method: str, url: str, resp: Answer) -> BaseException:
    """The error hook of a service whose error answers say nothing beyond their status: 401
    refreshes the token, 429 and 5xx are retried after their Retry-After, 404 is NotFound.
    The error carries the answer's `status`, for a caller that expects one (a 405 or a 416)."""
    what = f"{method} {url}: HTTP {resp.status_code} {resp.reason or ''}".rstrip()
    after = parse_retry_after(resp.headers.get("Retry-After"))
    err: BaseException
    if resp.status_code == 401:
        err = Unauthorized(what)
    elif resp.status_code == 403:
        err = PermissionDenied(what)
    elif resp.status_code in (404, 410):
        err = NotFound(what)
    elif resp.status_code == 429:
        err = Throttled(what, after)
    elif resp.status_code >= 500:
        err = Unavailable(what, after)
    else:
        err = Fatal(what)
    err.status = resp.status_code  # type: ignore[union-attr]
    return err


def paced(
    pacer: Pacer,
    fn: Callable[[], T],
    should_retry: ShouldRetry = standard_retry,
    refresh: Callable[[], None] | None = None,
    unauthorized: Callable[[BaseException], bool] = lambda exc: isinstance(exc, Unauthorized),
) -> T:
    """`fn` under `pacer`; the first `unauthorized` failure calls `refresh` and tries again at
    once (outside the retry budget: an expired token is not the service's fault)."""
    refreshed = False

    def attempt() -> T:
        nonlocal refreshed
        try:
            return fn()
        except Exception as exc:
            if refresh is None or refreshed or not unauthorized(exc):
                raise
            refreshed = True
            log.info("access token refused (401); refreshing it")
            refresh()
            return fn()

    return pacer.call(attempt, should_retry)


class Rest:
    """A requests client for one service: a Session per thread (requests' Session is not
    documented as thread-safe), bearer tokens, error answers through the service's hook."""

    def __init__(
        self,
        pacer: Pacer,
        error_hook: ErrorHook,
        new_session: Callable[[], requests.Session],
        timeout: float | tuple[float, float],
        tokens: TokenSource | None = None,
        on_drop: Callable[[str, str, BaseException], BaseException] | None = None,
    ) -> None:
        self.pacer = pacer
        self.error_hook = error_hook
        self.new_session = new_session
        self.timeout = timeout
        self.tokens = tokens
        self.on_drop = on_drop
        self._local = threading.local()

    def session(self) -> requests.Session:
        sess: requests.Session | None = getattr(self._local, "session", None)
        if sess is None:
            sess = self._local.session = self.new_session()
        return sess

    def send(
        self,
        method: str,
        url: str,
        *,
        auth: bool = True,
        headers: Mapping[str, str] | None = None,
        **kw: Any,
    ) -> requests.Response:
        """One try, not paced; an answer of 400 or more raises what the error hook says."""
        kw.setdefault("timeout", self.timeout)
        return self._exchange(
            method,
            url,
            auth,
            headers,
            lambda hdrs: self.session().request(method, url, headers=hdrs, **kw),
        )

    def stream(
        self,
        url: str,
        *,
        auth: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """A GET whose body is read as it arrives, like `send(..., stream=True)` (one try, error
        answers through the hook, connection failures as requests raises them) without
        requests' per-request work."""
        from .getstream import Router

        router: Router | None = getattr(self._local, "router", None)
        sess = self.session()
        if router is None or router.session is not sess:
            router = self._local.router = Router(sess, self.timeout)
        return self._exchange("GET", url, auth, headers, lambda hdrs: router.get(url, hdrs))

    def _exchange(
        self,
        method: str,
        url: str,
        auth: bool,
        headers: Mapping[str, str] | None,
        exchange: Callable[[dict[str, str]], R],
    ) -> R:
        """`exchange(headers)` with the bearer token added (`auth` and tokens set): a dropped
        connection goes through `on_drop`, an answer of 400 or more through the error hook."""
        import requests

        hdrs = dict(headers or {})
        if auth and self.tokens is not None:
            self._local.sent = self.tokens.token()
            hdrs["Authorization"] = "Bearer " + self._local.sent
        try:
            resp = exchange(hdrs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            if self.on_drop is None:
                raise
            raise self.on_drop(method, url, exc) from exc
        if resp.status_code >= 400:
            try:
                err = self.error_hook(method, url, resp)
            finally:
                resp.close()
            raise err
        return resp

    def call(
        self,
        method: str,
        url: str,
        should_retry: ShouldRetry = standard_retry,
        *,
        auth: bool = True,
        **kw: Any,
    ) -> requests.Response:
        """`send` paced and retried; a 401 refreshes the token once (`auth` and tokens set)."""
        return self._paced(lambda: self.send(method, url, auth=auth, **kw), should_retry, auth)

    def call_stream(
        self,
        url: str,
        should_retry: ShouldRetry = standard_retry,
        *,
        auth: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """`stream` paced and retried, as `call` is."""
        return self._paced(lambda: self.stream(url, auth=auth, headers=headers), should_retry, auth)

    def _paced(self, fn: Callable[[], T], should_retry: ShouldRetry, auth: bool) -> T:
        tokens = self.tokens if auth else None
        refresh = None
        if tokens is not None:

            def refresh() -> None:
                tokens.refresh(getattr(self._local, "sent", ""))

        return paced(self.pacer, fn, should_retry, refresh)


def content_total(content_range: str) -> int | None:
    """The object size from `Content-Range: bytes a-b/total` (None when `*` or absent)."""
    _, _, total = content_range.rpartition("/")
    return int(total) if total.strip().isdigit() else None


def ranged_download(
    open_range: Callable[[int, int | None], Answer | None],
    what: str,
    pacer: Pacer,
    broken: Callable[[BaseException], bool],
    offset: int = 0,
    length: int | None = None,
    chunk_size: int = CHUNK,
) -> Iterator[bytes]:
    """Bytes [offset, offset+length) (or to the end) of what `open_range(pos, end)` answers.

    `open_range` sends the (paced) request for bytes from `pos` to `end` (exclusive, None: to
    the end) and returns the answer, or None when there is nothing there (416). A body that
    breaks off (`broken(exc)`, or a ranged body that ends short) is asked for again from the
    byte reached, at most `pacer.policy.attempts` times, then one clear error. An answer of 200
    to a ranged request (Range ignored) has its head dropped here.
    """
    import requests

    pos = offset
    end = None if length is None else offset + length
    breaks = 0
    while end is None or pos < end:
        resp = open_range(pos, end)
        if resp is None:
            return
        started = pos
        broke: BaseException | None = None
        try:
            skip = pos if resp.status_code == 200 else 0
            if end is not None and resp.status_code == 206:
                total = content_total(resp.headers.get("Content-Range", ""))
                end = min(end, total) if total is not None else end
            for chunk in resp.iter_content(chunk_size):
                if skip:
                    cut = min(skip, len(chunk))
                    chunk, skip = chunk[cut:], skip - cut
                if end is not None and pos + len(chunk) > end:
                    chunk = chunk[: end - pos]
                if not chunk:
                    continue
                pos += len(chunk)
                yield chunk
                if end is not None and pos >= end:
                    break
            if end is not None and pos < end:
                raise requests.exceptions.ChunkedEncodingError("body ended early")
        except Exception as exc:
            if isinstance(exc, KlosetError):
                raise
            if not broken(exc):
                raise Fatal(f"{what}: download broke off at byte {pos}: {exc}") from exc
            broke = exc
        finally:
            resp.close()
        if broke is None:
            return
        breaks += 1
        if breaks >= pacer.policy.attempts:
            raise Fatal(
                f"{what}: download broke off at byte {pos} ({breaks} times, the retry budget):"
                f" {broke}"
            ) from broke
        log.info("%s: download broke off at byte %d (%s); resuming", what, pos, broke)
        if pos == started:  # no progress: the service, not one bad connection; back off
            pacer.pause(pacer.backoff(breaks - 1))
