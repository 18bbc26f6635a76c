"""A full import through heavy throttling and a mid-run token expiry gives identical results."""

from __future__ import annotations

import threading
import time

from tests.emulators.graph import GraphEmulator
from tests.integrations.onedrive.support import app_config, run_import, seed_tree


def _summary(run: object) -> dict[str, tuple[int, int, str]]:
    out = {}
    for path, item in run.by_path().items():  # type: ignore[attr-defined]
        info = item.record.info
        out[path] = (info.size, info.mtime_ns, item.sha256)
    return out


def test_import_survives_429s_and_an_expired_token(emu: GraphEmulator) -> None:
    seed_tree(emu, files=30, folders=6)
    cfg = app_config(emu)
    clean = run_import(cfg, opens=lambda i: not i.record.is_xattr)
    assert clean.finished and not clean.errors

    emu.reset_stats()
    emu.faults.throttle_ratio = 0.3
    emu.faults.retry_after = 1
    stop = threading.Event()

    def expire_once() -> None:  # mid-run, every access token and download URL stops working
        while not stop.is_set() and emu.stats["download"] < 2:
            time.sleep(0.02)
        emu.expire_tokens()  # the listing is one delta page: the bearer is next needed...
        emu.expire_download_urls()  # ...to renew the download URLs of the files still to read

    killer = threading.Thread(target=expire_once, daemon=True)
    killer.start()
    started = time.monotonic()
    try:
        throttled = run_import(cfg, opens=lambda i: not i.record.is_xattr)
    finally:
        stop.set()
        killer.join(5)
    took = time.monotonic() - started
    assert throttled.finished and not throttled.errors, throttled.errors[:3]
    assert _summary(throttled) == _summary(clean)
    assert emu.stats["status_429"] >= 5  # the faults really happened...
    assert emu.stats["status_401"] >= 1 and emu.stats["token"] >= 2  # ...and the refresh too
    assert took < 60
