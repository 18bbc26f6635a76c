"""Whole-file operations on top of the channel pool: a resumable reader, an atomic upload.

`RemoteReader` is what importer Open and storage Get hand to the SDK: a file object over a
`ReadPipeline` that, if the connection drops, reconnects once and carries on from the byte it
had reached (reading is idempotent). `Upload` writes to a temporary name in the target's
directory, checks every write status, optionally fsyncs, and renames only after the last byte
arrived; on any failure it removes the temporary file (reconnecting once to do so if needed)
and raises, so a final name never holds a truncated file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from .channel import Channel
from .client import SFTPSession, dropped, on_channel, translate
from .transfer import ReadPipeline, WritePipeline

log = logging.getLogger(__name__)
T = TypeVar("T")


class RemoteReader:
    def __init__(
        self,
        session: SFTPSession,
        path: str,
        offset: int = 0,
        length: int | None = None,
        hint: int | None = None,
    ) -> None:
        self._session = session
        self._path = path
        self.pos = offset
        self._end = offset + length if length is not None else None
        self._hint = hint
        self._ch: Channel | None = None
        self._handle = b""
        self._pipe: ReadPipeline | None = None
        self._left = b""
        self._resumed = False
        self._closed = False

    def _start(self) -> ReadPipeline:
        ch = self._session.acquire()
        self._ch = ch
        self._handle = ch.open_read(self._path)
        self._pipe = ReadPipeline(ch, self._handle, self.pos, self._end, self._hint)
        return self._pipe

    def _attempt(self, fn: Callable[[ReadPipeline], T]) -> T:
        while True:
            try:
                return fn(self._pipe or self._start())
            except Exception as raised:  # translated below
                exc = on_channel(raised, self._ch)
                self._stop(exc)
                if dropped(exc) and not self._resumed:
                    self._resumed = True
                    log.info("%s: connection lost at byte %d, resuming", self._path, self.pos)
                    continue
                raise translate(exc, self._path, self._session.where) from None

    def open(self) -> RemoteReader:
        """Open the remote file now (a missing file raises NotFound here, not at first read)."""
        self._attempt(lambda pipe: None)
        return self

    def _chunk(self) -> bytes:
        if self._closed:
            return b""
        data = self._attempt(lambda pipe: pipe.read_chunk())
        self.pos += len(data)
        return data

    def read(self, size: int = -1) -> bytes:
        want = size if size is not None and size >= 0 else 1 << 62
        parts: list[bytes] = []
        n = 0
        while n < want:
            data, self._left = (self._left, b"") if self._left else (self._chunk(), b"")
            if not data:
                break
            if len(data) > want - n:  # keep the rest for the next read
                data, self._left = data[: want - n], data[want - n :]
            parts.append(data)
            n += len(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def __iter__(self) -> Iterator[bytes]:
        while True:
            data = self.read(1 << 20)
            if not data:
                return
            yield data

    def _stop(self, error: BaseException | None) -> None:
        ch, self._ch, pipe, self._pipe = self._ch, None, self._pipe, None
        if ch is None:
            return
        if error is None or not dropped(error):
            try:
                if pipe is not None:
                    pipe.close()
                if self._handle:
                    ch.close_handle_later(self._handle)
            except Exception as exc:  # closing a read handle may fail harmlessly
                error = error or exc
        self._handle = b""
        self._session.release(ch, error)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._stop(None)

    def __enter__(self) -> RemoteReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Upload:
    """One atomic file write in two steps: `write_all` (the content) and `commit` (attributes,
    fsync, close, rename), so an exporter can hand the commit's round trips to another thread
    while the next file streams in. Any failure removes the temporary file."""

    def __init__(
        self,
        session: SFTPSession,
        tmp: str,
        final: str,
        *,
        mode: int = 0o600,
        fsync: bool = False,
        finish: Callable[[Channel, bytes], None] | None = None,
    ) -> None:
        self._session, self.tmp, self.final = session, tmp, final
        self._fsync, self._finish = fsync, finish
        try:
            self._ch = session.acquire()
        except Exception as exc:  # translated like every other failure
            raise translate(exc, final, session.where) from None
        self._handle = b""
        self._writer: WritePipeline | None = None
        self._guard(lambda: self._open(mode))

    def _open(self, mode: int) -> None:
        self._handle = self._ch.create_exclusive(self.tmp, mode)
        self._writer = WritePipeline(self._ch, self._handle)

    def _guard(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except BaseException as raised:
            exc = on_channel(raised, self._ch)
            self._abort(exc)
            if isinstance(exc, Exception):
                raise translate(exc, self.final, self._session.where) from None
            raise

    def write_all(self, chunks: Iterable[bytes]) -> None:
        def run() -> None:
            assert self._writer is not None
            for chunk in chunks:
                self._writer.write(chunk)

        self._guard(run)

    def commit(self) -> int:
        """Wait for every write, finish, fsync, close, rename; returns the bytes written."""
        written = self._guard(self._commit)
        self._session.release(self._ch)
        return written

    def _commit(self) -> int:
        assert self._writer is not None
        self._writer.flush()
        if self._finish is not None:
            self._finish(self._ch, self._handle)
        if self._fsync:
            self._ch.fsync(self._handle)
        handle, self._handle = self._handle, b""
        self._ch.close_handle(handle)
        self._ch.replace(self.tmp, self.final)
        return self._writer.pos

    def _abort(self, exc: BaseException) -> None:
        error = _cleanup(self._ch, self._handle, self._writer, self.tmp, exc)
        self._session.release(self._ch, error)
        if error is not None:
            try:  # the connection is gone: one fresh connection just to tidy up
                self._session.run(
                    lambda c: c.remove(self.tmp), f"remove {self.tmp}", idempotent=False
                )
            except Exception as cleanup:  # best effort: temp names are never listed
                log.info("could not remove the temporary file %s: %s", self.tmp, cleanup)


def upload(
    session: SFTPSession, tmp: str, final: str, chunks: Iterable[bytes], *, fsync: bool = False
) -> int:
    """Write `chunks` to `tmp` (0600), fsync, rename to `final`; see Upload."""
    up = Upload(session, tmp, final, fsync=fsync)
    up.write_all(chunks)
    return up.commit()


def _cleanup(
    ch: Channel, handle: bytes, writer: WritePipeline | None, tmp: str, error: BaseException
) -> BaseException | None:
    """Close and remove the temporary file on the same channel; returns the connection error
    that prevented it (None when the temp file is gone)."""
    if dropped(error):
        return error
    try:
        if writer is not None:
            writer.abandon()
        if handle:
            ch.close_handle(handle)
        ch.remove(tmp)
    except FileNotFoundError:
        pass
    except Exception as exc:
        lost = on_channel(exc, ch)
        return lost if dropped(lost) else None
    return None
