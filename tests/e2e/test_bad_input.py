"""Bad input under the real plakar: each integration as store, source and destination.

Wrong credentials, an unknown config key, an unreachable endpoint (a closed port on
127.0.0.1) and a missing bucket/folder/path. `plakar store|source|destination add` stores
whatever it is given in v1.1.4 (checked below), so every fault is reported where plakar first
runs the connector: `at @store create` (or `ls`, for a store that does not exist), `backup
@source`, `restore -to @dest`. Each must exit non-zero, print no Python traceback, and name the
problem in one line of output; what a failure touched (the local repository the source and
destination cases use, the store location) is checked afterwards.

The repository of the source and destination cases is a plain-text one: an encrypted one
costs a second of key derivation per command and nothing here depends on encryption.
"""

from __future__ import annotations

import re
import socket
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from kloset_sdk.harness.plakar import PlakarHome
from tests.e2e.backends import E2EBackends, Spot
from tests.e2e.run import add_config, failed, ok, snapshots
from tests.e2e.trees import digests

#: The unknown key every integration is given; its name must come back in the message.
BOGUS = "no_such_option"
#: The tree restored by the destination cases (and present in the repository all along).
TREE = {"a.txt": b"hello\n" * 100, "sub/b.bin": bytes(range(256))}
#: Drive and Graph retry a refused connection 10 times over about two minutes by default;
#: two attempts show the retry and keep the case short.
FEW_RETRIES = {"max_retries": "2"}

ROLES = ("store", "source", "destination")
NETWORKED = ("s3", "sftp", "gdrive", "onedrive")
CASES = [("fs", r, f) for r in ROLES for f in ("unknown_key", "missing")] + [
    (n, r, f)
    for n in NETWORKED
    for r in ROLES
    for f in ("unknown_key", "credentials", "unreachable", "missing")
]

_UNKNOWN = rf"{BOGUS}: unknown option \(known options: .*\blocation\b"
_S3_DENIED = r"access denied \(HTTP 403\): check access_key and secret_access_key"
_S3_UNKNOWN_KEY = r"the server does not know this access key: check access_key"
_GDRIVE_REFUSED = r"Google refused the credentials .*invalid_grant"
_ONEDRIVE_REFUSED = r"client_id/client_secret refused \(AADSTS7000215"

#: (integration, role, fault) -> a regex that exactly one output line must match. `{port}` is
#: the closed port, `{where}` the missing location's last component. None: the case must
#: succeed (a missing destination is created, as every exporter documents).
EXPECT: dict[tuple[str, str, str], str | None] = {
    ("fs", "store", "missing"): r"failed to open the repository at posixfs://.*{where}: "
    r".*no repository here \(CONFIG is missing\)",
    ("fs", "source", "missing"): r"failed to create an importer for @\w+: location: "
    r".*{where}: No such file or directory",
    ("s3", "store", "credentials"): _S3_DENIED,
    ("s3", "source", "credentials"): r"failed to backup source: .*PermissionDenied.*"
    + _S3_UNKNOWN_KEY,
    ("s3", "destination", "credentials"): _S3_DENIED,
    ("s3", "store", "unreachable"): r"cannot reach the endpoint http://127\.0\.0\.1:{port}",
    ("s3", "source", "unreachable"): r"failed to backup source: .*cannot reach the endpoint "
    r"http://127\.0\.0\.1:{port}",
    ("s3", "destination", "unreachable"): r"cannot reach the endpoint http://127\.0\.0\.1:{port}",
    ("s3", "store", "missing"): r"failed to open the repository at s3://.*{where}.*: "
    r"the bucket does not exist",
    ("s3", "source", "missing"): r"failed to backup source: .*NotFound.*the bucket does not exist",
    (
        "sftp",
        "store",
        "credentials",
    ): r"login as \S+ on 127\.0\.0\.1:\d+ refused \(tried: identity\)",
    ("sftp", "source", "credentials"): r"failed to create an importer for @\w+: "
    r"login as \S+ on 127\.0\.0\.1:\d+ refused \(tried: identity\)",
    ("sftp", "destination", "credentials"): r"login as \S+ on 127\.0\.0\.1:\d+ refused",
    (
        "sftp",
        "store",
        "unreachable",
    ): r"cannot connect to 127\.0\.0\.1:{port}: .*Connection refused",
    ("sftp", "source", "unreachable"): r"failed to create an importer for @\w+: "
    r"cannot connect to 127\.0\.0\.1:{port}: .*Connection refused",
    ("sftp", "destination", "unreachable"): r"cannot connect to 127\.0\.0\.1:{port}: "
    r".*Connection refused",
    ("sftp", "store", "missing"): r"failed to open the repository at sftp://.*{where}: "
    r".*no repository here \(no CONFIG file\)",
    ("sftp", "source", "missing"): r"{where}.*(?i:no such file)",
    ("gdrive", "store", "credentials"): _GDRIVE_REFUSED,
    ("gdrive", "source", "credentials"): r"failed to backup source: .*PermissionDenied.*"
    + _GDRIVE_REFUSED,
    ("gdrive", "destination", "credentials"): _GDRIVE_REFUSED,
    ("gdrive", "store", "unreachable"): r"gave up after 2 attempts .*Connection refused",
    ("gdrive", "source", "unreachable"): r"failed to backup source: .*gave up after 2 attempts "
    r".*Connection refused",
    ("gdrive", "destination", "unreachable"): r"gave up after 2 attempts .*Connection refused",
    ("gdrive", "store", "missing"): r"failed to open the repository at gdrive://.*{where}: "
    r"no repository at gdrive://.*{where} \(no folder {where}\)",
    ("gdrive", "source", "missing"): r'failed to backup source: .*no folder "{where}" in "e2e-\w+"',
    ("onedrive", "store", "credentials"): _ONEDRIVE_REFUSED,
    ("onedrive", "source", "credentials"): r"failed to backup source: .*PermissionDenied.*"
    + _ONEDRIVE_REFUSED,
    ("onedrive", "destination", "credentials"): _ONEDRIVE_REFUSED,
    ("onedrive", "store", "unreachable"): r"gave up after 2 attempts .*127\.0\.0\.1:{port}"
    r".*connection failed",
    ("onedrive", "source", "unreachable"): r"failed to backup source: .*gave up after 2 attempts "
    r".*127\.0\.0\.1:{port}.*connection failed",
    ("onedrive", "destination", "unreachable"): r"gave up after 2 attempts .*127\.0\.0\.1:{port}"
    r".*connection failed",
    ("onedrive", "store", "missing"): r"failed to open the repository at onedrive:///.*{where}: "
    r"no repository at onedrive:/.*{where} \(CONFIG not found\)",
    ("onedrive", "source", "missing"): r"failed to backup source: .*NotFound.*"
    r"location /.*{where} does not exist on the drive",
}
for _n, _r, _f in CASES:
    if _f == "unknown_key":
        EXPECT[(_n, _r, _f)] = _UNKNOWN
    elif _r == "destination" and _f == "missing":
        EXPECT[(_n, _r, _f)] = None


@dataclass
class Repo:
    """The local repository of the source and destination cases, and its one snapshot."""

    path: str
    snapshot: str


@pytest.fixture(scope="module")
def repo(plakar: PlakarHome, tmp_path_factory: pytest.TempPathFactory) -> Repo:
    base = tmp_path_factory.mktemp("bad-input")
    src = base / "tree"
    for rel, data in TREE.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    path = str(base / "repo")
    ok(plakar.run("at", path, "create", "-plaintext"), "create")
    ok(plakar.run("at", path, "backup", "-no-progress", str(src)), "backup")
    (snap,) = snapshots(plakar, path)
    return Repo(path, snap)


@pytest.fixture(scope="module")
def stranger_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SSH key the sshd has never heard of."""
    key = tmp_path_factory.mktemp("stranger") / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True, timeout=30
    )
    return key


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound once by us, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def faulty(
    spot: Spot, fault: str, port: int, where: str, key: Path, backends: E2EBackends
) -> tuple[str, dict[str, str]]:
    """The location and keys of `spot` with `fault` in them."""
    keys = dict(spot.keys)
    loc = spot.location
    if fault == "unknown_key":
        return loc, {**keys, BOGUS: "1"}
    if spot.name == "s3":
        bucket = spot.extra["bucket"]
        if fault == "credentials":
            return loc, {**keys, "access_key": "AKIAWRONGWRONGWRONG0"}
        if fault == "unreachable":
            return f"s3://127.0.0.1:{port}/{bucket}/data", keys
        return loc.replace(bucket, where), keys
    if spot.name == "sftp":
        if fault == "credentials":
            return loc, {**keys, "identity": str(key)}
        if fault == "unreachable":
            return loc.replace(f":{backends.sshd.port}/", f":{port}/"), keys
        return f"{loc}/{where}", keys
    if spot.name == "gdrive":
        if fault == "credentials":
            return loc, {**keys, "refresh_token": "1//not-a-refresh-token"}
        if fault == "unreachable":
            return loc, {**keys, "api_endpoint": f"http://127.0.0.1:{port}", **FEW_RETRIES}
        return f"{loc}/{where}", keys
    if spot.name == "onedrive":
        if fault == "credentials":
            return loc, {**keys, "client_secret": "not-the-client-secret"}
        if fault == "unreachable":
            endpoint = f"https://127.0.0.1:{port}/v1.0"
            return loc, {**keys, "graph_endpoint": endpoint, **FEW_RETRIES}
    # fs, sftp, gdrive, onedrive: a folder below the spot (fs and sftp: the spot's own
    # directory does not exist yet either, unless seeded)
    return f"{loc}/{where}", keys


def one_line(out: str, pattern: str) -> str:
    """The single output line matching `pattern` (a message printed twice fails too)."""
    rx = re.compile(pattern)
    hits = [line for line in out.splitlines() if rx.search(line)]
    assert len(hits) == 1, f"want one line matching {pattern!r}, got {hits}:\n{out[-3000:]}"
    return hits[0]


def _created_reader(spot: Spot, where: str) -> Callable[[], dict[str, bytes]]:
    """Files below the missing destination, once the restore created it."""
    if spot.name != "s3":
        return lambda: {
            rel[len(where) + 1 :]: data
            for rel, data in spot.files().items()
            if rel.startswith(where + "/")
        }
    client = spot.extra["client"]

    def read() -> dict[str, bytes]:
        out = {}
        for obj in client.list_objects_v2(Bucket=where, Prefix="data/").get("Contents", []):
            body = client.get_object(Bucket=where, Key=obj["Key"])["Body"].read()
            out[obj["Key"][len("data/") :]] = body
        return out

    return read


def test_add_does_not_validate(plakar: PlakarHome, backends: E2EBackends) -> None:
    """v1.1.4's `store|source|destination add` keep an unknown key without a word: the
    connector is the first to see it, which is why every case below reports there."""
    spot = backends.spot("fs")
    for kind in ROLES:
        proc = plakar.run(kind, "add", f"x{uuid.uuid4().hex[:8]}", spot.location, f"{BOGUS}=1")
        ok(proc, f"{kind} add")
        assert proc.stdout + proc.stderr == "", proc.stdout + proc.stderr


@pytest.mark.parametrize(("name", "role", "fault"), CASES, ids=["-".join(c) for c in CASES])
def test_bad_input(
    plakar: PlakarHome,
    backends: E2EBackends,
    repo: Repo,
    stranger_key: Path,
    name: str,
    role: str,
    fault: str,
) -> None:
    spot = backends.spot(name, seed=TREE if role == "source" else None)
    port = closed_port()
    where = f"missing-{uuid.uuid4().hex[:8]}"
    loc, keys = faulty(spot, fault, port, where, stranger_key, backends)
    kv = [f"{k}={v}" for k, v in keys.items()]
    expect = EXPECT[(name, role, fault)]

    if role == "store":
        store = add_config(plakar, "store", loc, kv)
        # A store that does not exist is created by `create`: opening it is the failure.
        args = ["ls"] if fault == "missing" else ["create", "-plaintext"]
        proc = plakar.run("at", store, *args)
    elif role == "source":
        source = add_config(plakar, "source", loc, kv)
        before = snapshots(plakar, repo.path)
        proc = plakar.run("at", repo.path, "backup", "-no-progress", source)
    else:
        dest = add_config(plakar, "destination", loc, kv)
        proc = plakar.run("at", repo.path, "restore", "-to", dest, repo.snapshot)

    what = f"{name} {role} with {fault}"
    if expect is None:
        ok(proc, what)
        assert digests(_created_reader(spot, where)()) == digests(TREE), what
        return
    out = failed(proc, what)
    one_line(out, expect.format(port=port, where=re.escape(where)))

    if role != "store":  # the store cases have no repository yet
        check = ok(plakar.run("at", repo.path, "check"), f"check after {what}")
        assert "check completed without errors" in check, check
        if role == "source":
            assert snapshots(plakar, repo.path) == before, (
                f"{what}: a failed backup left a snapshot"
            )
