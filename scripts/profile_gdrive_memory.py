"""Where the gdrive importer's memory goes: tracemalloc over one walk, in one process.

    .venv/bin/python scripts/profile_gdrive_memory.py [FILES]   (default 20,000)

Seeds the Drive emulator with FILES files, 200 per folder (as scripts/bench_scale.py does),
walks it with the importer in this process, and prints the Python allocations held near the
end of the walk by source line (the emulator's seeding is left out), then the peak.
"""

from __future__ import annotations

import gc
import sys
import tempfile
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "sdk"), str(ROOT / "integrations"), str(ROOT / "scripts")]

import bench_drive  # noqa: E402

import kloset_gdrive.importer as gi  # noqa: E402
from kloset_sdk.connector import InitContext, build  # noqa: E402
from tests.emulators.drive import DriveEmulator  # noqa: E402


def main(files: int) -> None:
    with DriveEmulator() as emu, tempfile.TemporaryDirectory() as tmp:
        bench_drive.seed(emu, files, max(1, files // 200))
        cfg = bench_drive.config(emu, str(Path(tmp) / "state.sqlite"))
        imp = build(lambda _: gi.GdriveImporter, InitContext("importer", "gdrive", cfg))
        gc.collect()
        tracemalloc.start(6)
        base = tracemalloc.take_snapshot()
        snap = None
        n = 0
        for n, _ in enumerate(imp.records(), 1):
            if n == int(files * 4 * 0.99):  # a file is 4 records: itself and 3 xattrs
                snap = tracemalloc.take_snapshot()
        current, peak = tracemalloc.get_traced_memory()
        print(f"{n:,} records; held {current / 2**20:.1f} MiB, peak {peak / 2**20:.1f} MiB")
        for stat in (snap or tracemalloc.take_snapshot()).compare_to(base, "lineno")[:12]:
            print(stat)
        imp.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
