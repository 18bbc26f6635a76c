"""Local POSIX filesystem: importer, exporter and storage (GitHub issue 3).

The protocol is `posixfs` because Plakar refuses packages that reuse its built-in `fs`
(docs/PROTOCOL.md: Manifests and packages); the integration is still named `fs`, so
`python -m kloset_sdk.plugin fs importer` serves it.
"""

from __future__ import annotations

NAME = "fs"
DISPLAY_NAME = "POSIX filesystem"
PROTOCOLS = ("posixfs",)
