"""Fixtures of the s3 tests: configs for the session SeaweedFS (real S3 checks) and a moto
server (fast, in-process, for cases SeaweedFS cannot hold: keys with `//` or `./`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.emulators.seaweedfs import SeaweedFS

Config = dict[str, str]


def seaweed_config(
    server: SeaweedFS, bucket: str, prefix: str = "", via: str = "", **extra: str
) -> Config:
    """The config a Plakar user would write for this server (plain HTTP, static keys);
    `via` is another host:port to go through (a FaultProxy)."""
    path = f"{bucket}/{prefix}" if prefix else bucket
    return {
        "location": f"s3://{via or server.host_port}/{path}",
        "access_key": server.access_key,
        "secret_access_key": server.secret_key,
        "use_tls": "false",
        **extra,
    }


def new_bucket() -> str:
    return f"t-{uuid.uuid4().hex[:20]}"


@pytest.fixture
def seaweed_cfg(seaweedfs: SeaweedFS) -> Callable[..., Config]:
    return lambda bucket, prefix="", **extra: seaweed_config(seaweedfs, bucket, prefix, **extra)


class Moto:
    """A moto S3 server on 127.0.0.1 (accepts any credentials, checks no digests)."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.host_port = f"{host}:{port}"
        self.endpoint_url = f"http://{self.host_port}"

    def client(self) -> Any:
        import boto3
        from botocore.config import Config as BotoConfig

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id="moto",
            aws_secret_access_key="motosecret",
            region_name="us-east-1",
            config=BotoConfig(s3={"addressing_style": "path"}),
        )

    def config(self, bucket: str, prefix: str = "", **extra: str) -> Config:
        path = f"{bucket}/{prefix}" if prefix else bucket
        return {
            "location": f"s3://{self.host_port}/{path}",
            "access_key": "moto",
            "secret_access_key": "motosecret",
            "use_tls": "false",
            **extra,
        }


@pytest.fixture(scope="session")
def moto() -> Iterator[Moto]:
    server = Moto()
    yield server
    server.server.stop()
