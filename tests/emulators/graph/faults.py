"""Run-time fault injection for the Graph emulator: ratios (seeded) and scripted one-shots."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

# Request kinds that never get faults unless ``include_auth`` is set.
AUTH_KINDS = frozenset({"discovery", "token", "devicecode", "authorize"})


@dataclass
class Fault:
    """What to do to one request instead of answering it normally."""

    action: str  # "status", "drop" or "truncate"
    status: int = 0
    code: str = ""
    retry_after: float | None = None


@dataclass
class _Scripted:
    fault: Fault
    remaining: int
    kinds: frozenset[str] | None


@dataclass
class Faults:
    """Knobs tests turn while the emulator runs; reads and draws are thread-safe.

    Ratios are probabilities per request (drawn from a seeded RNG, so a single-threaded run is
    reproducible). ``kinds`` limits ratio faults to some request kinds (see ``GraphEmulator``
    stats keys). ``retry_after`` is sent as the ``Retry-After`` header unless
    ``omit_retry_after`` (Graph often leaves it out).
    """

    throttle_ratio: float = 0.0
    unavailable_ratio: float = 0.0
    error5xx_ratio: float = 0.0
    drop_ratio: float = 0.0
    truncate_ratio: float = 0.0
    retry_after: float = 1
    omit_retry_after: bool = False
    insufficient_storage: bool = False
    drop_upload_after_bytes: int | None = None
    include_auth: bool = False
    kinds: frozenset[str] | None = None
    latency: float = 0.0
    seed: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _scripted: list[_Scripted] = field(default_factory=list, repr=False)
    _upload_seen: int = 0
    _upload_armed: int | None = None

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)

    def reseed(self, seed: int) -> None:
        """Restart the random sequence (same seed, same faults in a sequential run)."""
        with self._lock:
            self.seed = seed
            self._rng.seed(seed)

    def reset(self) -> None:
        """Back to a healthy server."""
        with self._lock:
            self.throttle_ratio = self.unavailable_ratio = self.error5xx_ratio = 0.0
            self.drop_ratio = self.truncate_ratio = self.latency = 0.0
            self.retry_after = 1
            self.omit_retry_after = self.insufficient_storage = self.include_auth = False
            self.drop_upload_after_bytes = None
            self.kinds = None
            self._scripted.clear()
            self._upload_seen = 0
            self._rng.seed(self.seed)

    def fail_next(
        self,
        status: int,
        count: int = 1,
        kinds: tuple[str, ...] | None = None,
        code: str = "",
        retry_after: float | None = None,
    ) -> None:
        """The next ``count`` requests (of these kinds) answer ``status`` (429, 503, 500...)."""
        fault = Fault("status", status, code, retry_after)
        self._script(fault, count, kinds)

    def drop_next(self, count: int = 1, kinds: tuple[str, ...] | None = None) -> None:
        """The next ``count`` requests get their connection closed without an answer."""
        self._script(Fault("drop"), count, kinds)

    def truncate_next(self, count: int = 1) -> None:
        """The next ``count`` downloads send only half of their body, then close."""
        self._script(Fault("truncate"), count, frozenset({"download"}))

    def _script(self, fault: Fault, count: int, kinds: tuple[str, ...] | frozenset[str] | None):
        with self._lock:
            self._scripted.append(_Scripted(fault, count, frozenset(kinds) if kinds else None))

    def draw(self, kind: str) -> Fault | None:
        """Decide the fate of one request of ``kind`` (None: answer normally)."""
        if kind in AUTH_KINDS and not self.include_auth:
            return None
        with self._lock:
            for entry in self._scripted:
                if entry.remaining > 0 and (entry.kinds is None or kind in entry.kinds):
                    if entry.fault.action == "truncate" and kind != "download":
                        continue
                    entry.remaining -= 1
                    if entry.remaining == 0:
                        self._scripted.remove(entry)
                    return entry.fault
            if self.kinds is not None and kind not in self.kinds:
                return None
            u = self._rng.random()
            edge = self.drop_ratio
            if u < edge:
                return Fault("drop")
            edge += self.throttle_ratio
            if u < edge:
                return Fault("status", 429, "activityLimitReached")
            edge += self.unavailable_ratio
            if u < edge:
                return Fault("status", 503, "serviceNotAvailable")
            edge += self.error5xx_ratio
            if u < edge:
                status = self._rng.choice((500, 502, 504))
                return Fault("status", status, "generalException")
            if kind == "download" and self._rng.random() < self.truncate_ratio:
                return Fault("truncate")
            return None

    def upload_drop_point(self, fragment_len: int) -> int | None:
        """Bytes of this fragment to read before dropping the connection (armed once)."""
        with self._lock:
            limit = self.drop_upload_after_bytes
            if limit is None:
                return None
            if limit != self._upload_armed:  # newly (re)armed: count from here
                self._upload_armed = limit
                self._upload_seen = 0
            if self._upload_seen + fragment_len <= limit:
                self._upload_seen += fragment_len
                return None
            cut = max(0, limit - self._upload_seen)
            self.drop_upload_after_bytes = None
            self._upload_armed = None
            return cut
