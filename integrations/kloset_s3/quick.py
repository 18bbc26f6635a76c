"""HEAD and GET Object without botocore's per-call machinery: where small reads spend CPU.

With `metadata` (the default) the importer sends one HEAD per object, and every file it backs
up, every ranged read of a packfile is one GET. Most of a boto3 call's CPU is botocore's
own work (event hooks, the endpoint ruleset, serialising, parsing the answer through the
model), not the request. Signed by botocore's own `S3SigV4Auth` and sent through the
client's own HTTP session (its pool, TLS and proxy settings), the same HEAD ran at 1,225/s
against boto3's 698/s, 16 threads on the local SeaweedFS (`scripts/bench_s3.py`, HEAD row).

Only the plain answers are taken here: a 200 (206 for a range) becomes the dict botocore
returns (every header member of the operation's output shape in botocore's model, converted
by its type; a GET's `Body` is botocore's own StreamingBody, which checks the length), a
HEAD's 404 is None. Anything else (a redirect, 403, 404 on a GET, 412, 5xx, a dropped
connection) is `ASK`: the caller sends the same request through botocore, so errors, retries
and messages keep their one path. Not used where it could not be exact: SSE-C keys, checksum
validation of a whole GET (`ChecksumMode`), anonymous access, or a botocore without the
client internals read here (`_request_signer`, `_endpoint.http_session`).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)
#: The answer that sends the caller to botocore.
ASK: Any = object()
PROBE = "kloset-quick-probe"
META = "x-amz-meta-"


class QuickRequests:
    def __init__(self, raw: Any, bucket: str, region: str) -> None:
        from botocore.auth import S3SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.response import StreamingBody
        from botocore.utils import percent_encode

        self._auth = S3SigV4Auth
        self._request = AWSRequest
        self._body = StreamingBody
        self._quote = percent_encode
        self._region = region
        self._http = raw._endpoint.http_session  # the client's own: pool, TLS, proxies
        self._credentials = raw._request_signer._credentials
        if self._credentials is None:
            raise LookupError("anonymous access")
        # The endpoint ruleset decides path-style or virtual-host: ask it once, for a probe key.
        url = raw.generate_presigned_url(
            "head_object", Params={"Bucket": bucket, "Key": PROBE}, ExpiresIn=60
        )
        parts = urlsplit(url)
        if not parts.path.endswith("/" + PROBE):
            raise LookupError(f"unexpected presigned URL shape {parts.path!r}")
        self._base = f"{parts.scheme}://{parts.netloc}{parts.path[: -len(PROBE)]}"
        model = raw.meta.service_model
        self._head_fields = _header_fields(model.operation_model("HeadObject"))
        self._get_fields = _header_fields(model.operation_model("GetObject"))

    @classmethod
    def build(cls, raw: Any, bucket: str, region: str) -> QuickRequests | None:
        try:
            return cls(raw, bucket, region)
        except Exception as exc:  # any missing internal: botocore's path only
            log.debug("quick requests off: %s: %s", type(exc).__name__, exc)
            return None

    def _send_signed(self, method: str, key: str, headers: dict[str, str], stream: bool) -> Any:
        req = self._request(
            method=method, url=self._base + self._quote(key, safe="/~"), headers=headers
        )
        self._auth(self._credentials.get_frozen_credentials(), "s3", self._region).add_auth(req)
        prepared = req.prepare()
        prepared.stream_output = stream
        return self._http.send(prepared)

    def head(self, key: str) -> Any:
        """head_object's dict, None for a 404, or ASK."""
        try:
            resp = self._send_signed("HEAD", key, {}, False)
        except Exception as exc:  # botocore sends it again and says what went wrong
            log.debug("quick HEAD %s: %s", key, exc)
            return ASK
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            return ASK
        return self._parse(resp.headers, self._head_fields)

    def get(self, key: str, range_: str = "", if_match: str = "") -> Any:
        """get_object's dict (Body streamed), or ASK."""
        headers = {}
        if range_:
            headers["Range"] = range_
        if if_match:
            headers["If-Match"] = if_match
        try:
            resp = self._send_signed("GET", key, headers, True)
        except Exception as exc:
            log.debug("quick GET %s: %s", key, exc)
            return ASK
        if resp.status_code != (206 if range_ else 200):
            resp.raw.close()  # an error's body is not read: the connection is dropped
            return ASK
        out = self._parse(resp.headers, self._get_fields)
        out["ResponseMetadata"]["HTTPStatusCode"] = resp.status_code
        out["Body"] = self._body(resp.raw, out.get("ContentLength"))
        return out

    def _parse(self, headers: Any, fields: dict[str, tuple[str, str]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        meta: dict[str, str] = {}
        for name, value in headers.items():
            low = name.lower()
            if low.startswith(META):
                meta[name[len(META) :]] = value
                continue
            field = fields.get(low)
            if field is None:
                continue
            member, kind = field
            try:
                out[member] = _convert(kind, low, value)
            except (ValueError, TypeError, OverflowError):
                continue  # botocore leaves an unreadable date out too
        if meta:
            out["Metadata"] = meta
        out["ResponseMetadata"] = {
            "HTTPStatusCode": 200,
            "HTTPHeaders": {k.lower(): v for k, v in headers.items()},
            "RetryAttempts": 0,
        }
        return out


def _header_fields(op: Any) -> dict[str, tuple[str, str]]:
    """lower-case header -> (output member, shape type), from the service model."""
    out = {}
    for member, shape in op.output_shape.members.items():
        if shape.serialization.get("location") == "header":
            out[shape.serialization["name"].lower()] = (member, shape.type_name)
    return out


def _convert(kind: str, header: str, value: str) -> Any:
    if kind in ("integer", "long"):
        return int(value)
    if kind == "boolean":
        return value.lower() == "true"
    if kind == "timestamp":
        if header == "last-modified":  # an RFC 7231 date, always
            when = email.utils.parsedate_to_datetime(value)
            return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)
        from botocore.utils import parse_timestamp

        return parse_timestamp(value)
    return value
