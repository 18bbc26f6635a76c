"""`klosetctl store check`: the storage conformance checks (docs/PROTOCOL.md: Storage).

These are plain functions rather than the pytest suite in tests/conformance, so they run from
an installed package against any location a user points at. Each check uses fresh random MACs
and deletes what it wrote; the repository config written by Create stays (the protocol has no
call to remove it), which is why the location must be empty and throw-away.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial

import grpc

from kloset_sdk._pb import storage_pb2 as spb
from kloset_sdk.harness import StoreClient
from kloset_sdk.layout import LISTED, Resource

from .config import CliError
from .plugins import connect, failure, rpc_message

MiB = 1 << 20


class CheckFailed(Exception):
    pass


@dataclass
class Outcome:
    name: str
    ok: bool
    detail: str
    seconds: float


def _mac(data: bytes) -> bytes:
    return hashlib.sha256(data + os.urandom(8)).digest()


def _expect_error(call: Callable[[], object], what: str) -> str:
    """The call must fail with a clean status: not OK, CANCELLED or UNAVAILABLE (P13)."""
    try:
        call()
    except grpc.RpcError as exc:
        if exc.code() in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE):
            raise CheckFailed(
                f"{what}: failed with {exc.code().name}, which the host misreads"
            ) from None
        details = exc.details() or ""
        if not details or "\n" in details or "Traceback" in details:
            raise CheckFailed(
                f"{what}: error message is empty or multi-line: {details[:200]!r}"
            ) from None
        return details
    raise CheckFailed(f"{what}: succeeded, should fail")


class Checker:
    """Holds the store and the objects to delete at the end."""

    def __init__(self, store: StoreClient, config_blob: bytes, expected_mode: int) -> None:
        self.store = store
        self.blob = config_blob
        self.expected_mode = expected_mode
        self.written: list[tuple[Resource, bytes]] = []

    def put(self, res: Resource, data: bytes, flags: int = 0) -> bytes:
        mac = _mac(data)
        n = self.store.put(res, mac, data, flags)
        self.written.append((res, mac))
        if n != len(data):
            raise CheckFailed(f"Put reported {n} bytes written for {len(data)}")
        return mac

    def check_open(self) -> str:
        got = self.store.open()
        if got != self.blob:
            raise CheckFailed(f"Open returned {len(got)} bytes, not the {len(self.blob)} created")
        return f"{len(got)} bytes, identical"

    def check_second_create(self) -> str:
        _expect_error(lambda: self.store.create(b"again"), "second Create")
        if self.store.open() != self.blob:
            raise CheckFailed("a failed second Create changed the config")
        return "refused"

    def check_mode(self) -> str:
        mode = self.store.mode()
        if mode != self.expected_mode:
            raise CheckFailed(f"Mode is {mode}, expected {self.expected_mode}")
        return f"mode {mode}"

    def check_roundtrip(self) -> str:
        sizes = [0, 1, MiB - 1, MiB, MiB + 1, 3 * MiB + 17]
        for size in sizes:
            data = os.urandom(size)
            mac = self.put(Resource.PACKFILE, data)
            got = self.store.get(Resource.PACKFILE, mac)
            if got != data:
                raise CheckFailed(f"Get of a {size}-byte object returned {len(got)} other bytes")
        return f"{len(sizes)} sizes, 0 B to 3 MiB"

    def check_chunks(self) -> str:
        data = os.urandom(2 * MiB + 5)
        mac = self.put(Resource.STATE, data)
        chunks = list(self.store.get_iter(Resource.STATE, mac))
        if any(len(c) > MiB for c in chunks):
            raise CheckFailed("a Get chunk is over 1 MiB")
        if b"".join(chunks) != data:
            raise CheckFailed("chunked Get returned other bytes")
        return f"{len(chunks)} chunks"

    def check_ranges(self) -> str:
        data = os.urandom(3 * MiB + 100)
        mac = self.put(Resource.PACKFILE, data)
        ranges = [(0, 1), (1, 4096), (MiB - 3, 10), (MiB, MiB), (len(data) - 10, 10), (5, 0)]
        for off, ln in ranges:
            if self.store.get(Resource.PACKFILE, mac, off, ln) != data[off : off + ln]:
                raise CheckFailed(f"range offset={off} length={ln} returned other bytes")
        _expect_error(
            lambda: self.store.get(Resource.PACKFILE, mac, len(data) - 10, 100), "range past end"
        )
        return f"{len(ranges)} ranges, past-end refused"

    def check_unknown(self) -> str:
        for res in LISTED:
            _expect_error(partial(self.store.get, res, os.urandom(32)), "Get unknown MAC")
        return "Get of unknown MACs fails cleanly"

    def check_bad_put(self) -> str:
        for bad in (b"", b"x" * 31, b"y" * 33):
            _expect_error(partial(self.store.put, Resource.PACKFILE, bad, b"d"), "bad MAC")
        _expect_error(
            lambda: self.store.put(Resource.UNDEFINED, os.urandom(32), b"d"), "missing type"
        )
        return "bad MACs and missing type refused"

    def check_hot(self) -> str:
        data = b"hot" * 1000
        mac = self.put(Resource.PACKFILE, data, flags=1)
        if self.store.get(Resource.PACKFILE, mac) != data:
            raise CheckFailed("Put with HOT flag stored other bytes")
        return "HOT flag accepted"

    def check_cancelled_put(self) -> str:
        mac = os.urandom(32)

        def requests() -> Iterator[spb.PutRequest]:
            yield spb.PutRequest(mac=mac, type=spb.STORAGE_RESOURCE_PACKFILE)
            yield spb.PutRequest(chunk=os.urandom(MiB))
            time.sleep(0.5)
            raise RuntimeError("host source reader failed")  # no half-close: an abort

        try:
            self.store.stub.Put(requests())
        except grpc.RpcError:
            pass
        time.sleep(0.5)
        if mac in self.store.list(Resource.PACKFILE):
            self.written.append((Resource.PACKFILE, mac))
            raise CheckFailed("an aborted Put left an object behind (commit only at EOF)")
        return "aborted Put stored nothing"

    def check_list_delete(self) -> str:
        macs = {res: self.put(res, os.urandom(100)) for res in LISTED}
        for res, mac in macs.items():
            listed = self.store.list(res)
            if any(len(m) != 32 for m in listed):
                raise CheckFailed(f"List {res.name} returned a MAC that is not 32 bytes")
            if mac not in listed:
                raise CheckFailed(f"List {res.name} misses an object just written")
            self.store.delete(res, mac)
            if mac in self.store.list(res):
                raise CheckFailed(f"List {res.name} still shows a deleted object")
            _expect_error(partial(self.store.get, res, mac), "Get after Delete")
        return "packfile, state, lock"

    def check_concurrent(self) -> str:
        blobs = [os.urandom(MiB // 2 + i) for i in range(12)]
        errors: list[str] = []

        def work(data: bytes) -> None:
            try:
                mac = self.put(Resource.PACKFILE, data)
                if self.store.get(Resource.PACKFILE, mac) != data:
                    errors.append("concurrent Get returned other bytes")
            except (grpc.RpcError, CheckFailed) as exc:
                errors.append(rpc_message(exc))

        threads = [threading.Thread(target=work, args=(b,)) for b in blobs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        if errors:
            raise CheckFailed(f"{len(errors)} of {len(blobs)} failed: {errors[0]}")
        return f"{len(blobs)} parallel Put+Get"

    def check_size(self) -> str:
        size = self.store.size()
        if size < -1:
            raise CheckFailed(f"Size is {size}: must be bytes or -1")
        return f"{size} bytes" if size >= 0 else "-1 (unknown)"

    def cleanup(self) -> str:
        for res, mac in self.written:
            try:
                self.store.delete(res, mac)
            except grpc.RpcError:
                pass  # already deleted by a check
        return f"{len(self.written)} objects deleted"


CHECKS: list[tuple[str, Callable[[Checker], str]]] = [
    ("Open returns the Create bytes", Checker.check_open),
    ("second Create fails", Checker.check_second_create),
    ("Mode", Checker.check_mode),
    ("Put/Get round trip", Checker.check_roundtrip),
    ("Get chunks <= 1 MiB", Checker.check_chunks),
    ("ranged Get", Checker.check_ranges),
    ("Get unknown MAC fails", Checker.check_unknown),
    ("bad Put refused", Checker.check_bad_put),
    ("HOT flag", Checker.check_hot),
    ("aborted Put leaves nothing", Checker.check_cancelled_put),
    ("List and Delete", Checker.check_list_delete),
    ("concurrent Put/Get", Checker.check_concurrent),
    ("Size", Checker.check_size),
    ("clean-up", Checker.cleanup),
]


def create_failed(exc: grpc.RpcError, message: str) -> CliError:
    """The error for a failed Create: the store's own reason, and the hint only if it applies.

    Only ALREADY_EXISTS (AlreadyExists in the SDK) means the location holds something; an
    unreachable endpoint, refused credentials or a bad option must not be blamed on it.
    """
    if exc.code() == grpc.StatusCode.ALREADY_EXISTS:
        return CliError(
            f"Create failed: {message} (store check creates a repository, so it"
            " needs an empty location: point it at a new directory, bucket prefix or folder)"
        )
    return CliError(f"Create failed: {message}", status=1)


def run_checks(
    proto: str,
    config: Mapping[str, str],
    exe: str | None = None,
    expected_mode: int = 6,
    on_result: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Create a repository at an empty location, then run every check; never raises on FAIL."""
    out: list[Outcome] = []
    with connect("storage", proto, config, exe=exe) as conn:
        blob = b"_KLOSET_" + os.urandom(509)
        t0 = time.monotonic()
        try:
            conn.client.create(blob)
        except grpc.RpcError as exc:
            raise create_failed(exc, failure(conn.proc, exc)) from None
        out.append(Outcome("Create at an empty location", True, "ok", time.monotonic() - t0))
        if on_result:
            on_result(out[-1])
        checker = Checker(conn.client, blob, expected_mode)
        for name, fn in CHECKS:
            t0 = time.monotonic()
            try:
                res = Outcome(name, True, fn(checker), 0)
            except CheckFailed as exc:
                res = Outcome(name, False, str(exc), 0)
            except grpc.RpcError as exc:
                res = Outcome(name, False, rpc_message(exc), 0)
            res.seconds = time.monotonic() - t0
            out.append(res)
            if on_result:
                on_result(res)
    return out
