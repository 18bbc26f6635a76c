"""Run the emulator as a process for demo scripts.

    python -m tests.emulators.drive --port 8765 --seed sample

Prints `READY <url>` once listening, then `CREDENTIALS {json}` (client id/secret, refresh
token, token_uri; all fixed by default, see auth.CLIENT_ID and DEMO_REFRESH_TOKEN); runs until
SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from .auth import CLIENT_ID, CLIENT_SECRET
from .emulator import DriveEmulator
from .sample import seed_sample

DEMO_REFRESH_TOKEN = "1//emu-demo-refresh-token"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.emulators.drive")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", choices=("sample", "none"), default="none")
    parser.add_argument("--rng-seed", type=int, default=0, help="seed for ids and faults")
    parser.add_argument("--refresh-token", default=DEMO_REFRESH_TOKEN)
    args = parser.parse_args(argv)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    emu = DriveEmulator(args.port, args.host, seed=args.rng_seed)
    emu.issue_refresh_token(token=args.refresh_token)
    if args.seed == "sample":
        seed_sample(emu)
    with emu:
        creds = {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": args.refresh_token,
            "token_uri": emu.token_uri,
            "root_url": emu.url,
        }
        print(f"READY {emu.url}", flush=True)
        print("CREDENTIALS " + json.dumps(creds), flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
