"""`klosetctl ls`: what an importer would back up, printed as it streams in.

Lines go to stdout (so `| grep` works) as the Import stream delivers them; nothing is opened,
and every record is acked at once, as Plakar's statistics importer does (P22).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import TextIO

import grpc

from kloset_sdk.records import Record, format_rfc3339

from .config import CliError, redacted
from .plugins import connect, failure


def kind_of(rec: Record) -> str:
    if rec.error:
        return "error"
    if rec.is_xattr:
        return "xattr"
    if rec.is_dir:
        return "dir"
    if rec.is_symlink:
        return "symlink"
    if rec.is_regular:
        return "file"
    return "other"


def line_for(rec: Record, as_json: bool) -> str:
    kind = kind_of(rec)
    info = rec.info
    size = info.size if info is not None and kind == "file" else None
    mtime = format_rfc3339(info.mtime_ns, 0) if info is not None else ""
    path = rec.pathname + (f":{rec.xattr_name}" if rec.is_xattr else "")
    if as_json:
        obj: dict[str, object] = {"path": path, "type": kind, "size": size, "mtime": mtime}
        if rec.target:
            obj["target"] = rec.target
        if rec.error:
            obj["error"] = rec.error
        return json.dumps(obj, ensure_ascii=False)
    extra = f" -> {rec.target}" if rec.target else (f"  ({rec.error})" if rec.error else "")
    size_s = "-" if size is None else str(size)
    return f"{kind:<7} {size_s:>12}  {mtime or '-':<20}  {path}{extra}"


def run_ls(
    proto: str,
    config: Mapping[str, str],
    exe: str | None = None,
    as_json: bool = False,
    out: TextIO | None = None,
) -> int:
    """List every record; exit status 1 if the importer reported any error record.

    An Import stream that fails (the source unreachable, credentials refused, the plugin
    gone) ends the listing with the importer's own one-line message, exit status 1.
    """
    out = out or sys.stdout
    errors = 0
    with connect("importer", proto, config, exe=exe) as conn:
        sess = conn.client.session()
        try:
            for rec in sess:
                sess.ack(rec)
                errors += bool(rec.error)
                out.write(line_for(rec, as_json) + "\n")
            sess.end()
        except grpc.RpcError as exc:
            out.flush()
            shown = redacted(config).get("location", "")
            raise CliError(f"importer {shown}: {failure(conn.proc, exc)}", status=1) from None
    out.flush()
    return 1 if errors else 0
