"""SFTP (over SSH, with paramiko): importer, exporter and storage (GitHub issue 5).

Same config keys as Plakar's Go sftp integration, plus password/passphrase/agent logins,
~/.ssh/config, strict host-key checking by default, durable and pipelined transfers.
"""

from __future__ import annotations

NAME = "sftp"
DISPLAY_NAME = "SFTP"
PROTOCOLS = ("sftp",)
