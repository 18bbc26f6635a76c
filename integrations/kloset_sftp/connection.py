"""What the SFTP importer, exporter and storage share: the session, identity, ping, close."""

from __future__ import annotations

from typing import ClassVar

from kloset_sdk import Identity, InitContext
from kloset_sdk.connector import Connector

from .client import SFTPSession
from .options import DEFAULT_CONCURRENCY, SFTPOptions


class SFTPConnection(Connector[SFTPOptions]):
    """One SSH session (a pool of SFTP channels), opened at Init, or from Init on in the
    background where `connect_at_init` is false."""

    connect_at_init: ClassVar[bool] = True

    def __init__(self, opts: SFTPOptions, ctx: InitContext) -> None:
        super().__init__(opts, ctx)
        self.session = SFTPSession(
            opts,
            opts.concurrency or self._default_concurrency(ctx),
            connect_now=self.connect_at_init,
        )

    @staticmethod
    def _default_concurrency(ctx: InitContext) -> int:
        """Channels when `concurrency` is unset: the host's job count, capped."""
        host_jobs = ctx.maxconcurrency if ctx.maxconcurrency > 0 else DEFAULT_CONCURRENCY
        return min(host_jobs, DEFAULT_CONCURRENCY)

    def identity(self) -> Identity:
        ep = self.session.endpoint
        return Identity(origin=ep.origin, type=self.type_name, root=self.session.root)

    def ping(self) -> None:
        self.session.run(lambda ch: ch.stat(self.session.root), f"stat {self.session.root}")

    def close(self) -> None:
        self.session.close()
