"""The boto3 wrapper: one client per connector process, every request paced by the SDK's retry
pacer, and the one place botocore errors become kloset_sdk errors.
Connectors call `S3Client.call(what, operation, **params)` and never catch a
botocore exception themselves.

botocore's own retries are turned off (`total_max_attempts=1`) so that retrying happens in one
place, with one budget: otherwise its 3-5 attempts multiply with ours. Its default integrity
header (CRC32 since botocore 1.36, "when_supported") is turned off too, and `checksum` decides
explicitly what every upload carries (SeaweedFS and AWS verify Content-MD5 and SHA-256 alike).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import botocore.exceptions as bx

from kloset_sdk import ConfigError, Fatal, KlosetError, NotFound, PermissionDenied
from kloset_sdk.retry import Pacer, Retry, RetryPolicy, parse_retry_after

from .options import S3Options, Target, check_auth, show, sse_customer_key
from .quick import ASK, QuickRequests

log = logging.getLogger(__name__)
T = TypeVar("T")

THROTTLED = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequests",
    "RequestThrottled",
    "ServiceUnavailable",
}
TRANSIENT = {"InternalError", "RequestTimeout", "RequestTimeoutException", "OperationAborted"}
#: What to tell the user for each credentials problem; never the raw response (it can carry the
#: string-to-sign) and never a secret.
AUTH_HINTS = {
    "InvalidAccessKeyId": "the server does not know this access key: check access_key (or the"
    " credentials found in the AWS environment or profile)",
    "SignatureDoesNotMatch": "the server rejected the request signature: check"
    " secret_access_key (and region)",
    "AccessDenied": "access denied: the credentials lack permission for this bucket or key",
    "AllAccessDisabled": "all access to this bucket has been disabled by its owner",
    "ExpiredToken": "the session token has expired: renew session_token or the profile's"
    " credentials",
    "InvalidToken": "the session token is not valid: check session_token",
    "TokenRefreshRequired": "the session token must be refreshed: renew session_token",
}
NETWORK = (
    bx.ConnectionClosedError,
    bx.ReadTimeoutError,
    bx.ConnectTimeoutError,
    bx.ResponseStreamingError,
    bx.IncompleteReadError,
    bx.HTTPClientError,
    bx.EndpointConnectionError,
    ConnectionError,
    TimeoutError,
)


def _urllib3_error(exc: BaseException) -> bool:
    """urllib3 is imported with botocore, in the background after Init (kloset_sdk.lazy): an
    exception of it can exist only once it is loaded."""
    urllib3 = sys.modules.get("urllib3")
    return urllib3 is not None and isinstance(exc, urllib3.exceptions.HTTPError)


class NoSuchBucket(NotFound):
    """The bucket itself is missing (not a key in it): callers word their message on it."""


def error_code(exc: BaseException) -> tuple[str, int]:
    """(S3 error code, HTTP status) of a botocore ClientError, else ("", 0)."""
    if not isinstance(exc, bx.ClientError):
        return "", 0
    resp: dict[str, Any] = exc.response
    code = str(resp.get("Error", {}).get("Code", ""))
    status = int(resp.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return code, status


def should_retry(exc: BaseException) -> Retry | None:
    """Throttling, 5xx and dropped connections are worth another try; nothing else is."""
    if isinstance(exc, bx.ClientError):
        code, status = error_code(exc)
        headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        after = parse_retry_after(headers.get("retry-after"))
        if code in THROTTLED or status in (429, 503):
            return Retry(f"throttled ({code or status})", after)
        if status >= 500 or code in TRANSIENT:
            return Retry(f"server error ({code or status})", after)
        return None
    if isinstance(exc, bx.SSLError):
        return None  # a certificate problem does not heal by itself
    if isinstance(exc, NETWORK) or _urllib3_error(exc):
        return Retry(f"network: {type(exc).__name__}")
    return None


def translate(exc: BaseException, what: str, endpoint: str = "") -> BaseException:
    """A botocore exception as the kloset_sdk error the user reads (one line, no secrets)."""
    if isinstance(exc, KlosetError):
        return exc
    if isinstance(exc, bx.ClientError):
        code, status = error_code(exc)
        message = str(exc.response.get("Error", {}).get("Message", "")).strip()
        if code == "NoSuchBucket":
            return NoSuchBucket(f"{what}: the bucket does not exist")
        if code in ("NoSuchKey", "NotFound", "NoSuchUpload", "404") or status == 404:
            return NotFound(f"{what}: not found")
        if code in AUTH_HINTS:
            return PermissionDenied(f"{what}: {AUTH_HINTS[code]}")
        if code == "InvalidArgument" and "customer" in message.lower():
            return PermissionDenied(
                f"{what}: the object is encrypted with SSE-C: set the"
                " sse_customer_key it was written with"
            )
        if status == 403:
            return PermissionDenied(
                f"{what}: access denied (HTTP 403): check access_key and secret_access_key,"
                " and that they may use this bucket"
            )
        if code == "InvalidRange":
            return Fatal(f"{what}: the requested range starts past the end of the object")
        if code in ("BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch"):
            return Fatal(f"{what}: the server received other bytes than were sent ({code})")
        if code == "PreconditionFailed":
            return Fatal(f"{what}: the object changed while it was being read")
        return Fatal(f"{what}: {code or status}: {message}" if message else f"{what}: {code}")
    if isinstance(exc, bx.NoCredentialsError):
        return PermissionDenied(
            f"{what}: no credentials: set access_key and secret_access_key, or provide them"
            " through the AWS environment, a profile or an instance role"
        )
    if isinstance(exc, bx.SSLError):
        return Fatal(
            f"{what}: TLS failed with {endpoint}: use_tls=false for a plain-HTTP endpoint,"
            " tls_insecure_no_verify=true for a self-signed certificate"
        )
    if isinstance(exc, bx.EndpointConnectionError):
        return Fatal(f"{what}: cannot reach the endpoint {endpoint}")
    if isinstance(exc, bx.FlexibleChecksumError):
        return Fatal(f"{what}: the data read does not match its stored checksum")
    if isinstance(exc, (bx.BotoCoreError, OSError)) or _urllib3_error(exc):
        return Fatal(f"{what}: {type(exc).__name__}: {exc}")
    return exc


class S3Client:
    """One botocore client (thread-safe) plus the options every request needs."""

    def __init__(self, opts: S3Options, target: Target) -> None:
        check_auth(opts)
        self.opts = opts
        self.target = target
        self.bucket = target.bucket
        self.ssec_key = sse_customer_key(opts)
        self.pacer = Pacer(RetryPolicy(attempts=opts.max_retries))
        self._reached = False
        # Here, not at import: S3Connection builds the client after Init answered. botocore's
        # session, not boto3's: boto3 adds ~60 ms of imports (s3transfer) and nothing we use
        # before the first upload, where the exporter imports the transfer manager.
        import botocore.session

        session = botocore.session.Session(profile=opts.profile or None)
        try:
            region = session.get_config_variable("region")
        except bx.ProfileNotFound:
            raise ConfigError(
                "profile",
                f"{show(opts.profile or '')} is not in ~/.aws/config or ~/.aws/credentials",
            ) from None
        self._session = session
        self._region = target.region or region or "us-east-1"
        self._insecure = opts.use_tls and opts.tls_insecure_no_verify
        if self._insecure:
            import urllib3

            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            log.warning("tls_insecure_no_verify: the endpoint's certificate is not checked")
        self.raw: Any = self._make({"total_max_attempts": 1})
        # Built here, off Init's path like the client (it asks the endpoint ruleset once).
        self.quick = (
            None if self.ssec_key else QuickRequests.build(self.raw, self.bucket, self._region)
        )

    def _make(self, retries: dict[str, Any]) -> Any:
        try:
            return self._make_client(retries)
        except bx.InvalidRegionError:
            raise ConfigError("region", f"{show(self._region)} is not a region name") from None
        except (ValueError, bx.BotoCoreError) as exc:
            key = "endpoint" if self.opts.endpoint else "location"
            raise ConfigError(
                key, f"boto3 refuses {show(self.target.endpoint_url)}: {type(exc).__name__}"
            ) from None

    def _make_client(self, retries: dict[str, Any]) -> Any:
        from botocore.config import Config

        opts, target = self.opts, self.target
        raw = self._session.create_client(
            "s3",
            endpoint_url=target.endpoint_url,
            aws_access_key_id=opts.access_key or None,
            aws_secret_access_key=opts.secret_access_key or None,
            aws_session_token=opts.session_token or None,
            verify=False if self._insecure else None,
            config=Config(
                region_name=self._region,
                signature_version="s3v4",
                s3={"addressing_style": "virtual" if target.virtual_host else "path"},
                retries=retries,
                connect_timeout=opts.timeout,
                read_timeout=opts.timeout,
                max_pool_connections=max(32, 4 * opts.concurrency + 8),
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                tcp_keepalive=True,
                user_agent_extra="kloset-s3",
            ),
        )
        if opts.checksum == "md5":
            for op in ("PutObject", "UploadPart"):
                raw.meta.events.register(f"before-call.s3.{op}", _add_content_md5)
        return raw

    def transfer_client(self) -> Any:
        """A second client for boto3's transfer manager, with botocore's own retries on.

        s3transfer sends its PutObject/UploadPart requests itself, so our pacer cannot wrap
        them; botocore's standard retry mode (same attempt budget) re-sends a failed part from
        its in-memory body instead.
        """
        return self._make({"mode": "standard", "total_max_attempts": self.opts.max_retries})

    # -- the one way requests are made --------------------------------------------------------
    def call(self, what: str, operation: str, **params: Any) -> Any:
        """Run one S3 operation with retries; raise only kloset_sdk errors."""
        fn = getattr(self.raw, operation)
        return self.run(what, lambda: fn(Bucket=self.bucket, **params))

    def run(self, what: str, fn: Callable[[], T]) -> T:
        try:
            result = self.pacer.call(fn, self._should_retry)
        except Exception as exc:  # the translation boundary
            raise translate(exc, what, self.target.endpoint_url) from None
        self._reached = True
        return result

    def _should_retry(self, exc: BaseException) -> Retry | None:
        if not self._reached and isinstance(exc, bx.EndpointConnectionError):
            return None  # never reached: a wrong endpoint, say so at once instead of backing off
        return should_retry(exc)

    # -- parameters shared by operations --------------------------------------------------
    def sse_read(self) -> dict[str, Any]:
        """SSE-C parameters: GET, HEAD, UploadPart and CompleteMultipartUpload need the key."""
        if self.ssec_key is None:
            return {}
        return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": self.ssec_key}

    def sse_write(self) -> dict[str, Any]:
        """Encryption parameters of PutObject, CreateMultipartUpload and CopyObject."""
        args = self.sse_read()
        if self.opts.sse_kms_key_id:
            args.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=self.opts.sse_kms_key_id)
        return args

    def checksum(self, data: bytes | bytearray) -> dict[str, Any]:
        """The integrity header of one upload body, computed here once (`checksum` option)."""
        if self.opts.checksum == "sha256":
            return {"ChecksumSHA256": _b64(hashlib.sha256(data).digest())}
        if self.opts.checksum == "md5":
            return {"ContentMD5": _b64(hashlib.md5(data, usedforsecurity=False).digest())}
        return {}

    # -- small operations -----------------------------------------------------------------
    def head(self, key: str) -> dict[str, Any] | None:
        if self.quick is not None:
            found = self.quick.head(key)
            if found is not ASK:
                self._reached = True
                return found  # type: ignore[no-any-return]
        try:
            resp: dict[str, Any] = self.call(
                f"stat {key}", "head_object", Key=key, **self.sse_read()
            )
        except NotFound:
            return None
        return resp

    def put_bytes(self, key: str, data: bytes | bytearray, **extra: Any) -> dict[str, Any]:
        args = {**self.sse_write(), **self.checksum(data), **extra}
        resp: dict[str, Any] = self.call(
            f"put {key}", "put_object", Key=key, Body=data, ContentLength=len(data), **args
        )
        return resp

    def pages(self, prefix: str, delimiter: str = "") -> Iterator[dict[str, Any]]:
        """ListObjectsV2 pages (1,000 keys each), every page request retried on its own."""
        params: dict[str, Any] = {"Prefix": prefix}
        if delimiter:
            params["Delimiter"] = delimiter
        while True:
            page: dict[str, Any] = self.call(f"list {prefix or '/'}", "list_objects_v2", **params)
            yield page
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return
            params["ContinuationToken"] = token

    def bucket_exists(self) -> bool:
        try:
            self.call(f"bucket {self.bucket}", "head_bucket")
        except NotFound:
            return False
        return True

    def ensure_bucket(self) -> None:
        """Create the bucket if it is missing (the Go store and exporter do the same)."""
        if self.bucket_exists():
            return
        args: dict[str, Any] = {}
        region = self.raw.meta.region_name
        if region and region != "us-east-1" and "amazonaws.com" in self.target.host:
            args["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self.call(f"create bucket {self.bucket}", "create_bucket", **args)
        except Fatal as exc:
            if "BucketAlreadyOwnedByYou" not in str(exc):
                raise

    def bucket_created_ns(self) -> int:
        """Creation time of the bucket (for an empty import root), 0 when not allowed to ask."""
        try:
            resp = self.run("list buckets", lambda: self.raw.list_buckets())
        except KlosetError:
            return 0
        for b in resp.get("Buckets", []):
            if b.get("Name") == self.bucket and b.get("CreationDate") is not None:
                return int(b["CreationDate"].timestamp() * 1e9)
        return 0


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _add_content_md5(params: dict[str, Any], **_: Any) -> None:
    """botocore hook (checksum=md5): Content-MD5 on uploads made by boto3's transfer manager."""
    headers = params["headers"]
    if "Content-MD5" in headers:
        return
    body = params.get("body")
    h = hashlib.md5(usedforsecurity=False)
    if isinstance(body, (bytes, bytearray)):
        h.update(body)
    elif body is not None and hasattr(body, "seek") and hasattr(body, "tell"):
        pos = body.tell()
        for block in iter(lambda: body.read(1 << 20), b""):
            h.update(block)
        body.seek(pos)
    else:
        return
    headers["Content-MD5"] = _b64(h.digest())
