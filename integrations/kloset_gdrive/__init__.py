"""Google Drive: back up a Drive, restore into one, keep a repository in one (GitHub issue 6).

Built on google-api-python-client with the static discovery document (no network discovery at
start-up), one Pacer per process for every Drive call, batched folder listings, the changes API
for incremental backups, resumable uploads and ranged reads (see README.md).
"""

from __future__ import annotations

NAME = "gdrive"
DISPLAY_NAME = "Google Drive"
PROTOCOLS = ("gdrive",)
