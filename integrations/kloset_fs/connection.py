"""What the fs importer, exporter and storage share: the root directory and identity."""

from __future__ import annotations

from kloset_sdk import Identity, InitContext
from kloset_sdk.connector import Connector

from .options import PROTO, FsOptions, root_path


class FsConnection(Connector[FsOptions]):
    """One local directory, `location` made absolute."""

    def __init__(self, opts: FsOptions, ctx: InitContext) -> None:
        super().__init__(opts, ctx)
        self.root = root_path(opts.location, ctx.proto or PROTO)

    def _origin(self) -> str:
        return self.ctx.hostname or "localhost"

    def identity(self) -> Identity:
        return Identity(
            origin=self._origin(), type=self.type_name, root=self.root, flags=self.flags
        )
