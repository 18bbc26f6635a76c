"""Request and Response values passed between the HTTP server and the API handlers.

Handlers never touch sockets, so they stay plain functions that are easy to read and test.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import DriveError, invalid
from .query import FieldTree, QueryError, parse_fields, select


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]  # names in lower case
    body: bytes = b""
    target: str = ""  # "path?query" as received, for fault filters and the log

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower()) or default

    def flag(self, name: str) -> bool:
        return self.query.get(name, "").lower() == "true"

    def json_body(self) -> dict[str, object]:
        if not self.body.strip():
            return {}
        try:
            value = json.loads(self.body)
        except ValueError:
            raise DriveError(400, "parseError", "Parse Error") from None
        if not isinstance(value, dict):
            raise DriveError(400, "parseError", "Parse Error")
        return value

    def int_param(self, name: str, default: int, lo: int, hi: int) -> int:
        raw = self.query.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise invalid(f"Invalid value '{raw}'. Values must be integers.", name) from None
        if not lo <= value <= hi:
            raise invalid(
                f"Invalid value '{raw}'. Values must be within the range: [{lo}, {hi}]", name
            )
        return value


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    media: bool = False  # body is file content: counted in bytes_sent, may be truncated

    @classmethod
    def json(cls, value: object, status: int = 200) -> Response:
        body = json.dumps(value, indent=2).encode()
        return cls(status, body, {"Content-Type": "application/json; charset=UTF-8"})

    @classmethod
    def error(cls, err: DriveError) -> Response:
        headers = {"Content-Type": "application/json; charset=UTF-8", **err.headers}
        return cls(err.code, err.body(), headers)


def field_tree(req: Request, default: str) -> FieldTree:
    """The `fields` mask of a request, or Drive's default projection for the method."""
    try:
        return parse_fields(req.query.get("fields") or default)
    except QueryError as exc:
        raise invalid(str(exc), "fields") from None


def projected(req: Request, value: dict[str, object], default: str) -> Response:
    return Response.json(select(value, field_tree(req, default)))
