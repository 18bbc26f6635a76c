"""Example importer and exporter over a local directory (`tree://<absolute path>`).

Deliberately short: the real fs integration (kloset_fs) adds parallel walks, excludes,
hardlinks, sparse files and path-containment checks. This one shows the SDK contract only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

from kloset_sdk import (
    ChunkStream,
    ConfigError,
    Exporter,
    FileInfo,
    Identity,
    Importer,
    Record,
    modes,
    option,
    parse_location,
    serve,
)


@dataclass(frozen=True)
class TreeOptions:
    location: str = option(required=True, help="tree:///absolute/path")


def _root(opts: TreeOptions) -> str:
    path = parse_location(opts.location, expect="tree").path
    if not path.startswith("/"):
        raise ConfigError("location", f'"{path}" must be an absolute path')
    return path.rstrip("/") or "/"


class TreeImporter(Importer[TreeOptions]):
    options_class = TreeOptions
    type_name = "tree"

    def identity(self) -> Identity:
        return Identity("localhost", self.type_name, _root(self.opts))

    def records(self) -> Iterator[Record]:
        root = _root(self.opts)
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in (
                [""]
                + sorted(filenames)
                + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
            ):
                path = os.path.join(dirpath, name) if name else dirpath
                yield from self._entry(root, path)

    def _entry(self, root: str, path: str) -> Iterator[Record]:
        rel = "/" + os.path.relpath(path, root) if path != root else "/"
        rel = rel.replace("/./", "/") if rel != "/." else "/"
        try:
            st = os.lstat(path)
            info = FileInfo.from_stat(os.path.basename(path) or "/", st)
            names = os.listxattr(path, follow_symlinks=False)
        except OSError as exc:
            yield Record.failure(rel, exc)
            return
        if info.is_dir:
            yield Record.directory(rel, info, xattrs=names)
        elif info.is_symlink:
            yield Record.symlink(rel, info, os.readlink(path), xattrs=names)
        elif info.is_regular:
            yield Record.file(rel, info, lambda: open(path, "rb"), xattrs=names)
        else:
            yield Record.other(rel, info)
        for n in names:
            yield Record.xattr(rel, n, partial(os.getxattr, path, n, follow_symlinks=False))


class TreeExporter(Exporter[TreeOptions]):
    options_class = TreeOptions
    type_name = "tree"

    def identity(self) -> Identity:
        return Identity("localhost", self.type_name, _root(self.opts))  # checks it at Init

    def export(self, record: Record, content: ChunkStream | None) -> None:
        root = _root(self.opts)
        target = os.path.normpath(os.path.join(root, record.pathname.lstrip("/")))
        if target != root and not target.startswith(root.rstrip("/") + "/"):
            raise ValueError(f"{record.pathname}: refusing a path outside the target")
        if record.is_xattr:
            os.setxattr(
                target,
                record.xattr_name,
                content.readall() if content else b"",
                follow_symlinks=False,
            )
            return
        assert record.info is not None
        if record.is_dir:
            os.makedirs(target, exist_ok=True)
        elif record.target:
            os.symlink(record.target, target)
        elif content is not None:
            tmp = target + ".tmp~"
            try:
                with open(tmp, "wb") as f:
                    for chunk in content:  # raises if the host stops before the end marker
                        f.write(chunk)
                os.replace(tmp, target)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
            os.chmod(target, modes.permissions(record.info.mode))


if __name__ == "__main__":
    kind = sys.argv[1] if len(sys.argv) > 1 else "importer"
    serve(kind, TreeImporter if kind == "importer" else TreeExporter, argv=sys.argv[2:])
