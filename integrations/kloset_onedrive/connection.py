"""What the OneDrive importer, exporter and storage share: options, Graph client, identity."""

from __future__ import annotations

from functools import cached_property

from kloset_sdk import Identity, InitContext
from kloset_sdk.connector import Connector

from .client import GraphClient
from .folders import Folders
from .options import OneDriveOptions, origin, root_path


class OneDriveConnection(Connector[OneDriveOptions]):
    """One drive location; the client signs in lazily, on the first call that needs Graph."""

    def __init__(self, opts: OneDriveOptions, ctx: InitContext) -> None:
        super().__init__(opts, ctx)
        self.root = root_path(opts.location)

    @cached_property
    def client(self) -> GraphClient:
        return GraphClient(self.opts)

    @cached_property
    def folders(self) -> Folders:
        return Folders(self.client)

    def identity(self) -> Identity:
        return Identity(
            origin=origin(self.opts), type=self.type_name, root=self.root, flags=self.flags
        )

    def ping(self) -> None:
        self.client.json("GET", "")
