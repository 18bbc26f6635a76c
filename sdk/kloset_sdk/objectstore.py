"""ObjectStore: the Kloset repository layout over a few object-store primitives (fsspec-style).

    class DirStore(ObjectStore[DirOptions]):
        def claim(self) -> None: ...                          # refuse a non-empty location
        def write(self, key: str, data: ChunkStream) -> int: ...   # visible only after EOF
        def read(self, key, offset, length) -> Content: ...   # NotFound if missing
        def names(self, directory: str) -> Iterable[str]: ...      # objects in one directory
        def remove(self, key: str) -> None: ...               # NotFound if missing

Keys are '/'-separated and relative to the repository root: `CONFIG`, `packfiles/ab/ab12...`,
`states/..`, `locks/<hex>`, `ecc-*` (`kloset_sdk.layout`). The base maps every Storage call
onto them, so all stores share one layout (and the Go stores can read what they write), one
resource check and one way of turning listed names into MACs. Hooks with defaults cover the
differences between stores: `make_dirs` (directories made at Create; a flat or lazily
creating store ignores it), `listed_dirs` (where List looks), `fan_out` (how List spreads over
those directories) and `no_repository` (the message for an Open without CONFIG). Stores
override `size` themselves: each has its own cheapest way to add up what it holds.

Small ranged Gets of a packfile go through a block cache (`kloset_sdk.readahead`), so a check
or restore of many small files costs a few large reads instead of one round trip per blob; a
store whose reads cost no round trip (local disk) sets `read_ahead = False`.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from . import layout as lay
from .chunks import ChunkStream, streamed
from .connector import InitContext, OptT
from .errors import Fatal, KlosetError, NotFound
from .layout import Resource
from .readahead import ReadAhead
from .records import Content
from .storage import Storage

T = TypeVar("T")
R = TypeVar("R")


def chunk_stream(blob: bytes) -> ChunkStream:
    """`blob` as the ChunkStream a Put hands over (Create writes CONFIG through write too)."""
    chunks = iter((blob,))
    return ChunkStream(lambda: next(chunks, None))


def read_all(content: Content) -> bytes:
    """Everything `read` returned, joined, with the stream closed after."""
    return b"".join(streamed(content, ahead=False))


class ObjectStore(Storage[OptT]):
    """A Storage whose subclasses provide only the backend primitives (module docstring)."""

    #: The resources this store keeps; any other fails Fatal (s3 and sftp keep no ECC objects).
    resources: frozenset[Resource] = frozenset(lay.DIRS)
    #: Serve small packfile reads from cached blocks (module docstring).
    read_ahead = True

    def __init__(self, opts: OptT, ctx: InitContext) -> None:
        super().__init__(opts, ctx)
        self._ahead = ReadAhead(self._read_block) if self.read_ahead else None

    # -- primitives ---------------------------------------------------------------------------
    @abstractmethod
    def claim(self) -> None:
        """Make the location ready for a new repository; AlreadyExists if anything is there."""

    @abstractmethod
    def write(self, key: str, data: ChunkStream) -> int:
        """Store all of `data` under `key`, visible only once data reached EOF; bytes stored.

        `data` raises if the host goes away: nothing partial may ever look complete."""

    @abstractmethod
    def read(self, key: str, offset: int | None, length: int | None) -> Content:
        """The whole object (offset None) or `length` bytes from `offset`; NotFound if missing."""

    @abstractmethod
    def names(self, directory: str) -> Iterable[str]:
        """Names (or keys) of the objects in one directory of the layout; none if it is missing.

        Only the last '/'-separated element counts, and anything that is not a MAC in hex
        (temporary files, copies) is skipped, so a flat store may list its whole prefix."""

    @abstractmethod
    def remove(self, key: str) -> None:
        """Delete the object; NotFound if it is not there (or idempotent, as the backend can)."""

    # -- hooks --------------------------------------------------------------------------------
    def make_dirs(self, dirs: Sequence[str]) -> None:
        """Create these directories (parents listed before their children). Default: nothing,
        for stores without directories or that make them on first write."""

    def listed_dirs(self, res: Resource) -> Sequence[str]:
        """The directories List reads for `res`: by default all its shards (made at Create)."""
        return lay.shard_dirs(res)

    def fan_out(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """fn over items; stores with a connection pool run them concurrently."""
        return [fn(item) for item in items]

    def no_repository(self, exc: NotFound) -> KlosetError:
        """The error of an Open where CONFIG is missing (`exc` is what read raised)."""
        return NotFound(f"no repository here (no {lay.CONFIG}): {exc}")

    # -- Storage ------------------------------------------------------------------------------
    def key(self, res: Resource, mac: bytes, op: str = "object") -> str:
        """Relative key of an object of a resource this store keeps."""
        self._check(res, op)
        return lay.object_key(res, mac)

    def _check(self, res: Resource, op: str) -> None:
        if res not in self.resources:
            kept = ", ".join(lay.DIRS[r] for r in sorted(self.resources))
            raise Fatal(f"{op} {res.name.lower()}: the {self.type_name} store keeps only {kept}")

    def create(self, config: bytes) -> None:
        self.claim()
        self.make_dirs(lay.create_dirs())
        self.write(lay.CONFIG, chunk_stream(config))

    def open(self) -> bytes:
        try:
            content = self.read(lay.CONFIG, None, None)
        except NotFound as exc:
            raise self.no_repository(exc) from None
        return read_all(content)

    def list(self, res: Resource) -> Iterable[bytes]:
        self._check(res, "list")
        listings = self.fan_out(lambda d: list(self.names(d)), self.listed_dirs(res))
        macs = {lay.parse_key(res, name) for listing in listings for name in listing}
        return sorted(m for m in macs if m is not None)  # a name listed twice counts once

    def put(self, res: Resource, mac: bytes, data: ChunkStream, flags: int) -> int:
        key = self.key(res, mac, "put")
        if res not in lay.LISTED:  # Create (like Go's) does not make the ECC directories
            self.make_dirs(lay.parents(key))
        return self.write(key, data)

    def get(self, res: Resource, mac: bytes, offset: int | None, length: int | None) -> Content:
        key = self.key(res, mac, "get")
        if self._ahead is not None and res == Resource.PACKFILE and offset is not None and length:
            data = self._ahead.read(key, offset, length)
            if data is not None:
                return data
        return self.read(key, offset, length)

    def _read_block(self, key: str, offset: int, length: int) -> bytes:
        return read_all(self.read(key, offset, length))

    def delete(self, res: Resource, mac: bytes) -> None:
        key = self.key(res, mac, "delete")
        if self._ahead is not None:
            self._ahead.forget(key)
        self.remove(key)
