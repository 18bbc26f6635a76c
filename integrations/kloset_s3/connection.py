"""What the S3 importer, exporter and storage share: the target, the client, identity, ping."""

from __future__ import annotations

from kloset_sdk import Identity, InitContext, NotFound
from kloset_sdk.connector import Connector
from kloset_sdk.lazy import Prepared

from .client import S3Client
from .mapping import prefix_to_path
from .options import S3Options, check_auth, resolve, sse_customer_key


class S3Connection(Connector[S3Options]):
    """One bucket (and prefix) on one endpoint.

    Init checks the options and answers; boto3 is imported and the client built in the
    background meanwhile (kloset_sdk.lazy), and the first request waits for it. A named
    profile is read at Init, so that a missing one fails Init naming `profile`.
    """

    def __init__(self, opts: S3Options, ctx: InitContext) -> None:
        super().__init__(opts, ctx)
        self.target = target = resolve(opts)
        check_auth(opts)
        sse_customer_key(opts)
        self._client = Prepared(lambda: S3Client(opts, target), name="s3-client")
        if opts.profile:
            self._client.get()

    @property
    def s3(self) -> S3Client:
        return self._client.get()

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
