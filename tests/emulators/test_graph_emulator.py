"""The Graph emulator behaves like Microsoft Graph for the real msal and requests clients.

These tests pin the behaviours the onedrive connector relies on (auth flows, paging, delta,
upload sessions, throttling), so a connector bug can't hide behind an emulator shortcut.
"""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.emulators.graph import FRAGMENT_UNIT, GraphEmulator, QuickXorHash, quickxor_b64
from tests.emulators.graph.quickxor import quickxor_reference

SCOPES = ["Files.ReadWrite.All"]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def emu() -> Iterator[GraphEmulator]:
    with GraphEmulator(auto_approve_device=True, device_interval=1) as e:
        yield e


def _session(emu: GraphEmulator, token: str | None = None) -> requests.Session:
    s = emu.msal_http_client()
    if token:
        s.headers["Authorization"] = f"Bearer {token}"
    return s


def _user_token(emu: GraphEmulator, app=None) -> tuple[object, str]:
    app = app or emu.msal_app()
    flow = app.initiate_device_flow(scopes=SCOPES)
    result = app.acquire_token_by_device_flow(flow)
    assert "access_token" in result, result
    return app, result["access_token"]


@pytest.fixture
def graph(emu: GraphEmulator) -> requests.Session:
    """A requests session carrying a delegated (device-flow) token."""
    return _session(emu, _user_token(emu)[1])


# ---------------------------------------------------------------------------- quickXorHash


@pytest.mark.parametrize(
    ("data_b64", "expected"),
    [
        ("", "AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        ("Sg==", "SgAAAAAAAAAAAAAAAQAAAAAAAAA="),
        ("tbQ=", "taAFAAAAAAAAAAAAAgAAAAAAAAA="),
        ("2fuxhBJXtpWFe8dOfdGeHw==", "O9tHLAghgSvYohKFyMMxnNCHaHg="),
        ("T6LYJIfDh81JrAK309H2JMJTXis=", "zBTHrspn3mEcohlJdIUAbjGNaNg="),
        (
            "PfxMcUd0vIW6VbHG/uj/Y0W6qEoKmyBD0nYebEKazKaKG+UaDqBEcmQjbfQeVnVLuodMoPp7P7TR"
            "1htX5n2VnkHh22xDyoJ8C/ZQKiSNqQfXvh83judf4RVr9exJCud8Uvgip6aVZTaPrJHVjQhMCp/d"
            "EnGvqg0oN5OVkM2qqAXvA0teKUDhgNM71sDBVBCGXxNOR2bpbD1iM4dnuT0ey4L+loXEHTL0fqMe"
            "UcEi2asgImnlNakwenDzz0x57aBwyq3AspCFGB1ncX4yYCr/OaCcS5OKi/00WH+wNQU3",
            "QX/YEpG0gDsmhEpCdWhsxDzsfVE=",
        ),
    ],
)
def test_quickxor_known_vectors(data_b64: str, expected: str) -> None:
    data = base64.b64decode(data_b64)
    assert quickxor_b64(data) == expected
    assert base64.b64encode(quickxor_reference(data)).decode() == expected


def test_quickxor_fast_path_matches_reference_and_chunking() -> None:
    for size in (159, 160, 161, 163_839, 163_840, 163_841, 400_001):
        data = os.urandom(size)
        h = QuickXorHash()
        for i in range(0, size, 7_777):
            h.update(data[i : i + 7_777])
        assert h.digest() == quickxor_reference(data) == QuickXorHash(data).digest()


# ---------------------------------------------------------------------------- auth


def test_client_credentials_token(emu: GraphEmulator) -> None:
    app = emu.msal_app(confidential=True)
    result = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
    assert result["token_type"] == "Bearer" and "refresh_token" not in result
    s = _session(emu, result["access_token"])
    r = s.get(f"{emu.graph_url}/drives/{emu.default_drive_id}/root/children")
    assert r.status_code == 200 and r.json()["value"] == []
    r = s.get(f"{emu.graph_url}/me/drive")  # app-only tokens have no /me
    assert r.status_code == 400 and "delegated" in r.json()["error"]["message"]

    import msal

    wrong = msal.ConfidentialClientApplication(
        emu.client_id,
        client_credential="wrong-secret",
        authority=emu.authority_url,
        instance_discovery=False,
        http_client=emu.msal_http_client(),
    )
    err = wrong.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
    assert err["error"] == "invalid_client" and "AADSTS7000215" in err["error_description"]


def test_device_flow_silent_and_refresh_after_expiry(emu: GraphEmulator) -> None:
    app, token = _user_token(emu)
    accounts = app.get_accounts()
    assert [a["username"] for a in accounts] == ["alice@contoso.example"]
    assert _session(emu, token).get(f"{emu.graph_url}/me/drive").status_code == 200

    emu.expire_tokens()
    r = _session(emu, token).get(f"{emu.graph_url}/me/drive/root")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert "WWW-Authenticate" in r.headers

    tokens_before = emu.stats["token"]
    result = app.acquire_token_silent(SCOPES, account=accounts[0], force_refresh=True)
    assert result and result["access_token"] != token
    assert emu.stats["token"] == tokens_before + 1
    assert _session(emu, result["access_token"]).get(f"{emu.graph_url}/me").status_code == 200

    # Short-lived tokens (< 5 min) make msal refresh on its own without force_refresh.
    emu.auth.access_token_lifetime = 120
    first = app.acquire_token_silent(SCOPES, account=accounts[0], force_refresh=True)
    again = app.acquire_token_silent(SCOPES, account=accounts[0])
    assert again["access_token"] != first["access_token"]


def test_device_flow_waits_for_approval() -> None:
    with GraphEmulator(device_interval=1) as emu:
        app = emu.msal_app()
        flow = app.initiate_device_flow(scopes=SCOPES)
        assert flow["interval"] == 1 and flow["user_code"] in flow["message"]

        def user_approves_after_first_poll() -> None:
            deadline = time.monotonic() + 10
            while emu.stats["token"] < 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            emu.approve_device_code(flow["user_code"])

        approver = threading.Thread(target=user_approves_after_first_poll)
        approver.start()
        result = app.acquire_token_by_device_flow(flow)
        approver.join()
        assert "access_token" in result
        assert emu.stats["token"] >= 2  # at least one authorization_pending poll
        assert emu.stats["status_400"] >= 1


def test_revoked_refresh_token_reports_inactivity(emu: GraphEmulator) -> None:
    app, _ = _user_token(emu)
    emu.revoke_refresh_tokens()
    account = app.get_accounts()[0]
    result = app.acquire_token_silent_with_error(SCOPES, account=account, force_refresh=True)
    assert result["error"] == "invalid_grant"
    assert "AADSTS700082" in result["error_description"]
    assert "inactivity" in result["error_description"]


@pytest.mark.filterwarnings("ignore:response_mode:UserWarning")
def test_auth_code_loopback_flow(emu: GraphEmulator) -> None:
    app = emu.msal_app()
    flow = app.initiate_auth_code_flow(SCOPES, redirect_uri="http://localhost:53682")
    r = emu.msal_http_client().get(flow["auth_uri"], allow_redirects=False)
    assert r.status_code == 302
    location = urlsplit(r.headers["Location"])
    assert location.netloc == "localhost:53682"
    auth_response = {k: v[0] for k, v in parse_qs(location.query).items()}
    result = app.acquire_token_by_auth_code_flow(flow, auth_response)
    assert "access_token" in result, result
    assert result["id_token_claims"]["preferred_username"] == "alice@contoso.example"
    again = app.acquire_token_by_auth_code_flow(flow, auth_response)  # codes are single-use
    assert "error" in again


def test_interactive_loopback_with_form_post(monkeypatch: pytest.MonkeyPatch) -> None:
    import webbrowser

    with GraphEmulator(http_listener=True) as emu:
        monkeypatch.setattr(webbrowser, "open", emu.browser_opener())
        result = emu.msal_app().acquire_token_interactive(SCOPES, timeout=20)
        assert "access_token" in result, result
        emu.add_file("/a.txt", b"abc")
        plain = requests.Session()  # the optional plain-HTTP Graph listener
        plain.headers["Authorization"] = f"Bearer {result['access_token']}"
        assert plain.get(f"{emu.http_graph_url}/me/drive/root:/a.txt:/content").content == b"abc"


# ---------------------------------------------------------------------------- listing


def test_children_paging_over_250_items(emu: GraphEmulator, graph: requests.Session) -> None:
    for i in range(250):
        emu.add_file(f"/many/file-{i:03d}.txt", b"x" * (i % 7))
    url: str | None = f"{emu.graph_url}/me/drive/root:/many:/children?$top=100&$select=id,name"
    names: list[str] = []
    pages = 0
    while url:
        body = graph.get(url).json()
        pages += 1
        names += [v["name"] for v in body["value"]]
        assert all(set(v) <= {"id", "name"} for v in body["value"])
        url = body.get("@odata.nextLink")
        assert url is None or url.startswith(emu.graph_url)
    assert pages == 3 and len(names) == 250 and len(set(names)) == 250
    assert emu.stats["children"] == 3


def test_path_addressing_and_errors(emu: GraphEmulator, graph: requests.Session) -> None:
    folder_id = emu.add_folder("/Docs/Sub")
    file_id = emu.add_file("/Docs/Sub/Report 2024.txt", b"hello")
    g = emu.graph_url
    assert graph.get(f"{g}/me/drive/root:/Docs/Sub/Report%202024.txt:").json()["id"] == file_id
    assert graph.get(f"{g}/me/drive/root:/docs/SUB/report 2024.TXT").json()["id"] == file_id
    assert graph.get(f"{g}/me/drive/items/{folder_id}:/Report 2024.txt:").json()["id"] == file_id
    kids = graph.get(f"{g}/me/drive/root:/Docs:/children").json()["value"]
    assert [k["name"] for k in kids] == ["Sub"] and kids[0]["folder"]["childCount"] == 1
    item = graph.get(f"{g}/drives/{emu.default_drive_id}/items/{file_id}").json()
    assert item["parentReference"]["path"] == "/drive/root:/Docs/Sub"
    assert item["file"]["hashes"]["quickXorHash"] == quickxor_b64(b"hello")
    assert item["file"]["hashes"]["sha256Hash"] == hashlib.sha256(b"hello").hexdigest().upper()
    missing = graph.get(f"{g}/me/drive/root:/Docs/nope.txt:")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "itemNotFound"
    assert "request-id" in missing.json()["error"]["innerError"]
    assert graph.get(f"{g}/me/drive/root:/{'x' * 401}:/content").status_code == 404
    long_put = graph.put(f"{g}/me/drive/root:/{'x' * 401}:/content", data=b"1")
    assert long_put.status_code == 400
    bad_name = graph.put(f"{g}/me/drive/root:/a%3Fb.txt:/content", data=b"1")
    assert bad_name.status_code == 400


def test_case_insensitive_name_conflicts(emu: GraphEmulator, graph: requests.Session) -> None:
    url = f"{emu.graph_url}/me/drive/root/children"
    assert graph.post(url, json={"name": "Photos", "folder": {}}).status_code == 201
    dup = graph.post(url, json={"name": "photos", "folder": {}})
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "nameAlreadyExists"
    renamed = graph.post(
        url, json={"name": "PHOTOS", "folder": {}, "@microsoft.graph.conflictBehavior": "rename"}
    )
    assert renamed.status_code == 201 and renamed.json()["name"] == "PHOTOS 1"
    replaced = graph.post(
        url, json={"name": "photos", "folder": {}, "@microsoft.graph.conflictBehavior": "replace"}
    )
    assert replaced.status_code == 201
    assert sorted(n for n in emu.tree()) == ["/PHOTOS 1", "/photos"]
    fail_put = graph.put(
        f"{emu.graph_url}/me/drive/root:/PhOtOs:/content?@microsoft.graph.conflictBehavior=fail",
        data=b"x",
    )
    assert fail_put.status_code == 409


# ---------------------------------------------------------------------------- content


def test_download_url_redirect_and_range(emu: GraphEmulator, graph: requests.Session) -> None:
    data = os.urandom(100_000)
    file_id = emu.add_file("/blob.bin", data)
    item = graph.get(f"{emu.graph_url}/me/drive/items/{file_id}").json()
    url = item["@microsoft.graph.downloadUrl"]
    anon = _session(emu)  # pre-authenticated: no bearer token
    r = anon.get(url, headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == data[10:20]
    assert r.headers["Content-Range"] == "bytes 10-19/100000"
    assert anon.get(url, headers={"Range": "bytes=-5"}).content == data[-5:]
    assert anon.get(url, headers={"Range": "bytes=200000-"}).status_code == 416
    assert anon.get(url).content == data
    redirect = graph.get(f"{emu.graph_url}/me/drive/items/{file_id}/content", allow_redirects=False)
    assert redirect.status_code == 302 and "tempauth=" in redirect.headers["Location"]
    assert graph.get(f"{emu.graph_url}/me/drive/root:/blob.bin:/content").content == data
    assert anon.get(url.replace("tempauth=", "tempauth=1")).status_code == 401
    assert emu.stats["download"] == 6 and emu.stats["download_range"] == 2


def test_simple_upload_and_versions(emu: GraphEmulator, graph: requests.Session) -> None:
    url = f"{emu.graph_url}/me/drive/root:/up/new.bin:/content"
    first = graph.put(url, data=b"a" * 1000)
    assert first.status_code == 201
    assert first.json()["file"]["hashes"]["quickXorHash"] == quickxor_b64(b"a" * 1000)
    second = graph.put(url, data=b"b" * 10)
    assert second.status_code == 200 and second.json()["id"] == first.json()["id"]
    assert emu.get_content("/up/new.bin") == b"b" * 10 and emu.stats["versions"] == 1
    too_big = graph.put(url, data=b"c" * (4 * 1024 * 1024 + 1))
    assert too_big.status_code == 413
    mtime = "2021-05-06T07:08:09Z"
    patched = graph.patch(
        f"{emu.graph_url}/me/drive/items/{first.json()['id']}",
        json={"fileSystemInfo": {"lastModifiedDateTime": mtime}},
    )
    assert patched.json()["fileSystemInfo"]["lastModifiedDateTime"] == mtime
    assert emu.stats["versions"] == 2
    versions = graph.get(f"{emu.graph_url}/me/drive/root:/up/new.bin:/versions").json()
    assert len(versions["value"]) == 3


def test_upload_session_fragments_resend_and_status(
    emu: GraphEmulator, graph: requests.Session
) -> None:
    data = os.urandom(5 * 1024 * 1024)
    mtime = "2020-01-02T03:04:05Z"
    created = graph.post(
        f"{emu.graph_url}/me/drive/root:/big/data.bin:/createUploadSession",
        json={
            "item": {
                "@microsoft.graph.conflictBehavior": "fail",
                "fileSystemInfo": {"lastModifiedDateTime": mtime},
            }
        },
    ).json()
    assert created["nextExpectedRanges"] == ["0-"]
    up = created["uploadUrl"]
    anon = _session(emu)
    frag = 4 * FRAGMENT_UNIT  # 1.25 MiB
    total = len(data)

    def put(start: int, end: int) -> requests.Response:
        return anon.put(
            up,
            data=data[start : end + 1],
            headers={"Content-Range": f"bytes {start}-{end}/{total}"},
        )

    r = put(0, frag - 1)
    assert r.status_code == 202 and r.json()["nextExpectedRanges"] == [f"{frag}-"]
    assert put(0, frag - 1).status_code == 416  # already received
    odd = anon.put(
        up, data=b"x" * 1000, headers={"Content-Range": f"bytes {frag}-{frag + 999}/{total}"}
    )
    assert odd.status_code == 400  # not a multiple of 320 KiB
    with_auth = graph.put(
        up,
        data=data[frag : 2 * frag],
        headers={"Content-Range": f"bytes {frag}-{2 * frag - 1}/{total}"},
    )
    assert with_auth.status_code == 401  # upload URLs must not get a bearer token
    status = anon.get(up).json()
    assert status["nextExpectedRanges"] == [f"{frag}-"]
    pos = frag
    while pos < total:
        end = min(pos + frag, total) - 1
        r = put(pos, end)
        pos = end + 1
    assert r.status_code == 201
    item = r.json()
    assert item["size"] == total
    assert item["fileSystemInfo"]["lastModifiedDateTime"] == mtime
    assert item["file"]["hashes"]["quickXorHash"] == quickxor_b64(data)
    assert emu.get_content("/big/data.bin") == data
    info = emu.upload_sessions()[0]
    assert info["state"] == "completed" and info["received"] == [(0, total - 1)]
    statuses = [f[2] for f in info["fragments"]]
    assert statuses.count(416) == 1 and statuses[-1] == 201
    # The resend counts; fragments refused on their headers (size, bearer) were never read.
    assert info["bytes_received"] == total + frag
    assert emu.stats["versions"] == 0
    assert anon.get(up).status_code == 404  # finished sessions are gone

    again = graph.post(
        f"{emu.graph_url}/me/drive/root:/big/data.bin:/createUploadSession",
        json={"item": {"@microsoft.graph.conflictBehavior": "fail"}},
    )
    assert again.status_code == 409
    other = graph.post(f"{emu.graph_url}/me/drive/root:/big/other.bin:/createUploadSession")
    cancel_url = other.json()["uploadUrl"]
    assert anon.delete(cancel_url).status_code == 204
    assert anon.get(cancel_url).status_code == 404


def test_upload_drop_mid_fragment_then_resume(emu: GraphEmulator, graph: requests.Session) -> None:
    data = os.urandom(3 * FRAGMENT_UNIT)
    up = graph.post(f"{emu.graph_url}/me/drive/root:/resume.bin:/createUploadSession").json()[
        "uploadUrl"
    ]
    anon = _session(emu)
    emu.faults.drop_upload_after_bytes = FRAGMENT_UNIT + 1000
    first = anon.put(
        up,
        data=data[:FRAGMENT_UNIT],
        headers={"Content-Range": f"bytes 0-{FRAGMENT_UNIT - 1}/{len(data)}"},
    )
    assert first.status_code == 202
    with pytest.raises(requests.ConnectionError):
        anon.put(
            up,
            data=data[FRAGMENT_UNIT:],
            headers={"Content-Range": f"bytes {FRAGMENT_UNIT}-{len(data) - 1}/{len(data)}"},
        )
    assert anon.get(up).json()["nextExpectedRanges"] == [f"{FRAGMENT_UNIT}-"]
    done = anon.put(
        up,
        data=data[FRAGMENT_UNIT:],
        headers={"Content-Range": f"bytes {FRAGMENT_UNIT}-{len(data) - 1}/{len(data)}"},
    )
    assert done.status_code == 201 and emu.get_content("/resume.bin") == data
    assert emu.stats["faults_upload_drop"] == 1


# ---------------------------------------------------------------------------- delta


def _drain_delta(graph: requests.Session, url: str) -> tuple[list[dict], str]:
    """Follow nextLinks to the end; returns (items, deltaLink)."""
    seen: list[dict] = []
    next_url: str | None = url
    while next_url:
        body = graph.get(next_url).json()
        seen += body["value"]
        next_url = body.get("@odata.nextLink")
        if next_url is None:
            return seen, body["@odata.deltaLink"]
    raise AssertionError("unreachable")


def test_delta_changes_and_resync(emu: GraphEmulator, graph: requests.Session) -> None:
    for i in range(5):
        emu.add_file(f"/d/f{i}.txt", b"%d" % i)
    keep = emu.add_file("/d/keep.txt", b"keep")
    gone = emu.add_file("/d/gone.txt", b"gone")
    seen, delta_link = _drain_delta(graph, f"{emu.graph_url}/me/drive/root/delta?$top=3")
    assert len(seen) == 9 and "root" in seen[0]  # root, /d, 7 files
    assert all("path" not in v["parentReference"] for v in seen)
    assert "token=" in delta_link

    new_id = graph.put(f"{emu.graph_url}/me/drive/root:/d/new.txt:/content", data=b"n").json()["id"]
    emu.rename(keep, "kept.txt")
    emu.delete("/d/gone.txt")
    changes, delta_link = _drain_delta(graph, delta_link)
    files = {v["id"]: v for v in changes if "folder" not in v or "deleted" in v}
    assert set(files) == {new_id, keep, gone}
    assert files[keep]["name"] == "kept.txt"
    assert files[gone]["deleted"] == {"state": "deleted"}
    folders = {v["id"] for v in changes if "folder" in v and "deleted" not in v}
    assert folders <= {emu.item_id("/"), emu.item_id("/d")}  # changed ancestors only

    assert _drain_delta(graph, delta_link)[0] == []
    latest = graph.get(f"{emu.graph_url}/me/drive/root/delta?token=latest").json()
    assert latest["value"] == [] and "@odata.deltaLink" in latest

    emu.invalidate_delta_tokens()
    r = graph.get(delta_link)
    assert r.status_code == 410 and r.json()["error"]["code"] == "resyncRequired"
    assert graph.get(f"{emu.graph_url}/me/drive/root/delta?token=garbage").status_code == 410


# ---------------------------------------------------------------------------- faults


def test_throttling_with_retry_after(emu: GraphEmulator, graph: requests.Session) -> None:
    url = f"{emu.graph_url}/me/drive/root"
    emu.faults.throttle_ratio = 1.0
    emu.faults.retry_after = 3
    r = graph.get(url)
    assert r.status_code == 429 and r.headers["Retry-After"] == "3"
    assert r.json()["error"]["code"] == "activityLimitReached"
    _user_token(emu)  # token endpoints are exempt unless faults.include_auth
    emu.faults.omit_retry_after = True
    assert "Retry-After" not in graph.get(url).headers
    emu.faults.reset()
    emu.faults.fail_next(503, count=2, kinds=("item",), retry_after=7)
    first, second = graph.get(url), graph.get(url)
    assert (first.status_code, first.headers["Retry-After"]) == (503, "7")
    assert second.status_code == 503 and graph.get(url).status_code == 200
    assert emu.stats["faults_429"] == 2 and emu.stats["faults_503"] == 2

    emu.faults.drop_next(1, kinds=("item",))
    with pytest.raises(requests.ConnectionError):
        graph.get(url)
    file_id = emu.add_file("/t.bin", os.urandom(50_000))
    dl = graph.get(f"{emu.graph_url}/me/drive/items/{file_id}").json()
    dl = dl["@microsoft.graph.downloadUrl"]
    emu.faults.truncate_next()
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        _session(emu).get(dl)
    emu.faults.insufficient_storage = True
    full = graph.put(f"{emu.graph_url}/me/drive/root:/x.bin:/content", data=b"x")
    assert full.status_code == 507 and full.json()["error"]["code"] == "quotaLimitReached"


def test_onenote_vault_and_sharepoint(emu: GraphEmulator, graph: requests.Session) -> None:
    emu.add_onenote("/Notebooks/Work")
    vault = emu.add_vault()
    kids = graph.get(f"{emu.graph_url}/me/drive/root:/Notebooks:/children").json()["value"]
    assert kids[0]["package"] == {"type": "oneNote"} and "folder" not in kids[0]
    item = graph.get(f"{emu.graph_url}/me/drive/items/{vault}").json()
    assert item["specialFolder"] == {"name": "vault"}
    locked = graph.get(f"{emu.graph_url}/me/drive/items/{vault}/children")
    assert locked.status_code == 403

    drive_id = emu.add_drive("documentLibrary")
    site_id = emu.site_id_of(drive_id)
    emu.add_file("/Shared/plan.txt", b"plan", drive_id=drive_id)
    drive = graph.get(f"{emu.graph_url}/sites/{site_id}/drive").json()
    assert drive["id"] == drive_id and drive["driveType"] == "documentLibrary"
    item = graph.get(f"{emu.graph_url}/drives/{drive_id}/root:/shared/PLAN.txt:").json()
    assert item["parentReference"]["driveId"] == drive_id
    assert set(item["file"]["hashes"]) == {"quickXorHash"}  # SharePoint: quickXorHash only


def test_patch_move_delete(emu: GraphEmulator, graph: requests.Session) -> None:
    file_id = emu.add_file("/a/x.txt", b"x")
    dest = emu.add_folder("/b")
    url = f"{emu.graph_url}/me/drive/items/{file_id}"
    moved = graph.patch(url, json={"parentReference": {"id": dest}, "name": "y.txt"})
    assert moved.status_code == 200
    assert moved.json()["parentReference"]["path"] == "/drive/root:/b"
    assert emu.tree()["/b/y.txt"] == b"x"
    stale = graph.delete(url, headers={"If-Match": '"{nope},1"'})
    assert stale.status_code == 412
    assert graph.delete(url).status_code == 204
    assert graph.get(url).status_code == 404


def test_quota_expired_urls_and_exact_delta(emu: GraphEmulator, graph: requests.Session) -> None:
    file_id = emu.add_file("/q.bin", b"q" * 1000)
    dl = graph.get(f"{emu.graph_url}/me/drive/items/{file_id}").json()
    emu.expire_download_urls()
    assert _session(emu).get(dl["@microsoft.graph.downloadUrl"]).status_code == 401

    emu.set_quota(1500)
    drive = graph.get(f"{emu.graph_url}/me/drive").json()
    assert drive["quota"]["used"] == 1000 and drive["quota"]["remaining"] == 500
    over = graph.put(f"{emu.graph_url}/me/drive/root:/big.bin:/content", data=b"b" * 600)
    assert over.status_code == 507

    emu.delta_include_ancestors = False
    emu.add_file("/old/x0.txt", b"0")
    _, link = _drain_delta(graph, f"{emu.graph_url}/me/drive/root/delta?token=latest")
    sub = emu.add_folder("/x/y")
    emu.add_file("/x/y/z.txt", b"z")
    emu.delete("/old/x0.txt")
    changes, _ = _drain_delta(graph, link)
    assert [c["name"] for c in changes] == ["x", "y", "z.txt", "x0.txt"]
    assert changes[2]["parentReference"]["id"] == sub and "deleted" in changes[3]


def test_concurrent_clients(emu: GraphEmulator, graph: requests.Session) -> None:
    token = graph.headers["Authorization"]
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            s = _session(emu)
            s.headers["Authorization"] = token
            for i in range(10):
                url = f"{emu.graph_url}/me/drive/root:/w{n}/f{i}.txt:/content"
                assert s.put(url, data=b"%d" % i).status_code == 201
            kids = s.get(f"{emu.graph_url}/me/drive/root:/w{n}:/children").json()["value"]
            assert len(kids) == 10
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert emu.stats["upload_simple"] == 60 and len(emu.tree()) == 66


def test_main_prints_ready_and_stops_on_sigterm() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.emulators.graph", "--seed", "sample"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        assert line[0] == "READY", line
        graph_url, authority, ca = line[1:4]
        s = requests.Session()
        s.trust_env = False
        s.verify = ca
        cfg = s.get(f"{authority}/v2.0/.well-known/openid-configuration").json()
        assert cfg["token_endpoint"].startswith(authority)
        assert graph_url.endswith("/v1.0")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
