"""Secrets never leak: not on stderr with debug logging on, not in status messages, not in files.

Each integration runs a little of everything (Init, storage calls, an Import, an Export, a
refused login) with secrets in its config and `KLOSET_LOG=debug`; its stderr goes to a file.
Then every secret value (and every access token the emulators issued, and pre-authenticated
URLs) is searched for in that stderr, in every status message the host received, and in every
file the plugin wrote under its HOME and TMPDIR. Token caches are allowed to hold tokens, but
must be mode 0600.
"""

from __future__ import annotations

import os
import pwd
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from kloset_sdk import FileInfo, Record, Resource
from kloset_sdk.harness import ExporterClient, ImporterClient, PluginProcess, StoreClient
from tests.reliability.backends import Backend, make_backend
from tests.reliability.common import Scenario

#: URLs that carry a credential in their query (Graph's pre-authenticated download URLs).
CAPABILITY_URL = re.compile(r"tempauth=[0-9]+\.[0-9a-f]{8,}")
TOKEN_FILES = ("token", "cache", "credential")


def _secrets(connector: str, server: Any, config: dict[str, str]) -> dict[str, str]:
    """Name -> value of every secret in play (values of at least 6 characters)."""
    found: dict[str, str] = {}
    for key in (
        "secret_access_key",
        "access_key",
        "session_token",
        "sse_customer_key",
        "password",
        "passphrase",
        "ssh_private_key",
        "client_secret",
        "refresh_token",
    ):
        if config.get(key):
            found[key] = config[key]
    if "ssh_private_key" in found:  # a multi-line PEM: look for each of its body lines
        for i, line in enumerate(found.pop("ssh_private_key").splitlines()):
            if len(line) >= 20 and "PRIVATE KEY" not in line:
                found[f"ssh_private_key line {i}"] = line
    return {k: v for k, v in found.items() if len(v) >= 6}


def _issued_tokens(connector: str, server: Any) -> dict[str, str]:
    if connector == "gdrive":
        with server.tokens.lock:
            return {f"access token {i}": t for i, t in enumerate(server.tokens.access_tokens)}
    if connector == "onedrive":
        with server.auth.lock:
            return {f"access token {i}": t for i, t in enumerate(server.auth.access_tokens)}
    return {}


def _sftp_configs(backend: Backend, kind: str) -> list[dict[str, str]]:
    """Storage: a passphrase-protected key as text and as a file, and a password login (when
    the machine allows it); importer and exporter: the password login (else the key text)."""
    server = backend.server
    out = []
    key_text = Path(server.enc_key_path).read_text()
    enc = {k: v for k, v in backend.config.items() if k != "identity"}
    enc.update({"ssh_private_key": key_text, "passphrase": server.passphrase})
    out.append(enc)
    enc_file = {**backend.config, "identity": str(server.enc_key_path)}
    enc_file["passphrase"] = server.passphrase
    out.append(enc_file)
    if server.password_auth_available:
        pw = {k: v for k, v in backend.config.items() if k != "identity"}
        root = Path(server.password_root_dir) / f"secrets-{os.getpid()}-{kind}"
        root.mkdir(exist_ok=True)
        user = pwd.getpwnam(server.password_user)  # the login's own directory, as in real use
        os.chown(root, user.pw_uid, user.pw_gid)
        if kind == "importer":
            (root / "a.txt").write_bytes(b"some content")
            os.chmod(root / "a.txt", 0o644)
        pw["location"] = f"sftp://{server.password_user}@{server.host}:{server.port}{root}"
        pw["password"] = server.password
        out.append(pw)
    return out if kind == "storage" else out[-1:]


def _configs(connector: str, kind: str, backend: Backend) -> list[dict[str, str]]:
    if connector == "sftp":
        return _sftp_configs(backend, kind)
    return [dict(backend.config)]


def _wrong(connector: str, config: dict[str, str]) -> dict[str, str] | None:
    """The same config with a wrong secret (a refused login must not echo it either)."""
    for key in ("secret_access_key", "password", "client_secret", "refresh_token"):
        if key in config:
            return {**config, key: config[key][::-1] + "-wrong"}
    return None


def _exercise(kind: str, client: Any, calls: list[str], good: bool, fresh: bool = True) -> None:
    """A bit of every call. With the good config each call must succeed, so the leak checks
    below cover the code that really runs; with a wrong secret, failures are expected and only
    their messages are collected (and checked). `fresh`: the storage location is still empty."""

    def attempt(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except grpc.RpcError as exc:
            calls.append(exc.details() or "")
            if good:
                raise AssertionError(f"the good config failed: {exc.details()}") from None
            return None

    if kind == "storage":
        mac = os.urandom(32)
        data = os.urandom(300_000)
        if fresh:
            attempt(lambda: client.create(b"secret-test-config"))
        opened = attempt(lambda: client.open())
        attempt(lambda: client.put(Resource.PACKFILE, mac, data))
        got = attempt(lambda: client.get(Resource.PACKFILE, mac, 5, 100))
        listed = attempt(lambda: client.list(Resource.PACKFILE))
        attempt(lambda: client.delete(Resource.PACKFILE, mac))
        attempt(lambda: client.size())
        if good:
            assert opened == b"secret-test-config", opened
            assert got == data[5:105], "ranged Get returned other bytes"
            assert mac in listed, "List misses the object just put"
        try:  # an unknown object fails for every config: its message is checked too
            client.get(Resource.STATE, os.urandom(32))
        except grpc.RpcError as exc:
            calls.append(exc.details() or "")
        else:
            raise AssertionError("Get of an unknown MAC succeeded")
    elif kind == "importer":
        run = attempt(lambda: client.scan())
        if good:
            assert run is not None and run.finished and not run.errors, run
            names = {r.record.pathname.rsplit("/", 1)[-1] for r in run.records}
            assert "a.txt" in names, f"the seeded file was not imported: {sorted(names)}"
    else:
        items = [
            (Record.directory("/", FileInfo("/", mode=0x80000000 | 0o755)), None),
            (Record.file("/s.txt", FileInfo("s.txt", size=5, mode=0o600), lambda: b""), b"hello"),
        ]
        run = attempt(lambda: client.export(items))
        if good:
            assert run is not None and not run.errors and len(run.results) == 2, run
    attempt(lambda: client.close())


@pytest.mark.parametrize("kind", ["storage", "importer", "exporter"])
@pytest.mark.parametrize("connector", ["s3", "sftp", "gdrive", "onedrive"])
def test_no_secret_on_stderr_or_disk(
    connector: str,
    kind: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    plugin_env: dict[str, str],
    plugin_tmp: Path,
    scenario: Scenario,
) -> None:
    """{kind} with secrets and debug logging: none on stderr, in status messages or in files"""
    backend = make_backend(connector, kind, request, tmp_path)
    if kind == "importer":
        backend.seed({"/a.txt": b"some content", "/d/b.bin": os.urandom(100_000)})
    env = {**plugin_env, "KLOSET_LOG": "debug"}
    stderr_path = tmp_path / "stderr.log"
    messages: list[str] = []
    secrets: dict[str, str] = {}
    locations: set[str] = set()
    with open(stderr_path, "wb") as log:
        for i, config in enumerate(_configs(connector, kind, backend)):
            if kind == "storage" and config["location"] in locations:  # Create needs a new one
                config = {**config, "location": f"{config['location']}-{i}"}
            locations.add(config["location"])
            secrets.update(_secrets(connector, backend.server, config))
            wrong = _wrong(connector, config) if kind == "storage" else None
            for cfg in (config, wrong):
                if cfg is None:
                    continue
                good = cfg is config
                secrets.update(_secrets(connector, backend.server, cfg))
                with PluginProcess(backend.argv, env=env, stderr=log) as proc:
                    client: Any = {
                        "storage": StoreClient,
                        "importer": ImporterClient,
                        "exporter": ExporterClient,
                    }[kind](proc)
                    try:
                        client.init(cfg, proto=backend.proto)
                    except grpc.RpcError as exc:
                        messages.append(exc.details() or "")
                        assert not good, f"Init of the good config failed: {exc.details()}"
                    else:
                        _exercise(kind, client, messages, good)
                scenario.runs += 1
    secrets.update(_issued_tokens(connector, backend.server))
    assert secrets, "no secret to look for"
    text = stderr_path.read_text(errors="replace")
    assert "debug" in text.lower(), "debug logging did not reach stderr"
    leaks = [name for name, value in secrets.items() if value in text]
    assert not leaks, f"on stderr: {leaks}"
    assert not CAPABILITY_URL.search(text), "a pre-authenticated URL on stderr"
    for msg in messages:
        shown = [name for name, value in secrets.items() if value in msg]
        assert not shown, f"in a status message: {shown} ({msg[:200]!r})"
    written = [p for d in (plugin_tmp, Path(env["HOME"])) for p in d.rglob("*") if p.is_file()]
    for p in written:
        data = p.read_bytes().decode("utf-8", "replace")
        inside = [name for name, value in secrets.items() if value in data]
        if not inside:
            continue
        assert any(t in p.name.lower() for t in TOKEN_FILES), f"{p.name} holds {inside}"
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == 0o600, f"token cache {p.name} is {oct(mode)}, not 0600"
    scenario.note(
        f"{len(secrets)} secret values searched in {len(text):,} bytes of debug stderr,"
        f" {len(messages)} status messages and {len(written)} files"
    )


def test_redaction_of_runtime_credentials(scenario: Scenario) -> None:
    """Credentials obtained at run time are masked by shape in every log line"""
    from kloset_sdk.log import MASK, redact

    lines = {
        "Authorization': b'AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-east-1/s3": (
            "AKIAEXAMPLE"
        ),
        '"GET /_layouts/15/download.aspx?UniqueId=X&tempauth=17953.5ac0a464 HTTP/1.1" 200': (
            "17953.5ac0a464"
        ),
        "headers={'Authorization': 'Bearer ya29.a0AfH6SMB-x_y.z'}": "ya29.a0AfH6SMB-x_y.z",
        "GET /o?X-Amz-Security-Token=FQoGZXIvYXdz&X-Amz-Signature=9f8e7d": "FQoGZXIvYXdz",
        "POST /token?code=4/0AY0e-g7&grant_type=authorization_code": "4/0AY0e-g7",
    }
    for line, secret in lines.items():
        out = redact(line)
        assert secret not in out and MASK in out, out
        scenario.runs += 1


def test_onedrive_token_cache_stays_private(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    plugin_env: dict[str, str],
    plugin_tmp: Path,
    graph_emulator: Any,
    scenario: Scenario,
) -> None:
    """User login with a token cache: tokens only in the 0600 cache, never on debug stderr"""
    from kloset_onedrive.login import login_device_code

    emu = graph_emulator
    home = Path(plugin_env["HOME"])
    cache = home / ".config" / "kloset-connectors" / "onedrive-test.json"
    emu.auto_approve_device = True
    interval = emu.auth.device_interval
    emu.auth.device_interval = 1
    try:
        config = login_device_code(
            emu.client_id,
            tenant=emu.tenant_id,
            token_cache=str(cache),
            graph_endpoint=emu.graph_url,
            authority_host=emu.base_url,
            ca_bundle=emu.ca_cert_path,
            show=lambda text: None,
        )
    finally:
        emu.auto_approve_device = False
        emu.auth.device_interval = interval
    assert cache.exists() and stat.S_IMODE(cache.stat().st_mode) == 0o600
    backend = make_backend("onedrive", "storage", request, tmp_path)
    for k in ("client_secret", "tenant", "drive_id"):
        backend.config.pop(k, None)
    backend.config.update({k: v for k, v in config.items() if k != "location"})
    backend.config["token_file"] = str(cache)
    env = {**plugin_env, "KLOSET_LOG": "debug"}
    stderr_path = tmp_path / "stderr.log"
    messages: list[str] = []
    with open(stderr_path, "wb") as log:
        for expire in (False, True):  # the second run refreshes an expired token
            if expire:
                emu.expire_tokens()
            with PluginProcess(backend.argv, env=env, stderr=log) as proc:
                client = StoreClient(proc)
                client.init(backend.config, proto=backend.proto)
                _exercise("storage", client, messages, True, fresh=not expire)
            scenario.runs += 1
    with emu.auth.lock:
        tokens = [*emu.auth.access_tokens, *emu.auth.refresh_tokens]
    assert tokens
    text = stderr_path.read_text(errors="replace")
    assert not [t for t in tokens if t in text], "a token on stderr"
    assert not [m for m in messages if any(t in m for t in tokens)], "a token in a status"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600, "the token cache lost its 0600 mode"
    written = [p for d in (plugin_tmp, home) for p in d.rglob("*") if p.is_file()]
    holding = [p for p in written if any(t in p.read_text(errors="replace") for t in tokens)]
    assert holding == [cache], f"tokens outside the cache: {holding}"
    for d in {p.parent for p in written}:
        left = [p.name for p in d.iterdir() if p.name.startswith(".tok-")]
        assert not left, f"temporary token files left: {left}"
    scenario.note(f"{len(tokens)} tokens issued, found only in the 0600 cache")
