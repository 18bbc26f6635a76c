"""Logging to stderr (stdout is the wire, P16), with secret values redacted.

Every option declared with `secret=True` has its value registered here at Init, and the
handler masks any occurrence in any log line, so a debug log never leaks a key or a token.
Credentials obtained at run time (bearer tokens, SigV4 key ids, pre-authenticated URLs) are
masked by shape, since the debug output of urllib3 and botocore shows request lines and headers.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading

_secrets: set[str] = set()
_lock = threading.Lock()
MASK = "***"


def register_secret(value: str | None) -> None:
    """Mask `value` in every log record from now on (values under 4 chars are too ambiguous)."""
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


#: Credential shapes in third-party debug lines: `Bearer <token>`, SigV4 `Credential=<key id>/`,
#: and URL query parameters that carry a credential (Graph's pre-authenticated `tempauth`,
#: presigned S3 URLs, OAuth codes and tokens).
_SHAPES = (
    re.compile(r"(?i)(\bBearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(Credential=)[^/\s,'\"&]+"),
    re.compile(
        r"(?i)([?&](?:tempauth|sig|signature|x-amz-signature|x-amz-credential"
        r"|x-amz-security-token|access_token|refresh_token|client_secret|code|token|password)=)"
        r"[^&\s'\"]+"
    ),
)


def redact(text: str) -> str:
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for s in secrets:
        if s in text:
            text = text.replace(s, MASK)
    for shape in _SHAPES:
        text = shape.sub(lambda m: m.group(1) + MASK, text)
    return text


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def setup(name: str = "kloset", level: str | None = None) -> None:
    """Install the stderr handler once; level from KLOSET_LOG (debug, info, warning, error)."""
    root = logging.getLogger()
    if any(getattr(h, "_kloset", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler._kloset = True  # type: ignore[attr-defined]
    handler.setFormatter(RedactingFormatter(f"{name}: %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    lvl = (level or os.environ.get("KLOSET_LOG") or "warning").upper()
    root.setLevel(getattr(logging, lvl, logging.WARNING))
    if root.level > logging.DEBUG:
        for noisy in ("botocore", "boto3", "urllib3", "paramiko", "googleapiclient", "msal"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
