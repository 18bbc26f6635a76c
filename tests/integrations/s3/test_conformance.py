"""The shared conformance suites (kloset_sdk.testing) against a real SeaweedFS.

8 MiB is one PUT at the default part size; 40 MiB is a multipart upload. The
second class repeats the suite with SSE-C, Content-MD5 and 5 MiB parts (every big object is
multipart), under a prefix. The importer reads a small seeded bucket; the exporter writes
into a fresh one, read back with boto3.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable

import pytest

from kloset_sdk.testing import (
    ExporterConformance,
    ImporterConformance,
    StorageConformance,
    StorageLifecycle,
)
from kloset_sdk.testing.checks import MiB
from kloset_sdk.testing.importer import sample_tree
from tests.conformance.connector import Connector
from tests.emulators.seaweedfs import SeaweedFS
from tests.integrations.s3.conftest import new_bucket, seaweed_config


class TestS3Storage(Connector, StorageConformance, StorageLifecycle):
    connector = "s3"
    proto = "s3"
    big_sizes = (8 * MiB, 40 * MiB + 7)

    @pytest.fixture(scope="class")
    @classmethod
    def storage_config(cls, seaweedfs: SeaweedFS) -> dict[str, str]:
        return seaweed_config(seaweedfs, new_bucket())


class TestS3StorageSSECMultipart(Connector, StorageConformance):
    connector = "s3"
    proto = "s3"
    big_sizes = (16 * MiB,)

    @pytest.fixture(scope="class")
    @classmethod
    def storage_config(cls, seaweedfs: SeaweedFS) -> dict[str, str]:
        key = base64.b64encode(os.urandom(32)).decode()
        return seaweed_config(
            seaweedfs,
            new_bucket(),
            "repos/one",
            sse_customer_key=key,
            checksum="md5",
            part_size=str(5 * MiB),
            concurrency="2",
        )


class TestS3Importer(Connector, ImporterConformance):
    connector = "s3"
    proto = "s3"

    @pytest.fixture(scope="class")
    @classmethod
    def source(cls, seaweedfs: SeaweedFS) -> tuple[str, dict[str, bytes]]:
        bucket, files = new_bucket(), sample_tree()
        c = seaweedfs.client()
        c.create_bucket(Bucket=bucket)
        for key, data in files.items():
            c.put_object(Bucket=bucket, Key=key, Body=data)
        return bucket, {f"/{key}": data for key, data in files.items()}

    @pytest.fixture(scope="class")
    @classmethod
    def importer_config(
        cls, seaweedfs: SeaweedFS, source: tuple[str, dict[str, bytes]]
    ) -> dict[str, str]:
        return seaweed_config(seaweedfs, source[0])


class TestS3Exporter(Connector, ExporterConformance):
    connector = "s3"
    proto = "s3"
    exports_xattrs = True  # content type, user metadata and tags come back as xattr records

    @pytest.fixture(scope="class")
    @classmethod
    def bucket(cls, seaweedfs: SeaweedFS) -> str:
        bucket = new_bucket()
        seaweedfs.client().create_bucket(Bucket=bucket)
        return bucket

    @pytest.fixture(scope="class")
    @classmethod
    def exporter_config(cls, seaweedfs: SeaweedFS, bucket: str) -> dict[str, str]:
        return seaweed_config(seaweedfs, bucket, "restore")

    @pytest.fixture(scope="class")
    @classmethod
    def read_back(cls, seaweedfs: SeaweedFS, bucket: str) -> Callable[[str], bytes | None]:
        c = seaweedfs.client()

        def read(path: str) -> bytes | None:
            try:
                body: bytes = c.get_object(Bucket=bucket, Key="restore" + path)["Body"].read()
            except c.exceptions.NoSuchKey:
                return None
            return body

        return read
