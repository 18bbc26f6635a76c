"""OAuth token files shared by the gdrive and onedrive integrations (rclone's lib/oauthutil).

Tokens live in a JSON file written with mode 0600 (atomically: temp file in the same directory,
fsync, rename), under `$XDG_CONFIG_HOME/kloset-connectors/` unless a path is configured. The
integrations bring their own login flows (auth.py) and store what they obtain here.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from . import log as _log
from .errors import ConfigError


def default_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "kloset-connectors"


def default_token_path(service: str, account: str = "default") -> Path:
    return default_dir() / f"{service}-{account}.json"


class TokenFile:
    """A small JSON document on disk, private to the user (0600), updated atomically."""

    def __init__(self, path: str | os.PathLike[str], key: str = "token_file") -> None:
        self.path = Path(os.path.expanduser(str(path)))
        self.key = key
        self._lock = threading.Lock()

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> dict[str, Any]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            raise ConfigError(self.key, f"{self.path} does not exist (log in first)") from None
        except OSError as exc:
            raise ConfigError(self.key, f"{self.path}: {exc.strerror}") from None
        try:
            data = json.loads(text)
        except ValueError:
            raise ConfigError(self.key, f"{self.path} is not valid JSON") from None
        if not isinstance(data, dict):
            raise ConfigError(self.key, f"{self.path} does not hold a JSON object")
        for k in ("refresh_token", "access_token", "client_secret"):
            if isinstance(data.get(k), str):
                _log.register_secret(data[k])
        return data

    def save(self, data: dict[str, Any]) -> None:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(prefix=".tok-", dir=self.path.parent)
            try:
                os.fchmod(fd, 0o600)
                with os.fdopen(fd, "w") as f:
                    json.dump(data, f, indent=2, sort_keys=True)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
