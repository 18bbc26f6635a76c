"""The Drive emulator, driven by the real google-api-python-client and google-auth.

These tests pin the emulator's faithfulness to Drive v3, since the gdrive connector's tests
trust it: paging, queries, ranged media, export limits, uploads, changes, auth and faults.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaIoBaseDownload, MediaIoBaseUpload

from tests.emulators.drive import DRIVE_SCOPE, EXPORT_LIMIT, DriveEmulator

KIB256 = 256 * 1024
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture
def emu() -> Iterator[DriveEmulator]:
    with DriveEmulator() as emulator:
        yield emulator
        assert emulator.internal_errors == []


@pytest.fixture
def service(emu: DriveEmulator) -> Any:
    return emu.build_service()


def reason(err: HttpError) -> str:
    return str(json.loads(err.content)["error"]["errors"][0]["reason"])


def raw(emu: DriveEmulator) -> requests.Session:
    """A plain HTTP session with a valid bearer token, to look at headers and statuses."""
    session = requests.Session()
    session.trust_env = False
    session.headers["Authorization"] = "Bearer " + emu.issue_access_token()
    return session


def list_all(service: Any, **params: Any) -> list[dict[str, Any]]:
    files: list[dict[str, Any]] = []
    token = None
    while True:
        page = service.files().list(pageToken=token, **params).execute()
        files.extend(page["files"])
        token = page.get("nextPageToken")
        if not token:
            return files


def run_upload(request: Any) -> dict[str, Any]:
    response = None
    while response is None:
        _, response = request.next_chunk()
    return dict(response)


# -- listing ---------------------------------------------------------------------------------


def test_paging_through_more_than_1000_files(emu: DriveEmulator, service: Any) -> None:
    folder = emu.add_folder("many")
    ids = {emu.add_file(f"f{i:05d}", b"x", folder) for i in range(1203)}
    fields = "nextPageToken, files(id, name)"
    q = f"'{folder}' in parents"
    big = list_all(service, q=q, pageSize=1000, fields=fields)
    assert {f["id"] for f in big} == ids
    assert [f["name"] for f in big] == sorted(f["name"] for f in big)
    assert emu.stats["list"] == 2
    default_pages = list_all(service, q=q, fields=fields)  # pageSize defaults to 100
    assert [f["id"] for f in default_pages] == [f["id"] for f in big]
    assert emu.stats["list"] == 2 + 13
    with pytest.raises(HttpError) as exc:
        service.files().list(q=q, pageSize=1001).execute()
    assert exc.value.resp.status == 400


def test_fields_are_honoured(emu: DriveEmulator, service: Any) -> None:
    for i in range(3):
        emu.add_file(f"f{i}", b"abc")
    page = service.files().list(pageSize=2, fields="files(id,bogusField)").execute()
    assert set(page) == {"files"}  # no nextPageToken unless asked for, as on Drive
    assert all(set(f) == {"id"} for f in page["files"])
    default = service.files().list(pageSize=2).execute()
    assert set(default["files"][0]) == {"kind", "id", "name", "mimeType"}
    assert "nextPageToken" in default
    full = service.files().get(fileId=page["files"][0]["id"], fields="*").execute()
    assert full["size"] == "3" and full["md5Checksum"] == hashlib.md5(b"abc").hexdigest()
    assert full["modifiedTime"].endswith("Z") and len(full["id"]) == 33
    assert service.files().get(fileId="root", fields="id").execute() == {"id": emu.root_id}


def test_query_filters(emu: DriveEmulator, service: Any) -> None:
    a, b, c = (emu.add_folder(n) for n in ("a", "b", "c"))
    emu.add_file("it's.txt", b"1", a, "text/plain")
    emu.add_file("x.bin", b"2", b)
    emu.add_file("y.bin", b"3", c)
    gone = emu.add_file("gone.txt", b"4", a, "text/plain")
    emu.trash(gone)
    emu.add_folder("sub", a)
    shared = emu.share_with_me("from-bob.txt", b"hi", "text/plain")

    def names(q: str) -> list[str]:
        return [f["name"] for f in list_all(service, q=q, fields="nextPageToken,files(name)")]

    assert names(f"('{a}' in parents or '{b}' in parents) and trashed = false") == [
        "it's.txt",
        "sub",
        "x.bin",
    ]
    assert names(f"'{a}' in parents") == ["gone.txt", "it's.txt", "sub"]  # trashed included
    assert names(f"'{a}' in parents and trashed = true") == ["gone.txt"]
    assert names("name = 'it\\'s.txt'") == ["it's.txt"]
    assert names("mimeType = 'text/plain' and trashed = false") == ["from-bob.txt", "it's.txt"]
    folders = "mimeType = 'application/vnd.google-apps.folder'"
    assert names(folders) == ["a", "b", "c", "sub"]
    assert names(f"'{a}' in parents and mimeType != 'application/vnd.google-apps.folder'") == [
        "gone.txt",
        "it's.txt",
    ]
    assert names("sharedWithMe") == ["from-bob.txt"]
    assert names("sharedWithMe = true and name contains 'bob'") == ["from-bob.txt"]
    assert shared not in {f["id"] for f in list_all(service, q="'root' in parents")}
    with pytest.raises(HttpError) as exc:
        service.files().list(q="name ~ 'x'").execute()
    assert exc.value.resp.status == 400 and reason(exc.value) == "invalid"


def test_shared_drive_listing(emu: DriveEmulator, service: Any) -> None:
    drive = emu.add_shared_drive("Team")
    folder = emu.add_folder("docs", drive_id=drive)
    inside = emu.add_file("plan.txt", b"team", folder)
    emu.add_file("mine.txt", b"me")
    drives = service.drives().list().execute()["drives"]
    assert [(d["id"], d["name"]) for d in drives] == [(drive, "Team")]
    files = list_all(
        service,
        corpora="drive",
        driveId=drive,
        includeItemsFromAllDrives=True,
        supportsAllDrives=True,
        fields="nextPageToken,files(id,name,driveId,parents)",
    )
    assert {f["name"] for f in files} == {"docs", "plan.txt"}
    assert all(f["driveId"] == drive for f in files)
    user_corpus = {f["name"] for f in list_all(service, q="trashed = false")}
    assert user_corpus == {"mine.txt"}  # shared drive items need includeItemsFromAllDrives
    with pytest.raises(HttpError) as exc:
        service.files().get(fileId=inside).execute()  # without supportsAllDrives
    assert exc.value.resp.status == 404
    meta = service.files().get(fileId=inside, supportsAllDrives=True, fields="driveId").execute()
    assert meta == {"driveId": drive}
    root = service.files().get(fileId=drive, supportsAllDrives=True, fields="name").execute()
    assert root == {"name": "Team"}


# -- content -----------------------------------------------------------------------------------


def test_media_download_and_ranges(emu: DriveEmulator, service: Any) -> None:
    data = os.urandom(3 * 1024 * 1024 + 5)
    fid = emu.add_file("big.bin", data)
    buf = io.BytesIO()
    downloader = MediaIoBaseDownload(buf, service.files().get_media(fileId=fid), chunksize=1 << 20)
    done = False
    while not done:
        _, done = downloader.next_chunk()
    assert buf.getvalue() == data
    assert emu.stats["media"] == 4 and emu.stats["bytes_sent"] == len(data)
    assert [r.range for r in emu.request_log if r.kind == "media"][-1] == "bytes=3145728-4194303"

    emu.reset_stats()
    http = raw(emu)
    url = f"{emu.url}drive/v3/files/{fid}?alt=media"
    part = http.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == data[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    tail = http.get(url, headers={"Range": f"bytes={len(data) - 3}-"})
    assert tail.status_code == 206 and tail.content == data[-3:]
    assert http.get(url, headers={"Range": f"bytes={len(data)}-"}).status_code == 416
    assert emu.stats["bytes_sent"] == 13

    empty = emu.add_file("empty", b"")
    out = io.BytesIO()
    done = False
    downloader = MediaIoBaseDownload(out, service.files().get_media(fileId=empty))
    while not done:
        _, done = downloader.next_chunk()
    assert out.getvalue() == b""

    doc = emu.add_doc("notes")
    with pytest.raises(HttpError) as exc:
        service.files().get_media(fileId=doc).execute()
    assert exc.value.resp.status == 403 and reason(exc.value) == "fileNotDownloadable"


def test_export_limit_and_export_links(emu: DriveEmulator, service: Any) -> None:
    small = emu.add_doc("small", "document", export_size=1234)
    assert service.files().export(fileId=small, mimeType=DOCX).execute() == emu.export_content(
        small, DOCX
    )
    big = emu.add_doc("big", "spreadsheet", export_size=EXPORT_LIMIT + 1)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    with pytest.raises(HttpError) as exc:
        service.files().export(fileId=big, mimeType=xlsx).execute()
    assert exc.value.resp.status == 403 and reason(exc.value) == "exportSizeLimitExceeded"

    meta = service.files().get(fileId=big, fields="exportLinks").execute()
    link = meta["exportLinks"][xlsx]
    assert link.startswith(emu.url)
    assert requests.get(link).status_code == 401  # export links need the bearer token
    creds = emu.credentials()
    body = AuthorizedSession(creds).get(link).content
    assert len(body) == EXPORT_LIMIT + 1 and body == emu.export_content(big, xlsx)
    assert emu.stats["export_link"] == 2 and emu.stats["bytes_sent"] >= EXPORT_LIMIT + 1235


# -- uploads -----------------------------------------------------------------------------------


def test_multipart_create_and_update(emu: DriveEmulator, service: Any) -> None:
    folder = emu.add_folder("dst")
    data = b"line\r\n" * 1000 + b"\r"  # ends in CR: the parser must not eat it
    media = MediaIoBaseUpload(io.BytesIO(data), "text/plain")
    body = {"name": "a.txt", "parents": [folder], "modifiedTime": "2021-05-06T07:08:09.123Z"}
    fields = "id,name,parents,size,md5Checksum,modifiedTime,mimeType"
    made = service.files().create(body=body, media_body=media, fields=fields).execute()
    assert made["parents"] == [folder] and made["size"] == str(len(data))
    assert made["md5Checksum"] == hashlib.md5(data).hexdigest()
    assert made["modifiedTime"] == "2021-05-06T07:08:09.123Z" and made["mimeType"] == "text/plain"
    assert emu.get_content(made["id"]) == data and emu.stats["upload"] == 1

    new = MediaIoBaseUpload(io.BytesIO(b"v2"), "text/plain")
    other = emu.add_folder("other")
    updated = (
        service.files()
        .update(
            fileId=made["id"],
            body={"name": "b.txt"},
            media_body=new,
            addParents=other,
            removeParents=folder,
            fields="name,parents,size",
        )
        .execute()
    )
    assert updated == {"name": "b.txt", "parents": [other], "size": "2"}
    made_folder = (
        service.files()
        .create(body={"name": "f", "mimeType": "application/vnd.google-apps.folder"}, fields="id")
        .execute()
    )
    assert emu.tree()["f/"] == "folder" and emu.item(made_folder["id"]).is_folder


def test_resumable_upload_3mib(emu: DriveEmulator, service: Any) -> None:
    data = os.urandom(3 * 1024 * 1024)
    media = MediaIoBaseUpload(
        io.BytesIO(data), "application/octet-stream", chunksize=4 * KIB256, resumable=True
    )
    request = service.files().create(
        body={"name": "big"}, media_body=media, fields="id,md5Checksum"
    )
    result = run_upload(request)
    assert result["md5Checksum"] == hashlib.md5(data).hexdigest()
    assert emu.get_content(result["id"]) == data
    assert emu.stats["upload"] == 1 and emu.stats["upload_chunk"] == 3
    assert emu.stats["bytes_received"] == len(data)
    assert [r.status for r in emu.request_log if r.kind == "upload_chunk"] == [308, 308, 200]


def test_resumable_protocol_details(emu: DriveEmulator, service: Any) -> None:
    bad = MediaIoBaseUpload(
        io.BytesIO(b"x" * 400_000), "text/plain", chunksize=300_000, resumable=True
    )
    with pytest.raises(HttpError) as exc:
        run_upload(service.files().create(body={"name": "bad"}, media_body=bad))
    assert exc.value.resp.status == 400  # 300,000 is not a multiple of 256 KiB

    http = raw(emu)
    start = http.post(
        emu.url + "upload/drive/v3/files?uploadType=resumable&fields=id,size",
        json={"name": "manual"},
        headers={"X-Upload-Content-Length": str(KIB256 + 10)},
    )
    assert start.status_code == 200
    session = start.headers["Location"]
    probe = http.put(session, headers={"Content-Range": f"bytes */{KIB256 + 10}"})
    assert probe.status_code == 308 and "Range" not in probe.headers
    first = http.put(session, data=b"a" * KIB256, headers={"Content-Range": "bytes 0-262143/*"})
    assert first.status_code == 308 and first.headers["Range"] == "bytes=0-262143"
    last = http.put(
        session,
        data=b"b" * 10,
        headers={"Content-Range": f"bytes {KIB256}-{KIB256 + 9}/{KIB256 + 10}"},
    )
    assert last.status_code == 200 and last.json()["size"] == str(KIB256 + 10)
    again = http.put(session, headers={"Content-Range": f"bytes */{KIB256 + 10}"})
    assert again.status_code == 200 and again.json() == last.json()

    empty = MediaIoBaseUpload(io.BytesIO(b""), "text/plain", chunksize=KIB256, resumable=True)
    made = run_upload(
        service.files().create(body={"name": "zero"}, media_body=empty, fields="size")
    )
    assert made == {"size": "0"}


def test_delete_is_recursive(emu: DriveEmulator, service: Any) -> None:
    top = emu.add_folder("top")
    sub = emu.add_folder("sub", top)
    leaf = emu.add_file("leaf", b"1", sub)
    assert service.files().delete(fileId=top).execute() == ""
    assert [r.status for r in emu.request_log if r.kind == "delete"] == [204]
    for gone in (top, sub, leaf):
        with pytest.raises(HttpError) as exc:
            service.files().get(fileId=gone).execute()
        assert exc.value.resp.status == 404 and reason(exc.value) == "notFound"


# -- changes -----------------------------------------------------------------------------------


def test_changes_api(emu: DriveEmulator, service: Any) -> None:
    keep = emu.add_file("keep.txt", b"1")
    doomed = emu.add_file("doomed.txt", b"2")
    token = service.changes().getStartPageToken().execute()["startPageToken"]
    made = service.files().create(body={"name": "new"}, fields="id").execute()["id"]
    service.files().update(fileId=made, body={"name": "renamed"}).execute()  # same file twice
    service.files().update(fileId=keep, body={"trashed": True}).execute()
    emu.delete(doomed)

    fields = "nextPageToken,newStartPageToken,changes(fileId,removed,file(name,trashed))"
    changes: list[dict[str, Any]] = []
    page_token: str | None = token
    new_start = None
    while page_token:
        page = service.changes().list(pageToken=page_token, pageSize=1, fields=fields).execute()
        changes.extend(page["changes"])
        page_token = page.get("nextPageToken")
        new_start = page.get("newStartPageToken")
    assert changes == [
        {"fileId": made, "removed": False, "file": {"name": "renamed", "trashed": False}},
        {"fileId": keep, "removed": False, "file": {"name": "keep.txt", "trashed": True}},
        {"fileId": doomed, "removed": True},
    ]
    assert new_start == emu.start_page_token
    quiet = service.changes().list(pageToken=new_start).execute()
    assert quiet["changes"] == [] and quiet["newStartPageToken"] == new_start
    no_removed = service.changes().list(pageToken=token, includeRemoved=False).execute()
    assert doomed not in {c["fileId"] for c in no_removed["changes"]}


# -- auth --------------------------------------------------------------------------------------


def test_expired_token_refreshes_transparently(emu: DriveEmulator, service: Any) -> None:
    emu.add_file("a", b"1")
    service.files().list().execute()
    assert emu.stats["token"] == 1
    emu.expire_tokens()
    assert len(service.files().list().execute()["files"]) == 1
    assert emu.stats["unauthorized"] == 1 and emu.stats["token"] == 2
    plain = requests.get(emu.url + "drive/v3/files")
    assert plain.status_code == 401 and plain.json()["error"]["errors"][0]["reason"] == "required"


def test_scopes_service_account_and_login_flow(
    emu: DriveEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    readonly = emu.build_service(emu.credentials([DRIVE_SCOPE + ".readonly"]))
    readonly.files().list().execute()
    with pytest.raises(HttpError) as exc:
        readonly.files().create(body={"name": "x"}).execute()
    assert exc.value.resp.status == 403 and reason(exc.value) == "insufficientPermissions"

    info = emu.service_account_info()
    creds = service_account.Credentials.from_service_account_info(
        info, scopes=[DRIVE_SCOPE], subject="alice@example.com"
    )
    emu.build_service(creds).files().list().execute()
    assert emu.tokens.subjects == ["alice@example.com"]

    from google_auth_oauthlib.flow import InstalledAppFlow

    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the emulator speaks plain HTTP

    class Browser:  # the "user" follows the consent redirect back to the loopback server
        def open(self, url: str, **_: Any) -> bool:
            threading.Thread(target=requests.get, args=(url,), daemon=True).start()
            return True

    monkeypatch.setattr("webbrowser.get", lambda *_: Browser())
    flow = InstalledAppFlow.from_client_config(emu.client_config(), [DRIVE_SCOPE])
    user = flow.run_local_server(host="127.0.0.1", port=0, timeout_seconds=10)
    assert user.refresh_token and emu.stats["auth"] == 1
    emu.expire_tokens()
    emu.build_service(user).files().list().execute()  # refreshes with the issued token


# -- faults ------------------------------------------------------------------------------------


def test_throttling_answers_like_google(emu: DriveEmulator) -> None:
    http = raw(emu)
    emu.faults.throttle_ratio = 1.0
    emu.faults.throttle_codes = (429,)
    emu.faults.retry_after = 2
    resp = http.get(emu.url + "drive/v3/files")
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "2"
    error = resp.json()["error"]
    assert error["code"] == 429 and error["errors"][0]["reason"] == "rateLimitExceeded"
    emu.faults.throttle_codes = (403,)
    resp = http.get(emu.url + "drive/v3/files")
    detail = resp.json()["error"]["errors"][0]
    assert resp.status_code == 403 and detail["domain"] == "usageLimits"
    assert detail["reason"] in ("userRateLimitExceeded", "rateLimitExceeded")
    assert emu.stats["throttled"] == 2
    token = requests.post(emu.token_uri, data={"grant_type": "nope"})
    assert token.status_code in (400, 401)  # the token endpoint is spared

    emu.faults.only_paths = "alt=media"  # faults only where this regex matches
    fid = emu.add_file("f", b"data")
    assert http.get(emu.url + f"drive/v3/files/{fid}").status_code == 200
    assert http.get(emu.url + f"drive/v3/files/{fid}?alt=media").status_code == 403

    emu.faults.reset()
    emu.faults.inject(503, count=1, path="alt=media")
    assert http.get(emu.url + f"drive/v3/files/{fid}").status_code == 200
    assert http.get(emu.url + f"drive/v3/files/{fid}?alt=media").status_code == 503
    assert http.get(emu.url + f"drive/v3/files/{fid}?alt=media").content == b"data"


def test_drop_truncate_and_quota(emu: DriveEmulator, service: Any) -> None:
    fid = emu.add_file("f", os.urandom(10_000))
    http = raw(emu)
    emu.faults.drop_ratio = 1.0
    with pytest.raises(requests.ConnectionError):
        http.get(emu.url + "drive/v3/files")
    emu.faults.drop_mode = "reset"
    with pytest.raises(requests.ConnectionError):
        http.get(emu.url + "drive/v3/files")
    assert emu.stats["dropped"] == 2

    emu.faults.reset()
    emu.faults.truncate_ratio = 1.0
    emu.reset_stats()
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        http.get(emu.url + f"drive/v3/files/{fid}?alt=media").content  # noqa: B018
    assert emu.stats["truncated"] == 1 and emu.stats["bytes_sent"] == 5_000
    assert http.get(emu.url + "drive/v3/files").status_code == 200  # metadata is untouched

    emu.faults.reset()  # "after": the chunk is stored but the answer is lost
    start = http.post(emu.url + "upload/drive/v3/files?uploadType=resumable", json={})
    session = start.headers["Location"]
    emu.faults.drop_mode = "after"
    emu.faults.inject("drop", path="upload_id")
    with pytest.raises(requests.ConnectionError):
        http.put(session, data=b"z" * KIB256, headers={"Content-Range": "bytes 0-262143/*"})
    probe = http.put(session, headers={"Content-Range": "bytes */*"})
    assert probe.status_code == 308 and probe.headers["Range"] == "bytes=0-262143"

    emu.faults.reset()
    emu.reset_stats()
    emu.faults.quota_exhausted = "uploadQuotaExceeded"
    media = MediaIoBaseUpload(io.BytesIO(b"x"), "text/plain")
    with pytest.raises(HttpError) as exc:
        service.files().create(body={"name": "q"}, media_body=media).execute(num_retries=3)
    assert exc.value.resp.status == 403 and reason(exc.value) == "uploadQuotaExceeded"
    assert emu.stats["upload"] == 1  # not retryable, so the client did not retry


def test_main_runs_until_sigterm() -> None:
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.emulators.drive", "--seed", "sample"],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline().split()
        creds_line = proc.stdout.readline()
        assert ready[0] == "READY" and creds_line.startswith("CREDENTIALS ")
        creds = json.loads(creds_line.split(" ", 1)[1])
        token = requests.post(
            creds["token_uri"],
            data={
                "grant_type": "refresh_token",
                "refresh_token": creds["refresh_token"],
                "client_id": creds["client_id"],
                "client_secret": creds["client_secret"],
            },
        ).json()["access_token"]
        listing = requests.get(
            ready[1] + "drive/v3/files",
            params={"q": "'root' in parents and trashed = false", "fields": "files(name)"},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        assert {"Projects", "Photos", "big.bin"} <= {f["name"] for f in listing["files"]}
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
