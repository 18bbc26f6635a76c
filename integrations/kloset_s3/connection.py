"""What the S3 importer, exporter and storage share: the target, the client, identity, ping."""

from __future__ import annotations

from kloset_sdk import Identity, InitContext, NotFound
from kloset_sdk.connector import Connector

from .client import S3Client
from .mapping import prefix_to_path
from .options import S3Options, resolve


class S3Connection(Connector[S3Options]):
    """One bucket (and prefix) on one endpoint; the client is built at Init."""

    def __init__(self, opts: S3Options, ctx: InitContext) -> None:
        super().__init__(opts, ctx)
        self.target = resolve(opts)
        self.s3 = S3Client(opts, self.target)

    def identity(self) -> Identity:
        return Identity(
            origin=f"{self.target.host}/{self.target.bucket}",
            type=self.type_name,
            root=prefix_to_path(self.target.prefix),
            flags=self.flags,
        )

    def ping(self) -> None:
        if not self.s3.bucket_exists():
            raise NotFound(f"bucket {self.target.bucket} does not exist")
