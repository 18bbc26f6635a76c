"""Values passed between the HTTP server and the route handlers: answers, item addresses.

Handlers never touch sockets beyond the request headers (and the streamed fragment body),
so each route module stays a set of plain functions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .state import Drive, GraphError

JSON_TYPE = "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8"
DEFAULT_PAGE = 200
MAX_PAGE = 1000


class Drop(Exception):
    """Close the connection without an answer (fault injection)."""


@dataclass
class Response:
    """What a route produces; ``truncate`` marks bodies the truncate fault may cut."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    truncatable: bool = False


def json_response(status: int, obj: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(obj).encode(), headers or {}, JSON_TYPE)


@dataclass
class Addr:
    """A driveItem address: drive + base item (+ a relative path for ``root:/a/b:``)."""

    drive: Drive
    base_id: str
    rel: str | None


Route = Callable[[bytes], Response]


def page_size(query: dict[str, str]) -> int:
    """``$top``, clamped the way Graph clamps it."""
    return max(1, min(int(query.get("$top") or DEFAULT_PAGE), MAX_PAGE))


def json_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        obj = json.loads(body)
    except ValueError as exc:
        raise GraphError(400, "invalidRequest", f"Invalid JSON body: {exc}") from None
    if not isinstance(obj, dict):
        raise GraphError(400, "invalidRequest", "The body must be a JSON object")
    return obj
