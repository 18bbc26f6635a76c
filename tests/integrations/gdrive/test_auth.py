"""Login flows end to end against the emulator's OAuth endpoints, and every credential source."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import grpc
import pytest
import requests

from kloset_gdrive.auth import login_headless, login_installed_app
from kloset_sdk.harness import ImporterClient, PluginProcess
from tests.conftest import plugin_argv
from tests.emulators.drive import CLIENT_ID, CLIENT_SECRET, DriveEmulator
from tests.integrations.gdrive.conftest import drive_config
from tests.integrations.gdrive.test_importer import scan

SCOPE_DRIVE = "https://www.googleapis.com/auth/drive"


def consent(url: str) -> str:
    """What the browser does: the emulator consents at once and redirects with the code."""
    resp = requests.get(url, allow_redirects=False, timeout=30)
    assert resp.status_code == 302, resp.text
    return resp.headers["Location"]


def check_token_works(emu: DriveEmulator, token_file: Path, lines: list[str]) -> None:
    assert token_file.stat().st_mode & 0o777 == 0o600
    saved = json.loads(token_file.read_text())
    assert saved["refresh_token"] and saved["client_id"] == CLIENT_ID
    assert any(ln.startswith("plakar source add ") for ln in lines)
    assert all(f"token_file={token_file}" in ln and "refresh_token" not in ln for ln in lines)
    config = {"location": "gdrive://", "token_file": str(token_file), "api_endpoint": emu.url}
    emu.add_file("hello.txt", b"hello")
    run = scan(config)
    assert run.by_path()["/hello.txt"].read == 5


def test_login_loopback(
    emu: DriveEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[str] = []

    def browser(url: str) -> None:  # must not block: the flow waits for the redirect after it
        seen.append(url)
        threading.Thread(target=lambda: requests.get(consent(url), timeout=30)).start()

    token_file = tmp_path / "cfg" / "gdrive.json"
    result = login_installed_app(
        CLIENT_ID,
        CLIENT_SECRET,
        token_file=token_file,
        auth_uri=emu.url + "o/oauth2/auth",
        token_uri=emu.token_uri,
        on_url=browser,
    )
    assert seen and "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in seen[0]
    assert "access_type=offline" in seen[0]
    out = capsys.readouterr()
    assert seen[0] in out.err and out.out == ""  # the URL on stderr, nothing on stdout
    assert result.token_file == token_file and result["token_file"] == str(token_file)
    assert result["token_uri"] == emu.token_uri
    for line in result.lines:
        print(line)
    check_token_works(emu, token_file, result.lines)


def test_login_headless(emu: DriveEmulator, tmp_path: Path) -> None:
    urls: list[str] = []
    token_file = tmp_path / "headless.json"
    result = login_headless(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        token_file=token_file,
        auth_uri=emu.url + "o/oauth2/auth",
        token_uri=emu.token_uri,
        scope="drive.readonly",
        on_url=urls.append,
        read_code=lambda: consent(urls[0]) + "\n",  # the user pastes the address
    )
    assert "scope=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fdrive.readonly" in urls[0]
    check_token_works(emu, token_file, result.lines)


def test_service_account_with_impersonation(emu: DriveEmulator, tmp_path: Path) -> None:
    key = tmp_path / "sa.json"
    key.write_text(json.dumps(emu.service_account_info()))
    emu.add_file("a.txt", b"a")
    config = {
        "location": "gdrive://",
        "service_account_file": str(key),
        "impersonate": "user@example.com",
        "scope": "drive.readonly",
        "api_endpoint": emu.url,
    }
    run = scan(config)
    assert run.by_path()["/a.txt"].read == 1
    assert "user@example.com" in emu.tokens.subjects


CONFIG_ERRORS = [
    ({"refresh_token": ""}, "token_file"),  # no credentials at all
    ({"token_file": "/nonexistent/tok.json"}, "refresh_token"),  # two sources
    ({"client_secret": ""}, "client_secret"),
    ({"scope": "drive.everything"}, "scope"),
    ({"export_formats": "document=doc"}, "export_formats"),
    ({"impersonate": "x@y"}, "impersonate"),
    ({"location": "s3://bucket"}, "location"),
]


def test_config_errors_name_the_key_at_init(emu: DriveEmulator) -> None:
    """Every mistake is refused by Init itself (no Drive request), naming its key."""
    with PluginProcess(plugin_argv("gdrive", "importer")) as proc:
        client = ImporterClient(proc)
        for extra, key in CONFIG_ERRORS:
            with pytest.raises(grpc.RpcError) as ei:
                client.init({**drive_config(emu), **extra}, proto="gdrive")
            details = ei.value.details() or ""
            assert details.startswith(f"{key}: "), (extra, details)
            assert CLIENT_SECRET not in details
    assert emu.stats["requests"] == 0


def test_secrets_never_logged(emu: DriveEmulator, tmp_path: Path) -> None:
    config = drive_config(emu)
    emu.faults.inject(500, count=2)
    log = tmp_path / "stderr.txt"
    with (
        open(log, "wb") as err,
        PluginProcess(
            plugin_argv("gdrive", "importer"), env={**os.environ, "KLOSET_LOG": "debug"}, stderr=err
        ) as proc,
    ):
        client = ImporterClient(proc)
        client.init(config, proto="gdrive")
        client.scan()
        client.close()
        proc.finish(10)
    text = log.read_text()
    assert "retrying" in text  # the log did say something
    assert config["refresh_token"] not in text and CLIENT_SECRET not in text


def test_refused_credentials_name_the_real_login_command(emu: DriveEmulator) -> None:
    """A revoked refresh token says how to get a new one with a command that exists."""
    config = drive_config(emu)
    emu.tokens.revoke(config["refresh_token"])
    with PluginProcess(plugin_argv("gdrive", "importer")) as proc:
        client = ImporterClient(proc)
        client.init(config, proto="gdrive")
        with pytest.raises(grpc.RpcError) as ei:
            client.ping()
        client.close()
    details = ei.value.details() or ""
    assert "Google refused the credentials" in details, details
    assert "`klosetctl login gdrive --client-id ID --client-secret SECRET`" in details, details
    assert "(gdrive login)" not in details


#: A secret with every character the two Basic encodings disagree on: space, `+`, `%`, `:`.
ODD_SECRET = "GOCSPX-a b+c%41:d/e="


def _basic(client_id: str, secret: str, form_encoded: bool) -> dict[str, str]:
    import base64
    from urllib.parse import quote_plus

    if form_encoded:  # RFC 6749 §2.3.1, as Go's oauth2 sends it
        client_id, secret = quote_plus(client_id), quote_plus(secret)
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": "Basic " + raw}


def test_token_exchange_with_http_basic(
    emu: DriveEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The emulator takes the client secret in the form body or with HTTP Basic (raw, as
    requests-oauthlib sends it, or form-encoded, as RFC 6749 asks), as Google does: an
    authorization code exchanged with Basic, then refreshes in all three ways."""
    from requests.auth import HTTPBasicAuth
    from requests_oauthlib import OAuth2Session

    client_id = "odd-client.apps.googleusercontent.com"
    emu.tokens.clients[client_id] = ODD_SECRET
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the emulator speaks http
    session = OAuth2Session(
        client_id, redirect_uri="http://127.0.0.1:1/", scope=[SCOPE_DRIVE], state="s"
    )
    url, _ = session.authorization_url(emu.url + "o/oauth2/auth", access_type="offline")
    token = session.fetch_token(
        emu.token_uri,
        authorization_response=consent(url),
        auth=HTTPBasicAuth(client_id, ODD_SECRET),  # Basic, secret not in the body
        include_client_id=False,
    )
    refresh = token["refresh_token"]

    def grant(headers: dict[str, str], body: dict[str, str]) -> requests.Response:
        form = {"grant_type": "refresh_token", "refresh_token": refresh, **body}
        return requests.post(emu.token_uri, data=form, headers=headers, timeout=30)

    for form_encoded in (False, True):
        answer = grant(_basic(client_id, ODD_SECRET, form_encoded), {})
        assert answer.status_code == 200, (form_encoded, answer.text)
        assert answer.json()["access_token"]
    answer = grant({}, {"client_id": client_id, "client_secret": ODD_SECRET})
    assert answer.status_code == 200, answer.text
    wrong = grant(_basic(client_id, ODD_SECRET + "x", True), {})
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
