"""Fault injection: throttling, 5xx, dropped connections, truncated bodies, quota errors.

Knobs are plain attributes, settable at run time from any thread; decisions draw from one
seeded RNG under a lock, so a single-threaded client sees the same faults on every run.
"""

from __future__ import annotations

import random
import re
import threading
from collections import deque
from dataclasses import dataclass, field

from .errors import DriveError, quota_exceeded, rate_limited, server_error

MEDIA_KINDS = frozenset({"media", "export", "export_link"})
UPLOAD_KINDS = frozenset({"upload", "upload_chunk"})
AUTH_KINDS = frozenset({"token", "auth", "revoke"})

DROP = "drop"  # sentinel decisions for the HTTP layer
TRUNCATE = "truncate"


@dataclass
class _Scripted:
    error: DriveError | str
    pattern: re.Pattern[str] | None


@dataclass
class Faults:
    """Per-request fault knobs; ratios are probabilities in [0, 1]."""

    throttle_ratio: float = 0.0
    throttle_codes: tuple[int, ...] = (403, 429)  # 403 user/rateLimitExceeded or 429
    retry_after: float | None = 1.0  # seconds sent with throttling and 503 (None: no header)
    error5xx_ratio: float = 0.0
    error5xx_codes: tuple[int, ...] = (500, 503)
    drop_ratio: float = 0.0
    drop_mode: str = "close"  # "close" (FIN), "reset" (RST) or "after" (handled, answer lost)
    truncate_ratio: float = 0.0  # media bodies: full Content-Length, half the bytes, close
    quota_exhausted: bool | str = False  # True/"storageQuotaExceeded"/"uploadQuotaExceeded"
    latency: float = 0.0  # seconds slept before answering an API request
    max_page_size: int | None = None  # cap list pages below pageSize, as Drive may do
    only_paths: str | None = None  # regex searched in "path?query"; faults elsewhere are off
    apply_to_token: bool = False  # let ratios hit /token and the auth endpoint too
    seed: int | None = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, init=False)
    _rng: random.Random = field(default_factory=random.Random, repr=False, init=False)
    _script: deque[_Scripted] = field(default_factory=deque, repr=False, init=False)

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)

    def reset(self, seed: int | None = None) -> None:
        """Turn every fault off and reseed the RNG."""
        with self._lock:
            fresh = Faults(seed=self.seed if seed is None else seed)
            for name in self.__dataclass_fields__:
                if not name.startswith("_"):
                    setattr(self, name, getattr(fresh, name))
            self._rng.seed(self.seed)
            self._script.clear()

    def inject(
        self,
        code: int | str,
        reason: str | None = None,
        *,
        count: int = 1,
        path: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Queue deterministic faults for the next matching API requests.

        `code` is an HTTP status (reason defaults per status) or "drop" / "truncate".
        """
        pattern = re.compile(path) if path else None
        if isinstance(code, str):
            item: DriveError | str = code
        elif code in (403, 429) and reason in (None, "userRateLimitExceeded", "rateLimitExceeded"):
            default = "userRateLimitExceeded" if code == 403 else "rateLimitExceeded"
            item = rate_limited(code, reason or default, retry_after)
        elif reason in ("storageQuotaExceeded", "uploadQuotaExceeded"):
            item = quota_exceeded(reason)
        elif code >= 500 and reason is None:
            item = server_error(code, retry_after)
        else:
            headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
            item = DriveError(code, reason or "backendError", reason or "Error", headers=headers)
        with self._lock:
            for _ in range(count):
                self._script.append(_Scripted(item, pattern))

    def applies(self, kind: str, target: str) -> bool:
        if kind in AUTH_KINDS and not self.apply_to_token:
            return False
        return self.only_paths is None or re.search(self.only_paths, target) is not None

    def decide(self, kind: str, target: str) -> DriveError | str | None:
        """The fault for one request (an error to answer, DROP, TRUNCATE) or None."""
        if not self.applies(kind, target):
            return None
        with self._lock:
            for i, scripted in enumerate(self._script):
                if scripted.error == TRUNCATE and kind not in MEDIA_KINDS:
                    continue
                if scripted.pattern is None or scripted.pattern.search(target):
                    del self._script[i]
                    return scripted.error
            rng = self._rng
            if self.drop_ratio and rng.random() < self.drop_ratio:
                return DROP
            if self.throttle_ratio and rng.random() < self.throttle_ratio:
                code = rng.choice(self.throttle_codes)
                reason = "rateLimitExceeded"
                if code == 403:
                    reason = rng.choice(("userRateLimitExceeded", "rateLimitExceeded"))
                return rate_limited(code, reason, self.retry_after)
            if self.error5xx_ratio and rng.random() < self.error5xx_ratio:
                return server_error(rng.choice(self.error5xx_codes), self.retry_after)
            if kind in MEDIA_KINDS and self.truncate_ratio and rng.random() < self.truncate_ratio:
                return TRUNCATE
        if kind in UPLOAD_KINDS and self.quota_exhausted:
            knob = self.quota_exhausted
            return quota_exceeded(knob if isinstance(knob, str) else "storageQuotaExceeded")
        return None
