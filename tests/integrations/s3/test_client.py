"""should_retry and error translation: which failures are retried, what the user reads."""

from __future__ import annotations

from typing import Any

import botocore.exceptions as bx
import pytest

from kloset_s3.client import should_retry, translate
from kloset_sdk import Fatal, NotFound, PermissionDenied


def client_error(code: str, status: int, message: str = "", **headers: str) -> bx.ClientError:
    resp: dict[str, Any] = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers},
    }
    return bx.ClientError(resp, "GetObject")


@pytest.mark.parametrize(
    "exc",
    [
        client_error("SlowDown", 503),
        client_error("InternalError", 500),
        client_error("", 502),
        client_error("RequestTimeout", 400),
        client_error("TooManyRequests", 429),
        bx.ConnectionClosedError(endpoint_url="http://x"),
        bx.ReadTimeoutError(endpoint_url="http://x"),
        bx.ResponseStreamingError(error="reset"),
        ConnectionResetError(104, "reset"),
    ],
)
def test_retried(exc: BaseException) -> None:
    assert should_retry(exc) is not None


def test_retry_after_is_honoured() -> None:
    decision = should_retry(client_error("SlowDown", 503, **{"retry-after": "7"}))
    assert decision is not None and decision.retry_after == 7


@pytest.mark.parametrize(
    "exc",
    [
        client_error("NoSuchKey", 404),
        client_error("AccessDenied", 403),
        client_error("InvalidAccessKeyId", 403),
        client_error("BadDigest", 400),
        bx.SSLError(endpoint_url="https://x", error="bad cert"),
        bx.NoCredentialsError(),
        ValueError("bug"),
    ],
)
def test_not_retried(exc: BaseException) -> None:
    assert should_retry(exc) is None


@pytest.mark.parametrize(
    "exc,kind,words",
    [
        (client_error("NoSuchKey", 404), NotFound, "not found"),
        (client_error("404", 404), NotFound, "not found"),
        (client_error("NoSuchBucket", 404), NotFound, "bucket does not exist"),
        (client_error("InvalidAccessKeyId", 403), PermissionDenied, "access_key"),
        (client_error("SignatureDoesNotMatch", 403), PermissionDenied, "secret_access_key"),
        (client_error("AccessDenied", 403), PermissionDenied, "permission"),
        (client_error("403", 403), PermissionDenied, "access_key"),
        (client_error("ExpiredToken", 400), PermissionDenied, "session_token"),
        (
            client_error("InvalidArgument", 400, "must provide the customer key"),
            PermissionDenied,
            "sse_customer_key",
        ),
        (client_error("BadDigest", 400), Fatal, "other bytes"),
        (bx.NoCredentialsError(), PermissionDenied, "no credentials"),
        (bx.EndpointConnectionError(endpoint_url="http://h:1"), Fatal, "cannot reach"),
        (bx.SSLError(endpoint_url="https://h", error="x"), Fatal, "tls_insecure_no_verify"),
    ],
)
def test_translate(exc: BaseException, kind: type, words: str) -> None:
    out = translate(exc, "get k", "http://h:1")
    assert isinstance(out, kind)
    assert words in str(out) and str(out).startswith("get k")
    assert "\n" not in str(out)


def test_signature_error_never_echoes_the_response() -> None:
    exc = client_error("SignatureDoesNotMatch", 403, "StringToSign: AWS4-HMAC-SHA256 secretstuff")
    assert "secretstuff" not in str(translate(exc, "list"))
