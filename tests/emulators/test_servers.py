"""Proof that the real-server fixtures and the fault proxy behave as the other tests assume."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

import boto3
import botocore.exceptions
import paramiko
import pytest
from botocore.config import Config

from tests.emulators.faultproxy import FaultProxy
from tests.emulators.seaweedfs import SeaweedFS
from tests.emulators.sshd import SSHD

pytest_plugins = ["tests.emulators.fixtures"]

MiB = 1024 * 1024
ProxyFactory = Callable[[str, int], FaultProxy]
NO_RETRY: dict[str, Any] = {"retries": {"total_max_attempts": 1}}


def _code(exc: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


# -- SeaweedFS -----------------------------------------------------------------------------


def test_seaweedfs_put_and_ranged_get(seaweedfs: SeaweedFS, seaweedfs_bucket: str) -> None:
    s3 = seaweedfs.client()
    s3.put_object(Bucket=seaweedfs_bucket, Key="a/b.txt", Body=b"0123456789")
    got = s3.get_object(Bucket=seaweedfs_bucket, Key="a/b.txt", Range="bytes=2-5")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == "bytes 2-5/10"
    assert got["Body"].read() == b"2345"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=seaweedfs_bucket)["Contents"]]
    assert keys == ["a/b.txt"]
    assert seaweedfs.endpoint_url == f"http://{seaweedfs.host_port}"


def test_seaweedfs_multipart(seaweedfs: SeaweedFS, seaweedfs_bucket: str) -> None:
    s3, b = seaweedfs.client(), seaweedfs_bucket

    def upload(key: str, sizes: list[int]) -> str:
        uid = s3.create_multipart_upload(Bucket=b, Key=key)["UploadId"]
        parts = []
        for n, size in enumerate(sizes, 1):
            body = bytes([n]) * size
            etag = s3.upload_part(Bucket=b, Key=key, UploadId=uid, PartNumber=n, Body=body)
            parts.append({"PartNumber": n, "ETag": etag["ETag"]})
        done = s3.complete_multipart_upload(
            Bucket=b, Key=key, UploadId=uid, MultipartUpload={"Parts": parts}
        )
        return str(done["ETag"])

    assert upload("big", [5 * MiB, 5 * MiB]).endswith('-2"')
    body = s3.get_object(Bucket=b, Key="big", Range=f"bytes={5 * MiB - 2}-{5 * MiB + 1}")
    assert body["Body"].read() == b"\x01\x01\x02\x02"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        upload("small", [1 * MiB, 10])
    assert _code(exc) == "EntityTooSmall"


def test_seaweedfs_checks_credentials(seaweedfs: SeaweedFS, seaweedfs_bucket: str) -> None:
    seaweedfs.client().put_object(Bucket=seaweedfs_bucket, Key="k", Body=b"v")

    def client(key: str, secret: str) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=seaweedfs.endpoint_url,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            region_name=seaweedfs.region,
            config=Config(s3={"addressing_style": "path"}, **NO_RETRY),
        )

    with pytest.raises(botocore.exceptions.ClientError) as exc:
        client(seaweedfs.access_key, "wrong").list_buckets()
    assert _code(exc) == "SignatureDoesNotMatch"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        client("nobody", seaweedfs.secret_key).list_buckets()
    assert _code(exc) == "InvalidAccessKeyId"
    ro = seaweedfs.client(read_only=True, **NO_RETRY)
    assert ro.get_object(Bucket=seaweedfs_bucket, Key="k")["Body"].read() == b"v"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ro.put_object(Bucket=seaweedfs_bucket, Key="k2", Body=b"x")
    assert _code(exc) == "AccessDenied"


def test_seaweedfs_features(seaweedfs: SeaweedFS, seaweedfs_bucket: str) -> None:
    """Pins what the module docstring of seaweedfs.py claims."""
    s3, b = seaweedfs.client(**NO_RETRY), seaweedfs_bucket
    s3.put_object(
        Bucket=b, Key="m", Body=b"x", Metadata={"Mtime": "42"}, StorageClass="STANDARD_IA"
    )
    head = s3.head_object(Bucket=b, Key="m")
    assert head["Metadata"] == {"mtime": "42"}
    assert head["StorageClass"] == "STANDARD_IA"
    s3.put_object_tagging(Bucket=b, Key="m", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    assert s3.get_object_tagging(Bucket=b, Key="m")["TagSet"] == [{"Key": "a", "Value": "b"}]

    wrong_md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.put_object(Bucket=b, Key="d", Body=b"data", ContentMD5=wrong_md5)
    assert _code(exc) == "BadDigest"
    sha = base64.b64encode(hashlib.sha256(b"data").digest()).decode()
    s3.put_object(Bucket=b, Key="d", Body=b"data", ChecksumSHA256=sha)
    assert s3.head_object(Bucket=b, Key="d", ChecksumMode="ENABLED")["ChecksumSHA256"] == sha
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.put_object(Bucket=b, Key="d2", Body=b"DATA", ChecksumSHA256=sha)
    assert _code(exc) == "BadDigest"

    key = os.urandom(32)
    ssec = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}
    s3.put_object(Bucket=b, Key="e", Body=b"secret", **ssec)
    assert s3.get_object(Bucket=b, Key="e", **ssec)["Body"].read() == b"secret"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.get_object(Bucket=b, Key="e")
    assert _code(exc) == "InvalidArgument"

    s3.put_object(Bucket=b, Key="once", Body=b"1", IfNoneMatch="*")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.put_object(Bucket=b, Key="once", Body=b"2", IfNoneMatch="*")
    assert _code(exc) == "PreconditionFailed"


# -- sshd ----------------------------------------------------------------------------------


def _connect(sshd: SSHD, **kw: object) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.load_host_keys(str(sshd.known_hosts_path))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    args: dict[str, object] = {"look_for_keys": False, "allow_agent": False, "timeout": 10}
    args.update(kw)
    try:
        client.connect(sshd.host, sshd.port, **args)  # type: ignore[arg-type]
    except BaseException:
        client.close()
        raise
    return client


def test_sshd_key_auth_and_sftp_5mib(sshd: SSHD, sshd_dir: object) -> None:
    data = os.urandom(5 * MiB)
    with sshd.client() as sftp:
        sftp.putfo(io.BytesIO(data), f"{sshd_dir}/blob")
        assert sftp.stat(f"{sshd_dir}/blob").st_size == len(data)
        out = io.BytesIO()
        sftp.getfo(f"{sshd_dir}/blob", out)
    assert out.getvalue() == data


def test_sshd_passphrase_key(sshd: SSHD) -> None:
    with _connect(
        sshd, username=sshd.user, key_filename=str(sshd.enc_key_path), passphrase=sshd.passphrase
    ) as c:
        assert c.get_transport() is not None and c.get_transport().is_authenticated()  # type: ignore[union-attr]
    with pytest.raises(paramiko.SSHException):
        _connect(sshd, username=sshd.user, key_filename=str(sshd.enc_key_path), passphrase="no")


def test_sshd_agent_auth(sshd: SSHD, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSH_AUTH_SOCK", sshd.ssh_agent())
    agent = paramiko.Agent()
    try:
        assert len(agent.get_keys()) == 1
    finally:
        agent.close()
    with _connect(sshd, username=sshd.user, allow_agent=True) as c:
        assert c.open_sftp().listdir(str(sshd.root_dir)) is not None


def test_sshd_password_auth(sshd: SSHD) -> None:
    if not sshd.password_auth_available:
        pytest.skip(f"password auth unavailable: {sshd.password_auth_reason}")
    with _connect(sshd, username=sshd.password_user, password=sshd.password) as c:
        sftp = c.open_sftp()
        sftp.putfo(io.BytesIO(b"hi"), f"{sshd.password_root_dir}/pw.txt")
        assert sftp.stat(f"{sshd.password_root_dir}/pw.txt").st_size == 2
    with pytest.raises(paramiko.AuthenticationException):
        _connect(sshd, username=sshd.password_user, password="wrong")


def test_sshd_host_key_checks(sshd: SSHD) -> None:
    listed = subprocess.run(
        ["ssh-keygen", "-lf", str(sshd.known_hosts_path)], capture_output=True, text=True
    ).stdout
    assert sshd.host_key_fingerprint in listed
    client = paramiko.SSHClient()  # no known host key at all
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        client.connect(sshd.host, sshd.port, username=sshd.user, key_filename=str(sshd.key_path))
    client.close()


def test_sshd_rotated_host_key_is_rejected() -> None:
    with SSHD(password_auth=False) as server:
        old = server.host_key_fingerprint
        new = server.rotate_host_key()
        assert new != old and server.host_key_fingerprint == new
        client = paramiko.SSHClient()
        client.load_host_keys(str(server.previous_known_hosts_path))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        with pytest.raises(paramiko.BadHostKeyException):
            client.connect(server.host, server.port, username=server.user, timeout=10)
        client.close()
        with server.client() as sftp:  # known_hosts_path follows the new key
            sftp.listdir(str(server.root_dir))


# -- fault proxy ---------------------------------------------------------------------------


def test_proxy_passes_s3_and_counts(
    seaweedfs: SeaweedFS, seaweedfs_bucket: str, fault_proxy: ProxyFactory
) -> None:
    proxy = fault_proxy("127.0.0.1", seaweedfs.port)
    s3 = seaweedfs.client(endpoint_url=proxy.endpoint_url)
    data = os.urandom(300_000)
    s3.put_object(Bucket=seaweedfs_bucket, Key="p", Body=data)
    assert s3.get_object(Bucket=seaweedfs_bucket, Key="p")["Body"].read() == data
    assert proxy.bytes_up > len(data) and proxy.bytes_down > len(data)
    assert proxy.connections >= 1


def test_proxy_passes_sftp(sshd: SSHD, sshd_dir: object, fault_proxy: ProxyFactory) -> None:
    proxy = fault_proxy(sshd.host, sshd.port)
    data = os.urandom(MiB)
    with sshd.client(proxy.port) as sftp:
        sftp.putfo(io.BytesIO(data), f"{sshd_dir}/via-proxy")
        out = io.BytesIO()
        sftp.getfo(f"{sshd_dir}/via-proxy", out)
    assert out.getvalue() == data


def test_proxy_reset_breaks_s3_get(
    seaweedfs: SeaweedFS, seaweedfs_bucket: str, fault_proxy: ProxyFactory
) -> None:
    seaweedfs.client().put_object(Bucket=seaweedfs_bucket, Key="r", Body=os.urandom(MiB))
    proxy = fault_proxy("127.0.0.1", seaweedfs.port)
    s3 = seaweedfs.client(endpoint_url=proxy.endpoint_url, **NO_RETRY)
    proxy.reset_after(256 * 1024, direction="downstream")
    with pytest.raises(botocore.exceptions.ResponseStreamingError):
        s3.get_object(Bucket=seaweedfs_bucket, Key="r")["Body"].read()
    # once=True: the next attempt goes through
    assert len(s3.get_object(Bucket=seaweedfs_bucket, Key="r")["Body"].read()) == MiB


def test_proxy_reset_breaks_sftp_put(
    sshd: SSHD, sshd_dir: object, fault_proxy: ProxyFactory
) -> None:
    proxy = fault_proxy(sshd.host, sshd.port)
    sftp = sshd.client(proxy.port)
    try:
        proxy.reset_after(MiB, direction="upstream")
        with pytest.raises((paramiko.SSHException, EOFError, OSError)):
            sftp.putfo(io.BytesIO(os.urandom(5 * MiB)), f"{sshd_dir}/cut")
    finally:
        sftp.close()


def test_proxy_blackhole_times_out(sshd: SSHD, fault_proxy: ProxyFactory) -> None:
    proxy = fault_proxy(sshd.host, sshd.port)
    proxy.blackhole(True)
    start = time.monotonic()
    with pytest.raises(paramiko.SSHException):
        sshd.ssh_client(proxy.port, timeout=2, banner_timeout=2, auth_timeout=2)
    assert 1.5 < time.monotonic() - start < 6
    proxy.blackhole(False)
    with sshd.client(proxy.port) as sftp:
        sftp.listdir(str(sshd.root_dir))


def test_proxy_latency_and_rate(seaweedfs: SeaweedFS, fault_proxy: ProxyFactory) -> None:
    proxy = fault_proxy("127.0.0.1", seaweedfs.port)
    s3 = seaweedfs.client(endpoint_url=proxy.endpoint_url)
    s3.list_buckets()  # connection is open: time round trips only

    def timed(fn: Callable[[], object]) -> float:
        start = time.monotonic()
        fn()
        return time.monotonic() - start

    fast = timed(s3.list_buckets)
    proxy.latency = 0.15
    slow = timed(s3.list_buckets)
    assert slow - fast >= 0.28  # request and response each held 0.15 s
    proxy.latency = 0
    proxy.rate_limit = 1 * MiB
    with socket.create_connection(proxy.address) as raw:  # raw bytes: 400 KiB at 1 MiB/s
        raw.sendall(b"PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 409600\r\n\r\n")
        start = time.monotonic()
        before = proxy.bytes_up
        raw.sendall(b"\0" * 409600)
        while proxy.bytes_up - before < 409600 and time.monotonic() - start < 5:
            time.sleep(0.01)
        assert 0.3 < time.monotonic() - start < 2


def test_proxy_refuse_and_reset_all(sshd: SSHD, fault_proxy: ProxyFactory) -> None:
    proxy = fault_proxy(sshd.host, sshd.port)
    sftp = sshd.client(proxy.port)
    try:
        proxy.refuse(True)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(proxy.address, timeout=2).close()
        sftp.listdir(str(sshd.root_dir))  # existing connections keep working
        proxy.reset_all()
        with pytest.raises((paramiko.SSHException, EOFError, OSError)):
            sftp.listdir(str(sshd.root_dir))
    finally:
        sftp.close()
    proxy.heal()
    with sshd.client(proxy.port) as again:  # same port again
        again.listdir(str(sshd.root_dir))


def test_proxy_stop_leaves_no_thread(sshd: SSHD) -> None:
    with FaultProxy(sshd.host, sshd.port) as proxy:
        sftp = sshd.client(proxy.port)
        threads = [t for t in threading.enumerate() if t.name == "FaultProxy"]
    assert threads and not any(t.is_alive() for t in threads)
    with pytest.raises((paramiko.SSHException, EOFError, OSError)):
        sftp.listdir(str(sshd.root_dir))
    sftp.close()


def test_tls_proxy_sends_a_public_host_to_the_emulator() -> None:
    """What scripts/bench_drive.py relies on to run the real rclone: a CONNECT to a routed host
    reaches the emulator over TLS trusted through the proxy's CA; any other host is refused."""
    import requests

    from tests.emulators.drive import DriveEmulator
    from tests.emulators.tlsproxy import TLSProxy

    with DriveEmulator() as emu:
        port = int(emu.url.rstrip("/").rsplit(":", 1)[1])
        with TLSProxy({"www.googleapis.com": port}) as proxy:
            s = requests.Session()
            s.trust_env = False
            s.proxies = {"https": proxy.url}
            s.verify = proxy.ca_path
            r = s.get("https://www.googleapis.com/drive/v3/about?fields=user")
            assert r.status_code == 401  # the emulator's answer: no token was sent
            assert "error" in r.json() and proxy.connects == 1
            with pytest.raises(requests.exceptions.ProxyError, match="403"):
                s.get("https://example.com/")
            with pytest.raises(requests.exceptions.SSLError):  # the proxy's CA is needed
                requests.get(
                    "https://www.googleapis.com/drive/v3/about",
                    proxies={"https": proxy.url},
                    timeout=10,
                )
