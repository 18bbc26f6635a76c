"""What the xattr records of Drive files cost under the real Plakar.

    .venv/bin/python scripts/bench_xattrs.py [--files N] [--runs N]

Plakar reads every xattr record's value with one more Open call, on every backup, even when
its cache knows the file. This times `plakar backup` of one emulated Drive (N files of 1 KiB
named `file-N.txt` and stored as text/plain, as Drive types them, 200 per folder) with one
gdrive package and three importer configs:
- `checksums=true`: four records per file (the file, `user.gdrive.mime_type`,
  `user.gdrive.md5_checksum`, `user.gdrive.sha256_checksum`), what every backup sent until the
  default changed;
- the default: the MIME type only where the name does not give it, so none here;
- `metadata=false`: never any xattr.
Two runs per config and round: cold (the first backup into a fresh repository) and warm (a
second backup, kloset's cache knowing every file, so no content is read). The configs
alternate within each round (the order turns each round); figures are medians of `--runs`
rounds. The repository is on local disk (Plakar's built-in fs), encrypted as by default.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "sdk"), str(ROOT / "integrations"), str(ROOT / "scripts")]

import bench_drive  # noqa: E402
from bench_plakar import PASSPHRASE, add, die, must, timed_run  # noqa: E402

from kloset_sdk.harness.plakar import PlakarHome, find_plakar  # noqa: E402
from tests.emulators.drive import CLIENT_ID, CLIENT_SECRET, DriveEmulator  # noqa: E402

CONFIGS: dict[str, dict[str, str]] = {
    "checksums=true (4 records a file)": {"checksums": "true"},
    "default (1 record a file, here)": {},
    "metadata=false (1 record a file)": {"metadata": "false"},
}


def package(out: Path) -> Path:
    cmd = [str(ROOT / "scripts" / "package"), "gdrive", "--host-only", "--out", str(out)]
    if subprocess.run(cmd, cwd=ROOT).returncode:
        die(f"{' '.join(cmd)} failed (see above)")
    found = sorted(out.glob("gdrive_*.ptar"))
    if len(found) != 1:
        die(f"expected one gdrive_*.ptar in {out}, found {found}")
    return found[0]


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=5_000)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args(argv)
    plakar = find_plakar(ROOT)
    times: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-xattrs-") as tmp:
        work = Path(tmp)
        home = PlakarHome(
            plakar,
            base=work / "home",
            env={**os.environ, "PATH": "/usr/bin:/bin"},  # as bench_plakar.py runs it
            passphrase=PASSPHRASE,
        )
        ptar = package(work / "pkg")
        added = home.pkg_add(ptar)
        if added.returncode:
            die(f"plakar pkg add {ptar.name}: {added.stderr}{added.stdout}")
        with DriveEmulator() as emu:
            bench_drive.seed(emu, args.files, max(1, args.files // 200), mime_type="text/plain")
            keys = {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "api_endpoint": emu.url,
                "token_uri": emu.token_uri,
            }
            labels = list(CONFIGS)
            for rnd in range(args.runs):
                order = labels[rnd % len(labels) :] + labels[: rnd % len(labels)]
                for label in order:
                    repo = work / f"repo-{rnd}-{labels.index(label)}"
                    must(home, "at", str(repo), "create")
                    src = add(
                        home,
                        "source",
                        "gdrive://",
                        {**keys, **CONFIGS[label], "refresh_token": emu.issue_refresh_token()},
                    )
                    for run in ("cold", "warm"):
                        s = timed_run(home, "at", str(repo), "backup", "-no-progress", src)
                        times.setdefault((label, run), []).append(s.seconds)
                        print(f"round {rnd + 1} {label} {run}: {s.seconds:.1f} s", file=sys.stderr)
                    shutil.rmtree(repo)
        home.close()
    shape = "1 KiB, text/plain, 200 per folder"
    print(f"\n{args.files:,} Drive files ({shape}), medians of {args.runs} (runs)\n")
    print("| backup | " + " | ".join(labels) + " |")
    print("|---|" + "---:|" * len(labels))
    for run in ("cold", "warm"):
        cells = []
        for label in labels:
            got = sorted(times[(label, run)])
            cells.append(f"{statistics.median(got):.1f} s ({', '.join(f'{t:.1f}' for t in got)})")
        print(f"| {run} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
