"""Imports under throttling, an expired token, truncated bodies and dropped connections end
with exactly the records and bytes of an undisturbed run."""

from __future__ import annotations

from kloset_sdk.harness import Imported, ImporterClient, ImportRun, PluginProcess
from tests.conftest import plugin_argv
from tests.emulators.drive import DriveEmulator
from tests.integrations.gdrive.conftest import drive_config
from tests.integrations.gdrive.test_importer import check_tree, infos_of, scan
from tests.integrations.gdrive.trees import big_drive


def disturbed_scan(emu: DriveEmulator, config: dict[str, str], expire_at: int) -> ImportRun:
    """A full import that expires every access token once, `expire_at` records in."""
    seen = [0]

    def on_record(_: Imported) -> None:
        seen[0] += 1
        if seen[0] == expire_at:
            emu.expire_tokens()

    with PluginProcess(plugin_argv("gdrive", "importer")) as proc:
        client = ImporterClient(proc)
        client.init(config, proto="gdrive", maxconcurrency=8)
        run = client.scan(jobs=8, on_record=on_record)
        client.close()
    return run


def same_result(a: ImportRun, b: ImportRun) -> None:
    assert infos_of(a) == infos_of(b)
    assert {p: i.sha256 for p, i in a.by_path().items()} == {
        p: i.sha256 for p, i in b.by_path().items()
    }


def test_throttled_and_expired_token(emu: DriveEmulator) -> None:
    exp = big_drive(emu, 300)
    config = drive_config(emu)
    clean = scan(config)
    check_tree(clean, exp)
    emu.faults.throttle_ratio = 0.3
    emu.faults.retry_after = 0.05
    emu.reset_stats()
    run = disturbed_scan(emu, config, expire_at=100)
    assert emu.stats["throttled"] > 50 and emu.stats["unauthorized"] >= 1, emu.stats
    check_tree(run, exp)
    same_result(run, clean)


def test_truncated_bodies_and_dropped_connections(emu: DriveEmulator) -> None:
    exp = big_drive(emu, 150)
    config = drive_config(emu)
    clean = scan(config)
    emu.faults.truncate_ratio = 0.2
    emu.faults.drop_ratio = 0.05
    emu.faults.drop_mode = "reset"
    emu.faults.error5xx_ratio = 0.05
    emu.faults.retry_after = 0.05
    emu.reset_stats()
    run = disturbed_scan(emu, config, expire_at=-1)
    assert emu.stats["truncated"] > 5 and emu.stats["dropped"] > 0, emu.stats
    check_tree(run, exp)
    same_result(run, clean)
