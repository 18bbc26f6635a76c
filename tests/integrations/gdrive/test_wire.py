"""The gdrive importer and exporter under gohost: grpc-go, the stack Plakar itself uses."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.conftest import plugin_argv, run_gohost
from tests.emulators.drive import DriveEmulator, seed_sample
from tests.integrations.gdrive.conftest import drive_config


def test_gohost_import_then_export(emu: DriveEmulator, tmp_path: Path) -> None:
    ids = seed_sample(emu)
    out = tmp_path / "records.jsonl"
    res = run_gohost(
        "import", plugin_argv("gdrive", "importer"), "gdrive",
        drive_config(emu, checksums="true"), "-j", "16", "-out", str(out),
    )  # fmt: skip
    assert res["ok"] and res["errors"] == 0, res
    records = [json.loads(ln) for ln in out.read_text().splitlines()]
    lines = {ln["path"]: ln for ln in records if "xattr" not in ln}
    xattrs = {(ln["path"], ln["xattr"]) for ln in records if "xattr" in ln}
    assert ("/big.bin", "user.gdrive.md5_checksum") in xattrs
    for path in ("big.bin", "Projects/2024/q1/data-2.bin", "README.md"):
        digest = hashlib.sha256(emu.get_content(ids[path])).hexdigest()
        assert lines["/" + path]["sha256"] == digest, path
    local = tmp_path / "local"
    (local / "sub dir").mkdir(parents=True)
    (local / "sub dir" / "ü.txt").write_bytes(b"hello")
    (local / "top.bin").write_bytes(bytes(range(256)) * 5000)
    res = run_gohost(
        "export", plugin_argv("gdrive", "exporter"), "gdrive",
        drive_config(emu, "gdrive://from-gohost"), "-from", str(local),
    )  # fmt: skip
    assert res["ok"], res
    assert emu.get_content(emu.find("from-gohost/sub dir/ü.txt")) == b"hello"
    assert emu.get_content(emu.find("from-gohost/top.bin")) == bytes(range(256)) * 5000
