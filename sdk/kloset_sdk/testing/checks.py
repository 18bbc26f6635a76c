"""The storage checks (docs/PROTOCOL.md: Storage) as plain functions, without pytest.

One implementation serves both `klosetctl store check` (which runs them against a location a
user names, from an installed package) and the pytest suite in `kloset_sdk.testing.storage`
(one test per check). A check raises `CheckFailed` with one line saying what is wrong, or
returns a short summary of what it verified. Each check uses fresh random MACs and records
what it wrote, so `Checker.cleanup` can delete it.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial

import grpc

from kloset_sdk._pb import storage_pb2 as spb
from kloset_sdk.harness import StoreClient
from kloset_sdk.layout import LISTED, Resource

MiB = 1 << 20
#: The sizes every store must round-trip: empty, one byte, either side of the 1 MiB chunk.
ROUNDTRIP_SIZES: tuple[int, ...] = (0, 1, MiB - 1, MiB, MiB + 1, 3 * MiB + 17)


class CheckFailed(Exception):
    """A storage check found the store breaking the protocol (the message is one line)."""


def mac_of(data: bytes) -> bytes:
    """A fresh 32-byte MAC: random salt, so reruns never meet an earlier run's objects."""
    return hashlib.sha256(data + os.urandom(8)).digest()


def error_message(exc: BaseException) -> str:
    """One line for an unexpected failure inside a check."""
    if isinstance(exc, grpc.RpcError):
        return str(exc.details() or exc.code())
    return str(exc) or type(exc).__name__


def clean_error(exc: grpc.RpcError, what: str) -> str:
    """An ordinary error must be neither CANCELLED nor UNAVAILABLE (the host misreads those,
    P13) and carry one non-empty line without a traceback (§9 item 41). Returns the line."""
    if exc.code() in (grpc.StatusCode.OK, grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE):
        raise CheckFailed(f"{what}: failed with {exc.code().name}, which the host misreads")
    details = exc.details() or ""
    if not details or "\n" in details or "Traceback" in details:
        raise CheckFailed(f"{what}: error message is empty or multi-line: {details[:200]!r}")
    return details


def expect_error(call: Callable[[], object], what: str) -> str:
    """The call must fail with a clean status (see `clean_error`)."""
    try:
        call()
    except grpc.RpcError as exc:
        return clean_error(exc, what)
    raise CheckFailed(f"{what}: succeeded, should fail")


def expect_any_error(call: Callable[[], object], what: str) -> None:
    try:
        call()
    except grpc.RpcError:
        return
    raise CheckFailed(f"{what}: succeeded, should fail")


class Checker:
    """Holds a store that was just created with `config_blob`, and what the checks wrote."""

    def __init__(
        self,
        store: StoreClient,
        config_blob: bytes,
        expected_mode: int = 6,
        *,
        big_sizes: Sequence[int] = (5 * MiB + 3,),
        size_known: bool | None = None,
    ) -> None:
        self.store = store
        self.blob = config_blob
        self.expected_mode = expected_mode
        self.big_sizes = tuple(big_sizes)
        #: True: Size() must count bytes; False: it must be -1; None: either is accepted.
        self.size_known = size_known
        self.written: list[tuple[Resource, bytes]] = []

    def put(self, res: Resource, data: bytes, flags: int = 0) -> bytes:
        mac = mac_of(data)
        n = self.store.put(res, mac, data, flags)
        self.written.append((res, mac))
        if n != len(data):
            raise CheckFailed(f"Put reported {n} bytes written for {len(data)}")
        return mac

    def _roundtrip(self, sizes: Sequence[int]) -> None:
        for size in sizes:
            data = os.urandom(size)
            mac = self.put(Resource.PACKFILE, data)
            got = self.store.get(Resource.PACKFILE, mac)
            if got != data:
                raise CheckFailed(f"Get of a {size}-byte object returned {len(got)} other bytes")

    # -- Create / Open / Mode -----------------------------------------------------------------
    def check_open(self) -> str:
        got = self.store.open()
        if got != self.blob:
            raise CheckFailed(f"Open returned {len(got)} bytes, not the {len(self.blob)} created")
        return f"{len(got)} bytes, identical"

    def check_second_create(self) -> str:
        expect_error(lambda: self.store.create(b"again"), "second Create")
        if self.store.open() != self.blob:
            raise CheckFailed("a failed second Create changed the config")
        return "refused"

    def check_mode(self) -> str:
        mode = self.store.mode()
        if mode != self.expected_mode:
            raise CheckFailed(f"Mode is {mode}, expected {self.expected_mode}")
        return f"mode {mode}"

    def check_ping(self) -> str:
        self.store.ping()
        return "answered"

    # -- Put / Get ----------------------------------------------------------------------------
    def check_roundtrip(self) -> str:
        self._roundtrip(ROUNDTRIP_SIZES)
        return f"{len(ROUNDTRIP_SIZES)} sizes, 0 B to 3 MiB"

    def check_big(self) -> str:
        """The sizes a backend declares as its interesting ones (multipart, upload sessions)."""
        self._roundtrip(self.big_sizes)
        return ", ".join(f"{s} B" for s in self.big_sizes)

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
        expect_error(
            lambda: self.store.get(Resource.PACKFILE, mac, len(data) - 10, 100), "range past end"
        )
        return f"{len(ranges)} ranges, past-end refused"

    def check_unknown(self) -> str:
        for res in LISTED:
            expect_error(partial(self.store.get, res, os.urandom(32)), "Get unknown MAC")
        return "Get of unknown MACs fails cleanly"

    def check_bad_put(self) -> str:
        for bad in (b"", b"x" * 31, b"y" * 33):
            expect_error(partial(self.store.put, Resource.PACKFILE, bad, b"d"), "bad MAC")
        expect_error(
            lambda: self.store.put(Resource.UNDEFINED, os.urandom(32), b"d"), "missing type"
        )
        self.store.mode()  # still serving after the refusals (check_mode judges the value)
        return "bad MACs and missing type refused"

    def check_hot(self) -> str:
        data = b"hot" * 1000
        mac = self.put(Resource.PACKFILE, data, flags=1)
        if self.store.get(Resource.PACKFILE, mac) != data:
            raise CheckFailed("Put with HOT flag stored other bytes")
        return "HOT flag accepted"

    def check_cancelled_put(self) -> str:
        mac = os.urandom(32)
        sent = threading.Event()

        def requests() -> Iterator[spb.PutRequest]:
            yield spb.PutRequest(mac=mac, type=spb.STORAGE_RESOURCE_PACKFILE)
            yield spb.PutRequest(chunk=os.urandom(MiB))
            sent.set()
            time.sleep(0.5)
            raise RuntimeError("host source reader failed")  # no half-close: an abort

        expect_any_error(lambda: self.store.stub.Put(requests()), "aborted Put")
        if not sent.is_set():
            raise CheckFailed("the Put ended before its first chunk was sent")
        time.sleep(0.5)
        if mac in self.store.list(Resource.PACKFILE):
            self.written.append((Resource.PACKFILE, mac))
            raise CheckFailed("an aborted Put left an object behind (commit only at EOF)")
        expect_any_error(partial(self.store.get, Resource.PACKFILE, mac), "Get after aborted Put")
        return "aborted Put stored nothing"

    # -- List / Delete / Size -----------------------------------------------------------------
    def check_list_delete(self) -> str:
        macs = {res: self.put(res, os.urandom(100)) for res in LISTED}
        for res, mac in macs.items():
            listed = self.store.list(res)
            if any(len(m) != 32 for m in listed):
                raise CheckFailed(f"List {res.name} returned a MAC that is not 32 bytes")
            if mac not in listed:
                raise CheckFailed(f"List {res.name} misses an object just written")
            if any(m in listed for o, m in macs.items() if o != res):
                raise CheckFailed(f"List {res.name} shows an object of another type")
        for res, mac in macs.items():
            self.store.delete(res, mac)
            if mac in self.store.list(res):
                raise CheckFailed(f"List {res.name} still shows a deleted object")
            expect_error(partial(self.store.get, res, mac), "Get after Delete")
        return "packfile, state, lock"

    def check_unknown_list_type(self) -> str:
        expect_error(
            lambda: self.store.stub.List(spb.ListRequest(type=spb.STORAGE_RESOURCE_UNDEFINED)),
            "List of type 0",
        )
        return "refused"

    def check_concurrent(self) -> str:
        blobs = [os.urandom(MiB // 2 + i) for i in range(12)]
        errors: list[str] = []

        def work(data: bytes) -> None:
            try:
                mac = self.put(Resource.PACKFILE, data)
                if self.store.get(Resource.PACKFILE, mac) != data:
                    errors.append("concurrent Get returned other bytes")
            except (grpc.RpcError, CheckFailed) as exc:
                errors.append(error_message(exc))

        threads = [threading.Thread(target=work, args=(b,)) for b in blobs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        if errors:
            raise CheckFailed(f"{len(errors)} of {len(blobs)} failed: {errors[0]}")
        return f"{len(blobs)} parallel Put+Get"

    def check_size(self) -> str:
        before = self.store.size()
        if self.size_known is not None:
            self.put(Resource.PACKFILE, os.urandom(4096))
        size = self.store.size()
        if size < -1:
            raise CheckFailed(f"Size is {size}: must be bytes or -1")
        if self.size_known is False and (before, size) != (-1, -1):
            raise CheckFailed(f"Size is {size}: the store declares it cannot tell, so -1")
        if self.size_known and before < 0:
            raise CheckFailed(f"Size is {before}, yet the store declares it counts bytes")
        if self.size_known and size < before + 4096:
            raise CheckFailed(f"Size went from {before} to {size} after a 4096-byte Put")
        return f"{size} bytes" if size >= 0 else "-1 (unknown)"

    def cleanup(self) -> str:
        for res, mac in self.written:
            try:
                self.store.delete(res, mac)
            except grpc.RpcError:
                pass  # already deleted by a check
        return f"{len(self.written)} objects deleted"
