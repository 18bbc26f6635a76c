"""The connector contract the SDK enforces, and the in-process `serve_on` seam."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from kloset_sdk import ConfigError, FileInfo, Record, Resource, Storage, option
from kloset_sdk.connector import InitContext
from kloset_sdk.entrypoint import serve_on
from kloset_sdk.examples.memstore import MemStorage
from kloset_sdk.examples.tree import TreeExporter
from kloset_sdk.exporter import parse_export_request
from kloset_sdk.harness.clients import ExporterClient, StoreClient
from kloset_sdk.options import parse


@dataclass(frozen=True)
class RangeOptions:
    location: str = option(required=True, help="range://")
    low: int = option(0, help="lowest value")
    high: int = option(10, help="highest value")

    def validate(self) -> None:
        if self.low > self.high:
            raise ConfigError("low", f"{self.low} is above high ({self.high})")


def test_concrete_connector_missing_methods_fails_at_class_creation() -> None:
    with pytest.raises(TypeError, match=r"HalfStorage does not implement delete, get, list, put"):

        class HalfStorage(Storage[RangeOptions]):
            type_name = "half"

            def create(self, config: bytes) -> None: ...

            def open(self) -> bytes:
                return b""


def test_abstract_connector_cannot_be_instantiated() -> None:
    class Base(Storage[RangeOptions]):  # no type_name: an abstract base, allowed to exist
        pass

    with pytest.raises(TypeError, match="abstract"):
        Base(RangeOptions(location="range://"), InitContext(kind="storage", proto="range"))  # type: ignore[abstract]


def test_options_class_comes_from_the_type_parameter() -> None:
    @dataclass(frozen=True)
    class Other:
        location: str = option(required=True, help="x")

    class Derived(MemStorage):  # inherits MemStorage's explicit options_class
        type_name = "derived"

    class FromParam(Storage[RangeOptions]):
        type_name = "param"
        create = open = list = put = get = delete = MemStorage.create  # type: ignore[assignment]

    class Explicit(Storage[RangeOptions]):
        options_class = Other
        type_name = "explicit"
        create = open = list = put = get = delete = MemStorage.create  # type: ignore[assignment]

    assert FromParam.options_class is RangeOptions
    assert Explicit.options_class is Other
    assert Derived.options_class is MemStorage.options_class


def test_options_validate_runs_after_coercion() -> None:
    assert parse(RangeOptions, {"location": "range://", "low": "3"}, "storage").low == 3
    with pytest.raises(ConfigError) as err:
        parse(RangeOptions, {"location": "range://", "low": "30"}, "storage")
    assert err.value.key == "low"
    assert str(err.value) == "low: 30 is above high (10)"


@pytest.fixture
def channel() -> Iterator[tuple[grpc.Server, grpc.Channel]]:
    server = grpc.server(ThreadPoolExecutor(max_workers=8))
    port = server.add_insecure_port("127.0.0.1:0")
    yield server, grpc.insecure_channel(f"127.0.0.1:{port}")
    server.stop(0)


def _status(fn: Callable[[], object]) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as err:
        fn()
    return err.value.code(), err.value.details()


def test_serve_on_storage_and_calls_before_init(channel: tuple[grpc.Server, grpc.Channel]) -> None:
    server, chan = channel
    host_gone = serve_on(server, "storage", {"mem": MemStorage})
    server.start()
    store = StoreClient(chan)
    assert _status(store.open) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "storage: Open called before a successful Init",
    )
    assert _status(lambda: store.list(Resource.PACKFILE))[1] == (
        "storage: List called before a successful Init"
    )
    store.init({"location": "mem://contract"}, proto="mem")
    store.create(b"config")
    mac = os.urandom(32)
    data = os.urandom(3 << 20)
    assert store.put(Resource.PACKFILE, mac, data) == len(data)
    assert store.get(Resource.PACKFILE, mac) == data
    host_gone.set()  # the host went away: a Put whose stream ends now must not be committed
    other = os.urandom(32)
    assert _status(lambda: store.put(Resource.PACKFILE, other, b"late"))[0] != grpc.StatusCode.OK
    assert other not in store.list(Resource.PACKFILE)


def test_serve_on_exporter_content(
    channel: tuple[grpc.Server, grpc.Channel], tmp_path: Path
) -> None:
    server, chan = channel
    serve_on(server, "exporter", TreeExporter)
    server.start()
    exporter = ExporterClient(chan)
    exporter.init({"location": f"tree://{tmp_path}"}, proto="tree")
    data = os.urandom((2 << 20) + 5)
    items: Iterable[tuple[Record, bytes | None]] = [
        (Record.directory("/", FileInfo("/", mode=0o755)), None),
        (Record.file("/f.bin", FileInfo("f.bin", size=len(data)), lambda: io.BytesIO(data)), data),
    ]
    assert exporter.export(items).errors == []
    assert (tmp_path / "f.bin").read_bytes() == data


def test_export_chunks_skip_protobuf() -> None:
    raw = b"\x12\x03abc"
    chunk = parse_export_request(raw)
    assert isinstance(chunk, memoryview) and chunk.obj is raw and bytes(chunk) == b"abc"  # no copy
    end = parse_export_request(b"\x12\x00")
    assert isinstance(end, memoryview) and not end
    twice = parse_export_request(b"\x12\x01a\x12\x02bc")  # last one wins, as in protobuf
    assert isinstance(twice, memoryview) and bytes(twice) == b"bc"
    rec = parse_export_request(b"\x0a\x03\x12\x01/")  # record{pathname="/"}
    assert not isinstance(rec, memoryview) and rec.record.pathname == "/"


def test_servicer_missing_a_method_of_its_service_fails_at_class_creation() -> None:
    """Handlers come from the proto descriptor, so a servicer must implement every method."""
    from kloset_sdk._pb import storage_pb2
    from kloset_sdk.servicer import Servicer

    with pytest.raises(TypeError, match=r"Half does not implement .*Put.* of store\.Store"):

        class Half(Servicer[Storage[RangeOptions]], kind="storage", messages=storage_pb2):
            pass
