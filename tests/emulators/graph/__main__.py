"""``python -m tests.emulators.graph --seed sample``: run until SIGTERM, print READY line."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .emulator import GraphEmulator
from .sample import seed_sample


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", choices=("sample", "none"), default="none")
    parser.add_argument("--drive-type", default="personal")
    parser.add_argument("--auto-approve", action="store_true", help="approve device codes")
    parser.add_argument("--http", action="store_true", help="also serve Graph over HTTP")
    args = parser.parse_args(argv)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    emu = GraphEmulator(
        drive_type=args.drive_type, auto_approve_device=args.auto_approve, http_listener=args.http
    )
    with emu:
        if args.seed == "sample":
            seed_sample(emu)
        print(f"READY {emu.graph_url} {emu.authority_url} {emu.ca_cert_path}", flush=True)
        print(
            f"client_id={emu.client_id} client_secret={emu.client_secret}"
            f" tenant={emu.tenant_id} drive_id={emu.default_drive_id}",
            file=sys.stderr,
            flush=True,
        )
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
