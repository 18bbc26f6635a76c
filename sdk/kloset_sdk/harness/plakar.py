"""Drive a real `plakar` binary without prompts, in a home of its own.

Plakar keeps its config, its cache daemon's socket, its cookies and its installed packages under
the XDG directories, and a `cached` daemon it starts loads plugins from the default data
directory: only a private HOME with every XDG variable set isolates a run. The cookie files
written up front keep Plakar from printing its first-run banner on stdout and from reading the
release feed over the network.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

#: The Plakar release the project pins (go/plakar/go.mod) and tests against.
PLAKAR_VERSION = "v1.1.4"
#: Packages are installed for this plugin API (pkg/manager.go keeps them under plugins/v1.1.0).
PLUGIN_API = "v1.1.0"
#: How a package file must be named for `plakar pkg add` (name_version_os_arch.ptar).
PTAR_NAME = re.compile(
    r"^(?P<name>[A-Za-z0-9-]+)_(?P<version>v[^_]+)_(?P<os>[a-z0-9]+)_(?P<arch>[a-z0-9]+)\.ptar$"
)


def find_plakar(root: Path | None = None) -> Path:
    """The binary `scripts/setup` builds, or $PLAKAR, or plakar on PATH; else a clear error."""
    env = os.environ.get("PLAKAR")
    if env:
        return Path(env)
    if root is not None and (root / ".build" / "bin" / "plakar").is_file():
        return root / ".build" / "bin" / "plakar"
    found = shutil.which("plakar")
    if found:
        return Path(found)
    raise FileNotFoundError("plakar is not built: run scripts/setup (it builds .build/bin/plakar)")


class PlakarHome:
    """One isolated Plakar installation: its own HOME, config, cache and installed packages.

    The cache directory is kept short on purpose: the cache daemon's Unix socket lives in it,
    and a socket path is limited to 108 bytes.
    """

    def __init__(
        self,
        binary: Path,
        base: Path | None = None,
        env: Mapping[str, str] | None = None,
        passphrase: str | None = None,
    ) -> None:
        self.binary = Path(binary).resolve()
        self._own_base = base is None
        self.base = (
            Path(base) if base is not None else Path(tempfile.mkdtemp(prefix="plk-", dir="/tmp"))
        )
        self.home = self.base / "h"
        self.config = self.home / ".config"
        self.cache = self.base / "c"
        self.data = self.home / ".local" / "share"
        cookies = self.cache / "plakar" / "cookies" / "1.0.0"
        cookies.mkdir(parents=True, exist_ok=True)
        for d in (self.config, self.data):
            d.mkdir(parents=True, exist_ok=True)
        (cookies / ".first-run").touch()
        (cookies / ".disabled-security-check").touch()
        self.env = dict(env if env is not None else os.environ)
        for k in ("PLAKAR_TOKEN", "PLAKAR_PASSPHRASE", "PLAKAR_REPOSITORY"):
            self.env.pop(k, None)
        self.env.update(
            HOME=str(self.home),
            XDG_CONFIG_HOME=str(self.config),
            XDG_CACHE_HOME=str(self.cache),
            XDG_DATA_HOME=str(self.data),
        )
        if passphrase is not None:
            self.env["PLAKAR_PASSPHRASE"] = passphrase

    @property
    def plugins_dir(self) -> Path:
        return self.data / "plakar" / "plugins" / PLUGIN_API

    def command(self, *args: str) -> list[str]:
        return [str(self.binary), *args]

    def run(
        self,
        *args: str,
        timeout: float = 600,
        check: bool = False,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run `plakar ARGS...` to completion with no terminal and no standard input."""
        proc = subprocess.run(
            self.command(*args),
            env={**self.env, **(env or {})},
            cwd=cwd or self.home,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise PlakarFailed(args, proc)
        return proc

    def start(self, *args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
        """Start `plakar ARGS...` in its own process group (so a test can send it Ctrl-C)."""
        return subprocess.Popen(
            self.command(*args),
            env={**self.env, **(env or {})},
            cwd=self.home,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def pkg_add(self, ptar: Path) -> subprocess.CompletedProcess[str]:
        return self.run("pkg", "add", str(Path(ptar).resolve()), check=True)

    def stop_daemons(self, timeout: float = 15.0) -> None:
        """Wait for the `plakar cached` daemons of this home to exit (they idle out in ~5 s)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = _pids_with_env("XDG_CACHE_HOME", str(self.cache))
            if not pids:
                return
            time.sleep(0.2)
        for pid in _pids_with_env("XDG_CACHE_HOME", str(self.cache)):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def close(self) -> None:
        self.stop_daemons()
        if self._own_base:
            shutil.rmtree(self.base, ignore_errors=True)


class PlakarFailed(RuntimeError):
    """A plakar command exited non-zero; carries its output."""

    def __init__(self, args: Sequence[str], proc: subprocess.CompletedProcess[str]) -> None:
        self.proc = proc
        super().__init__(
            f"plakar {' '.join(args)} exited {proc.returncode}:\n"
            f"--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"
        )


def _pids_with_env(key: str, value: str) -> list[int]:
    """Processes whose environment has KEY=VALUE (the daemons a home's commands started)."""
    needle = f"{key}={value}".encode()
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            out.append(int(entry))
    return out
