"""`klosetctl copy`: importer -> exporter through two plugin processes, record by record.

Each record goes into the Export stream as soon as the Import stream yields it, followed by its
content read chunk by chunk from an Open stream (at most 1 MiB in flight per chunk, §1.4): a
file is never held whole in memory. Paths are made relative to the importer's root, like a
`plakar restore` of the backed-up directory.

A failure while reading a file's content leaves the exporter mid-file. The host would abort
the restore; we end that Export stream without the terminator (the exporter discards the
partial file), count the file as failed, and go on in a new Export stream: exporters accept
several sequential streams (§5.1, §9 item 29).

Xattr records are held back and sent after the tree, as kloset does (§5.3), except those of
entries that failed (error record, unreadable, broken mid-file, refused by the exporter): an
xattr belongs on its own entry only, and that entry's failure is already reported.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Iterator, Mapping

import grpc

from kloset_sdk._pb import exporter_pb2 as epb
from kloset_sdk.harness import ImportSession
from kloset_sdk.location import Flag
from kloset_sdk.records import Record

from .config import CliError, redacted
from .plugins import Connected, connect, failure, rpc_message
from .progress import Counters, Reporter


def relative_path(pathname: str, root: str) -> str | None:
    """Path under the destination root, or None for the root's ancestors (never exported)."""
    root = root.rstrip("/")
    if not root:
        return pathname
    if pathname == root:
        return "/"
    if pathname.startswith(root + "/"):
        return pathname[len(root) :]
    if pathname == "/" or root.startswith(pathname.rstrip("/") + "/"):
        return None
    return pathname


class Feed:
    """The Export request stream, pulled by gRPC; may be resumed by a later Export stream."""

    def __init__(
        self,
        conn: Connected,
        sess: ImportSession,
        counters: Counters,
        reporter: Reporter,
        root: str,
        want_xattrs: bool,
    ) -> None:
        self.conn = conn
        self.importer = conn.client
        self.sess = sess
        self.records = iter(sess)
        self.c = counters
        self.reporter = reporter
        self.root = root
        self.want_xattrs = want_xattrs
        self.xattrs: list[tuple[Record, Record]] = []
        #: Destination paths of entries that failed: their xattrs are not sent.
        self.failed: set[str] = set()
        self.aborted: str | None = None
        self.exhausted = False
        self.error: BaseException | None = None
        #: Why the copy could not go on (the Import or the Export stream failed), one line.
        self.fatal: str | None = None
        #: The exporter refused the restore root before accepting anything: nothing can land.
        self.root_refused = False
        #: Records the exporter reported as written.
        self.ok_results = 0

    def requests(self) -> Iterator[epb.ExportRequest]:
        self.aborted = None
        try:
            for rec in self.records:
                if self.fatal is not None:  # the destination refused its root: stop here
                    self.exhausted = True
                    return
                yield from self._one(rec)
                if self.aborted is not None:
                    return
            while self.xattrs:  # after the tree, as kloset sends them (§5.3)
                orig, mapped = self.xattrs.pop(0)
                if mapped.pathname in self.failed:
                    self.sess.ack(orig)  # its entry is not there: nothing to put it on
                    continue
                yield from self._content(orig, mapped)
                if self.aborted is not None:
                    return
            self.exhausted = True
        except grpc.RpcError as exc:  # the Import stream failed: the source is gone
            self.fatal = f"importer: {failure(self.conn.proc, exc)}"
            self.exhausted = True
        except Exception as exc:  # surfaced by run_copy, never lost in gRPC
            self.error = exc
            self.exhausted = True

    def _one(self, rec: Record) -> Iterator[epb.ExportRequest]:
        if rec.error:
            self.c.fail(rec.pathname, rec.error)
            self.failed.add(relative_path(rec.pathname, self.root) or rec.pathname)
            self.sess.ack(rec)
            return
        rel = relative_path(rec.pathname, self.root)
        if rel is None:
            self.sess.ack(rec)
            return
        mapped = dataclasses.replace(rec, pathname=rel)
        if rec.is_xattr:
            if self.want_xattrs:
                self.xattrs.append((rec, mapped))
            else:
                self.sess.ack(rec)
            return
        if rec.is_regular and rec.has_reader:
            yield from self._content(rec, mapped)
            return
        pr = mapped.to_proto()
        pr.hasReader = False
        yield epb.ExportRequest(record=pr)
        self.sess.ack(rec)
        with self.c.lock:
            if rec.is_dir:
                self.c.dirs += 1
            else:
                self.c.links += 1

    def _content(self, rec: Record, mapped: Record) -> Iterator[epb.ExportRequest]:
        chunks = self.importer.open(rec)
        try:
            first = next(chunks, b"")
        except grpc.RpcError as exc:  # unreadable before anything was sent: skip cleanly
            self.c.fail(rec.pathname, rpc_message(exc))
            if not rec.is_xattr:
                self.failed.add(mapped.pathname)
            self.sess.ack(rec, rpc_message(exc))
            return
        pr = mapped.to_proto()
        pr.hasReader = True
        yield epb.ExportRequest(record=pr)
        try:
            chunk = first
            while chunk:
                yield epb.ExportRequest(chunk=chunk)
                with self.c.lock:
                    self.c.bytes += len(chunk)
                self.reporter.refresh()
                chunk = next(chunks, b"")
        except grpc.RpcError as exc:
            self.c.fail(rec.pathname, f"read failed mid-file: {rpc_message(exc)}")
            if not rec.is_xattr:
                self.failed.add(mapped.pathname)
            self.sess.ack(rec, rpc_message(exc))
            self.aborted = mapped.pathname
            return  # no terminator: the exporter drops the partial file
        yield epb.ExportRequest(chunk=b"")
        self.sess.ack(rec)
        if not rec.is_xattr:
            with self.c.lock:
                self.c.files += 1
        self.reporter.refresh()


def _count(conn: Connected, counters: Counters, reporter: Reporter) -> None:
    """Totals for the ETA from a statistics importer, as Plakar runs one beside the backup."""
    files = size = 0
    try:
        sess = conn.client.session()
        try:
            for rec in sess:
                sess.ack(rec)
                if rec.is_regular and rec.info is not None:
                    files += 1
                    size += max(rec.info.size, 0)
        finally:
            sess.end()
    except grpc.RpcError:
        return  # no totals then: the copy itself reports what failed
    counters.total_files, counters.total_bytes = files, size
    reporter.refresh()


def _export_all(feed: Feed, exp: Connected, counters: Counters) -> bool:
    """Run Export streams until the feed is exhausted; False if the exporter is gone."""
    while not feed.exhausted:
        try:
            for resp in exp.client.stub.Export(feed.requests()):
                hdr = resp.result.header
                if not resp.result.error:
                    feed.ok_results += 1
                    continue
                if feed.root_refused or hdr.pathname == feed.aborted:
                    continue  # consequences of a failure already counted
                if hdr.pathname == "/" and not hdr.isXattr and not feed.ok_results:
                    # Everything goes below the root: the rest would fail the same way.
                    feed.root_refused = True
                    feed.fatal = feed.fatal or f"exporter: {resp.result.error}"
                    continue
                if hdr.isXattr and hdr.pathname in feed.failed:
                    continue  # sent before its entry's failure came back: already counted
                if not hdr.isXattr:
                    feed.failed.add(hdr.pathname)
                counters.fail(hdr.pathname, resp.result.error)
                if hdr.hasReader and not hdr.isXattr:
                    with counters.lock:
                        counters.files -= 1
        except grpc.RpcError as exc:
            if feed.aborted is None:
                feed.fatal = feed.fatal or f"exporter: {failure(exp.proc, exc)}"
                counters.fail("(copy)", feed.fatal)
                return False
    if feed.fatal is not None:
        counters.fail("(copy)", feed.fatal)
        return False  # the Import stream is already over: nothing to drain
    if feed.error is not None:
        counters.fail("(copy)", rpc_message(feed.error))
    return True


def run_copy(
    src: tuple[str, Mapping[str, str]],
    dst: tuple[str, Mapping[str, str]],
    *,
    src_exe: str | None = None,
    dst_exe: str | None = None,
    progress: str = "auto",
    count: bool = True,
    jobs: int = 8,
) -> Counters:
    """Copy everything; failures are collected in the returned counters, not raised."""
    counters = Counters()
    with contextlib.ExitStack() as stack:
        imp = stack.enter_context(connect("importer", *src, exe=src_exe, maxconcurrency=jobs))
        exp = stack.enter_context(connect("exporter", *dst, exe=dst_exe, maxconcurrency=jobs))
        reporter = stack.enter_context(Reporter(counters, "copy", progress))
        if count and not imp.identity.flags & Flag.STREAM:
            stats = stack.enter_context(connect("importer", *src, exe=src_exe, maxconcurrency=jobs))
            counter = threading.Thread(target=_count, args=(stats, counters, reporter), daemon=True)
            counter.start()
            stack.callback(counter.join, 5)  # runs before the statistics plugin is ended
        sess = imp.client.session()
        want_xattrs = bool(exp.identity.flags & Flag.EXPORTXATTR)
        feed = Feed(imp, sess, counters, reporter, imp.identity.root, want_xattrs)
        drain = True  # end the Import stream cleanly unless the copy is abandoned
        try:
            drain = _export_all(feed, exp, counters)  # False: listing the rest helps no one
        except KeyboardInterrupt:
            drain = False  # Ctrl-C: stop now; leaving the stack ends every plugin
            raise
        finally:
            if drain:
                try:
                    sess.end()
                except grpc.RpcError as exc:  # the importer failed at the very end
                    feed.fatal = f"importer: {failure(imp.proc, exc)}"
                    counters.fail("(copy)", feed.fatal)
        if feed.fatal is not None and _nothing_done(feed, counters):
            # Nothing was copied: the one line that says why is the whole story.
            kind, _, why = feed.fatal.partition(": ")
            where = redacted((src if kind == "importer" else dst)[1]).get("location", "")
            raise CliError(f"{kind} {where}: {why}", status=1)
    return counters


def _nothing_done(feed: Feed, c: Counters) -> bool:
    """True if the fatal failure is the only thing to say (nothing reached the destination)."""
    if feed.ok_results or len(c.failed) != 1:
        return False
    return feed.root_refused or not (c.files or c.dirs or c.links or c.bytes)
