"""What the Drive importer, exporter and storage share: options, Drive client, identity."""

from __future__ import annotations

from functools import cached_property

from kloset_sdk import Identity
from kloset_sdk.connector import Connector

from .client import DriveClient
from .options import GdriveOptions


class GdriveConnection(Connector[GdriveOptions]):
    """One Drive folder; the client signs in lazily, on the first call that needs Drive."""

    @cached_property
    def client(self) -> DriveClient:
        return DriveClient(self.opts)

    def identity(self) -> Identity:
        return Identity(self.opts.origin, self.type_name, self.opts.path, self.flags)

    def ping(self) -> None:
        self.client.ping()
