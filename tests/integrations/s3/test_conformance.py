"""The shared storage conformance suite against a real SeaweedFS (docs/PROTOCOL.md: Storage).

16 MiB is one PUT at the default part size; 40 MiB is a three-part multipart upload. The
second class repeats the suite with SSE-C, Content-MD5 and 5 MiB parts (every big object is
multipart), under a prefix.
"""

from __future__ import annotations

import base64
import os

import pytest

from tests.conformance.storage import MiB, StorageConformance, StorageLifecycle
from tests.conftest import plugin_argv
from tests.emulators.seaweedfs import SeaweedFS
from tests.integrations.s3.conftest import new_bucket, seaweed_config


class TestS3Storage(StorageConformance, StorageLifecycle):
    proto = "s3"
    big_sizes = (16 * MiB, 40 * MiB + 7)

    @pytest.fixture(scope="class")
    @classmethod
    def storage_argv(cls) -> list[str]:
        return plugin_argv("s3", "storage")

    @pytest.fixture(scope="class")
    @classmethod
    def storage_config(cls, seaweedfs: SeaweedFS) -> dict[str, str]:
        return seaweed_config(seaweedfs, new_bucket())


class TestS3StorageSSECMultipart(StorageConformance):
    proto = "s3"
    big_sizes = (16 * MiB,)

    @pytest.fixture(scope="class")
    @classmethod
    def storage_argv(cls) -> list[str]:
        return plugin_argv("s3", "storage")

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
