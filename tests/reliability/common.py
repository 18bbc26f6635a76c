"""Small helpers shared by the reliability tests."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import grpc

from kloset_sdk.harness import PluginProcess

T = TypeVar("T")
MiB = 1 << 20

#: Every integration of the project, in the order the report lists them.
INTEGRATIONS = ("fs", "s3", "sftp", "gdrive", "onedrive")


@dataclass
class Scenario:
    """What one scenario measured (see conftest.py)."""

    runs: int = 0
    failures: int = 0
    bytes_lost: int = 0
    bytes_checked: int = 0
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.notes.append(text)


def plugin_environment(base: Path, tmpdir: Path | None = None) -> dict[str, str]:
    """A plugin's environment: private TMPDIR and HOME under `base`, no proxies or CA overrides."""
    env = dict(os.environ)
    for k in (
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "SSH_AUTH_SOCK",
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "KLOSET_LOG",
    ):
        env.pop(k, None)
    home = base / "plugin-home"
    home.mkdir(exist_ok=True)
    tmp = tmpdir or base / "plugin-tmp"
    tmp.mkdir(exist_ok=True)
    env["HOME"] = str(home)
    env["TMPDIR"] = str(tmp)
    root = str(Path(__file__).resolve().parent.parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def rtype(value: int) -> Any:
    """A StorageResource number for the generated stubs (any int, valid or not)."""
    return value


def status(fn: Callable[[], T]) -> tuple[grpc.StatusCode, str, T | None]:
    """(code, details, value) of a call: OK and its value, or the error's code and details."""
    try:
        value = fn()
    except grpc.RpcError as exc:
        return exc.code(), exc.details() or "", None
    return grpc.StatusCode.OK, "", value


def assert_clear(details: str, *, names: Iterable[str] = ()) -> None:
    """A status message a user can read: one line, no traceback, not empty, of sane length."""
    assert details, "empty status message"
    assert "\n" not in details, f"multi-line status message: {details!r}"
    assert "Traceback" not in details, details
    assert 'File "' not in details, details
    assert len(details) <= 1000, f"status message of {len(details)} chars: {details[:200]!r}..."
    for n in names:
        assert n in details, f"{n!r} not named in {details!r}"


def wait_exit(proc: PluginProcess, timeout: float) -> int | None:
    """Exit status of the plugin within `timeout` seconds, else None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rc = proc.proc.poll()
        if rc is not None:
            return rc
        time.sleep(0.01)
    return proc.proc.poll()


def sigkill(proc: PluginProcess) -> None:
    """SIGKILL, as Plakar's CommandContext does at the end of a command (§1.1, P15)."""
    if proc.proc.poll() is None:
        os.kill(proc.proc.pid, signal.SIGKILL)
    proc.proc.wait()


def chunks_of(data: bytes, size: int = MiB) -> Iterator[bytes]:
    for off in range(0, len(data), size):
        yield data[off : off + size]


def deadline_loop(seconds: float, step: float = 0.02) -> Iterator[float]:
    """Yield the time left until `seconds` passed, sleeping `step` between yields."""
    end = time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return
        yield left
        time.sleep(step)


def content(seed: int, size: int) -> bytes:
    """Deterministic pseudo-random bytes (fast: one random block repeated with a counter)."""
    import random

    rng = random.Random(seed)
    block = rng.randbytes(min(size, 64 * 1024) or 1)
    out = bytearray()
    i = 0
    while len(out) < size:
        out += i.to_bytes(8, "little") + block
        i += 1
    return bytes(out[:size])


def any_of(*values: Any) -> Any:
    return next((v for v in values if v), None)
