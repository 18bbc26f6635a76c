"""Every config key of the s3 integration, once, and what they mean.

The first twelve keys are the Go integration's, with its names, meanings and defaults, so an
existing `plakar store add mystore s3://... access_key=... secret_access_key=...` line works
unchanged. The rest are what the Go integration lacks (INTEGRATIONS.md "s3").
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Literal

from kloset_sdk import ConfigError, option, parse_location
from kloset_sdk import common_options as common

MiB = 1 << 20
GiB = 1 << 30
#: S3's limits (INTEGRATIONS.md): parts of 5 MiB to 5 GiB (the last may be smaller), 10,000 parts.
MIN_PART = 5 * MiB
MAX_PART = 5 * GiB
MAX_PARTS = 10_000

StorageClass = Literal[
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "GLACIER_IR",
    "DEEP_ARCHIVE",
]
#: Classes whose objects cannot be read back without a restore: the store becomes write-only.
FROZEN_CLASSES = ("GLACIER", "DEEP_ARCHIVE")
Checksum = Literal["sha256", "md5", "none"]
WRITERS = common.WRITERS


@dataclass(frozen=True)
class S3Options:
    location: str = common.location(
        "s3://<endpoint>/<bucket>[/prefix], or s3://<bucket>.<endpoint>[/prefix] with"
        " virtual_host=true.",
        pattern=r"^s3://[^/]+",
    )
    access_key: str | None = common.text(
        "Access key ID. Leave access_key and secret_access_key unset to use the AWS"
        " credential chain (environment, `profile`, web identity, ECS/EC2 instance role)."
    )
    secret_access_key: str | None = common.secret(
        "Secret access key that goes with access_key.", min_length=1
    )
    use_tls: bool = option(True, help="Talk HTTPS to the endpoint (false: plain HTTP).")
    tls_insecure_no_verify: bool = option(
        False, help="Do not verify the endpoint's TLS certificate (testing only)."
    )
    virtual_host: bool = option(
        False,
        help="The location's host name starts with the bucket (s3://<bucket>.<endpoint>/...);"
        " requests use virtual-hosted addressing.",
    )
    endpoint: str = option(
        "",
        help="Endpoint host[:port]. Path style: when it differs from the location's host, the"
        " whole location path (host included) is read as <bucket>[/prefix]. Required with"
        " virtual_host unless the bucket is the host name's first label.",
    )
    port: int | None = common.port("Endpoint port, when the location does not give one.")
    root: str = option(
        "/",
        pattern="^/",
        help="Prefix inside the bucket. Path style: a root that starts with the location's"
        " bucket (or a location without a bucket) is read as /<bucket>/<prefix>.",
    )
    sse_customer_key: str | None = common.secret(
        "SSE-C: base64 of a 32-byte AES-256 key, sent with every read and write.", min_length=1
    )
    storage_class: StorageClass = option(
        "STANDARD",
        kinds={"storage"},
        help="Class of new objects. GLACIER and DEEP_ARCHIVE make the store write-only (CONFIG"
        " and locks stay in STANDARD), as in the Go integration.",
    )
    region: str = option(
        "",
        help="Region used to sign requests. Default: taken from an AWS host name"
        " (s3.<region>.amazonaws.com), else the AWS environment/profile, else us-east-1.",
    )
    # -- beyond the Go integration ---------------------------------------------------------
    session_token: str | None = common.secret(
        "STS session token for temporary access keys.", min_length=1
    )
    profile: str | None = common.text(
        "Shared config/credentials profile (~/.aws/config) used when access_key is unset."
    )
    sse_kms_key_id: str | None = common.text(
        kinds=WRITERS,
        help="SSE-KMS: encrypt new objects with this KMS key (ID, ARN or alias/...).",
    )
    part_size: int = common.part_size(
        8 * MiB,
        minimum=MIN_PART,
        maximum=MAX_PART,
        help="Bytes per multipart part; smaller objects go in one PUT. Grown automatically"
        " when an object would need more than 10,000 parts.",
    )
    concurrency: int = common.concurrency(
        4,
        help="Parts of one upload in flight: an upload holds at most concurrency x part_size"
        " in memory. A storage Get over 8 MiB reads this many 8 MiB ranges at once (at most"
        " concurrency x 8 MiB held). Small objects and listings run 4x this many requests at"
        " once.",
    )
    checksum: Checksum = option(
        "sha256",
        kinds=WRITERS,
        help="Integrity check sent with every upload, verified by the server:"
        " x-amz-checksum-sha256, Content-MD5, or none (for servers that reject both).",
    )
    metadata: bool = common.importer_flag(
        default=True,
        help="Record content-type, user metadata, tags and storage class as xattrs (a HEAD"
        " per object, GetObjectTagging for tagged ones). false: list and read only.",
    )
    max_retries: int = common.max_retries(
        10,
        aliases={"retries": None},
        help="Attempts per request on throttling, 5xx and network errors (backoff with"
        " jitter, Retry-After honoured).",
    )
    timeout: float = common.timeout(
        60.0,
        help="Connect and read timeout of each request, in seconds.",
    )

    def validate(self) -> None:
        """Key pairs and exclusive choices a schema cannot express; options.parse calls it."""
        if bool(self.access_key) != bool(self.secret_access_key):
            missing = "secret_access_key" if self.access_key else "access_key"
            raise ConfigError(missing, "is required when the other key of the pair is set")
        if self.session_token and not self.access_key:
            raise ConfigError("session_token", "goes with access_key and secret_access_key")
        if self.sse_customer_key and self.sse_kms_key_id:
            raise ConfigError("sse_kms_key_id", "cannot be combined with sse_customer_key")


@dataclass(frozen=True)
class Target:
    """Where requests go, derived from the options exactly once."""

    endpoint_url: str
    host: str  # host[:port]: the Origin Plakar shows and groups sources by
    bucket: str
    prefix: str  # without leading/trailing "/"; "" is the bucket's root
    virtual_host: bool
    region: str | None

    def key(self, name: str) -> str:
        """Key of `name` under the prefix (the Go store's `realpath`)."""
        return f"{self.prefix}/{name}" if self.prefix else name


_HOSTNAME = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,252}[A-Za-z0-9])?$")
_IPV6 = re.compile(r"^\[[0-9A-Fa-f:.]+\]$")
_BUCKET = re.compile(r"^[A-Za-z0-9._-]{1,255}$")
_REGION = re.compile(r"^[a-z0-9-]{1,64}$")
_AWS_HOST = re.compile(
    r"^(?:[^.]+\.)*s3[.-](?:dualstack\.)?([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com"
)


def resolve(opts: S3Options) -> Target:
    """Split the location as the Go integration does (common.SplitPathStyle/SplitVirtualHost)."""
    loc = parse_location(opts.location, expect="s3")
    if loc.user or "@" in opts.location.split("://", 1)[-1].split("/", 1)[0]:
        raise ConfigError(
            "location", "an s3 location carries no user name: give the key as access_key"
        )
    host = f"[{loc.host}]" if ":" in loc.host else loc.host  # an IPv6 address
    if not host:
        raise ConfigError("location", f"{show(opts.location)} names no host")
    port = loc.port or opts.port
    if port:
        host = f"{host}:{port}"
    endpoint = _bare_endpoint(opts.endpoint)
    if opts.virtual_host:
        bucket, host = _split_virtual_host(host, endpoint)
        prefix = _one_prefix(loc.path, opts.root)
    else:
        path = loc.path
        if endpoint and host != endpoint:
            path = f"{host}/{path.lstrip('/')}"
            host = endpoint
        bucket, prefix = split_path_style(path, opts.root)
    if not bucket:
        raise ConfigError(
            "location", "names no bucket: use s3://<endpoint>/<bucket>[/prefix] (or set root)"
        )
    _check_host(host, "endpoint" if opts.endpoint and not opts.virtual_host else "location")
    if not _BUCKET.match(bucket):
        raise ConfigError("location", f"bucket name {show(bucket)} is not valid")
    if opts.region and not _REGION.match(opts.region):
        raise ConfigError("region", f"{show(opts.region)} is not a region name (like eu-west-3)")
    region = opts.region or _aws_region(host)
    scheme = "https" if opts.use_tls else "http"
    return Target(
        endpoint_url=f"{scheme}://{host}",
        host=host,
        bucket=bucket,
        prefix=prefix.strip("/"),
        virtual_host=opts.virtual_host,
        region=region or None,
    )


def split_path_style(location_path: str, root: str) -> tuple[str, str]:
    """(bucket, prefix) of a path-style location; see the `root` option for the old reading."""
    bucket, _, prefix = location_path.lstrip("/").partition("/")
    root_path = root.strip("/")
    if not root_path:
        return bucket, prefix
    root_bucket, _, root_prefix = root.lstrip("/").partition("/")
    if not bucket or root_bucket == bucket:
        return root_bucket, root_prefix
    if prefix.strip("/") and prefix.strip("/") != root_path:
        raise ConfigError(
            "root", f"{show(root)} conflicts with the location path {show(location_path)}"
        )
    return bucket, root.lstrip("/")


def sse_customer_key(opts: S3Options) -> bytes | None:
    """The 32 raw key bytes of SSE-C; the error never shows the value (it is a secret)."""
    if not opts.sse_customer_key:
        return None
    try:
        key = base64.b64decode(opts.sse_customer_key, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError("sse_customer_key", "is not valid base64") from None
    if len(key) != 32:
        raise ConfigError(
            "sse_customer_key", f"must be the base64 of 32 bytes (AES-256), got {len(key)} bytes"
        )
    return key


#: Also called by S3Client, which may get options built without parse.
check_auth = S3Options.validate


def show(value: str, limit: int = 60) -> str:
    """A config value quoted for an error message, cut short (values can be huge or hostile)."""
    text = value if len(value) <= limit else value[: limit - 3] + "..."
    return '"' + text.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'


def _check_host(host: str, key: str) -> None:
    name, _, port = host.rpartition(":") if not host.endswith("]") else (host, "", "")
    if not port.isdigit():
        name = host
    if not (_HOSTNAME.match(name) or _IPV6.match(name)):
        raise ConfigError(key, f"{show(host)} is not a host name or address")


def _bare_endpoint(endpoint: str) -> str:
    endpoint = endpoint.strip()
    for scheme in ("https://", "http://"):
        if endpoint.startswith(scheme):
            endpoint = endpoint[len(scheme) :]
    return endpoint.rstrip("/").lstrip(".")


def _split_virtual_host(host: str, endpoint: str) -> tuple[str, str]:
    host = host.rstrip(".")
    if endpoint:
        suffix = "." + endpoint
        if not host.endswith(suffix) or len(host) == len(suffix):
            raise ConfigError(
                "location", f'host "{host}" is not <bucket>.{endpoint} (virtual_host=true)'
            )
        return host[: -len(suffix)], endpoint
    bucket, _, rest = host.partition(".")
    if not rest:
        raise ConfigError(
            "location",
            f'host "{host}" has no bucket label (virtual_host=true wants s3://<bucket>.<endpoint>)',
        )
    return bucket, rest


def _one_prefix(url_path: str, root: str) -> str:
    """Virtual host: the bucket is in the host name; location path and root both name the prefix."""
    url_prefix, root_prefix = url_path.strip("/"), root.strip("/")
    if url_prefix and root_prefix and url_prefix != root_prefix:
        raise ConfigError("root", f"{show(root)} conflicts with the location path {show(url_path)}")
    return root_prefix or url_prefix


def _aws_region(host: str) -> str:
    m = _AWS_HOST.match(host.split(":", 1)[0])
    return m.group(1) if m else ""
