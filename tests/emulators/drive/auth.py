"""OAuth 2.0 as Google answers it: the token endpoint, a consenting authorization endpoint,
revocation, and bearer-token checks for API calls.

Signatures are never verified: the point is to exercise the client's refresh, login and
impersonation paths, not cryptography.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote_plus, urlencode

from .errors import DriveError
from .wire import Request, Response

CLIENT_ID = "emulator-client.apps.googleusercontent.com"
CLIENT_SECRET = "emulator-client-secret"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPE_PREFIX = "https://www.googleapis.com/auth/"
WRITE_SCOPES = frozenset(SCOPE_PREFIX + s for s in ("drive", "drive.file", "drive.appdata"))
READ_SCOPES = WRITE_SCOPES | frozenset(
    SCOPE_PREFIX + s for s in ("drive.readonly", "drive.photos.readonly", "drive.appfolder")
)
METADATA_SCOPES = frozenset(SCOPE_PREFIX + s for s in ("drive.metadata", "drive.metadata.readonly"))
OOB_REDIRECTS = ("urn:ietf:wg:oauth:2.0:oob", "oob", "")


@dataclass(frozen=True)
class Grant:
    """Who a token speaks for: the client, the granted scopes, the impersonated subject."""

    client_id: str
    scopes: tuple[str, ...] = ()
    subject: str | None = None


@dataclass
class _Code:
    grant: Grant
    redirect_uri: str
    challenge: str | None
    method: str


@dataclass
class TokenStore:
    """Clients, refresh tokens, access tokens and authorization codes."""

    random_string: Callable[[int], str]
    lifetime: int = 3600  # seconds; access tokens also die on expire_all()
    consent: bool = True  # False: the authorization endpoint answers error=access_denied
    accept_self_signed_jwt: bool = True  # service accounts may skip the token endpoint
    clients: dict[str, str] = field(default_factory=lambda: {CLIENT_ID: CLIENT_SECRET})
    refresh_tokens: dict[str, Grant] = field(default_factory=dict)
    access_tokens: dict[str, tuple[Grant, float]] = field(default_factory=dict)
    codes: dict[str, _Code] = field(default_factory=dict)
    subjects: list[str | None] = field(default_factory=list)  # `sub` of each JWT grant
    lock: threading.Lock = field(default_factory=threading.Lock)

    def issue_refresh_token(
        self, client_id: str = CLIENT_ID, scopes: tuple[str, ...] = (), token: str | None = None
    ) -> str:
        token = token or "1//emu-" + self.random_string(40)
        with self.lock:
            self.refresh_tokens[token] = Grant(client_id, tuple(scopes))
        return token

    def issue_access_token(self, grant: Grant) -> str:
        token = "ya29.emu-" + self.random_string(48)
        with self.lock:
            self.access_tokens[token] = (grant, time.time() + self.lifetime)
        return token

    def expire_all(self) -> None:
        with self.lock:
            self.access_tokens.clear()

    def revoke(self, token: str) -> bool:
        with self.lock:
            found = self.refresh_tokens.pop(token, None) or self.access_tokens.pop(token, None)
            return found is not None

    def check(self, token: str) -> Grant | None:
        """The grant behind a bearer token, or None when unknown or expired."""
        with self.lock:
            entry = self.access_tokens.get(token)
        if entry is not None:
            grant, expiry = entry
            return grant if time.time() < expiry else None
        if self.accept_self_signed_jwt and token.count(".") == 2:
            claims = decode_jwt(token)
            if claims and "iss" in claims and _number(claims.get("exp")) > time.time():
                scope = str(claims.get("scope", ""))
                return Grant(str(claims["iss"]), tuple(scope.split()), _opt(claims.get("sub")))
        return None


def _number(value: object) -> float:
    try:
        return float(str(value))
    except ValueError:
        return 0.0


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


def decode_jwt(assertion: str) -> dict[str, object] | None:
    """The claims of a compact JWT, unverified; None when it is not well formed."""
    parts = assertion.split(".")
    if len(parts) != 3:
        return None
    try:
        for part in parts[:2]:
            json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except (ValueError, binascii.Error):
        return None
    return claims if isinstance(claims, dict) else None


def _oauth_error(status: int, error: str, description: str) -> Response:
    return Response.json({"error": error, "error_description": description}, status)


def _client_credentials(req: Request, form: dict[str, str]) -> list[tuple[str, str]]:
    """Every (client_id, secret) the request offers, as Google takes them: in the form body,
    or with HTTP Basic. RFC 6749 §2.3.1 form-encodes both before Basic (Go's oauth2 does,
    `+` for a space), requests' HTTPBasicAuth (requests-oauthlib, google-auth-oauthlib) sends
    them raw: a Basic header yields both readings."""
    offered: list[tuple[str, str]] = []
    auth = req.header("Authorization")
    if auth.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(auth[6:].strip(), validate=True).decode()
        except (ValueError, binascii.Error):
            decoded = ""
        user, sep, password = decoded.partition(":")
        if sep:
            offered.append((user, password))
            offered.append((unquote_plus(user), unquote_plus(password)))
    if "client_id" in form or "client_secret" in form:
        offered.append((form.get("client_id", ""), form.get("client_secret", "")))
    return offered


def token_endpoint(store: TokenStore, req: Request) -> Response:
    """POST /token: refresh_token, authorization_code and JWT-bearer grants."""
    form = dict(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
    grant_type = form.get("grant_type", "")
    if grant_type == JWT_BEARER:
        claims = decode_jwt(form.get("assertion", ""))
        if claims is None or "iss" not in claims:
            return _oauth_error(400, "invalid_grant", "Invalid JWT Signature.")
        subject = _opt(claims.get("sub"))
        with store.lock:
            store.subjects.append(subject)
        grant = Grant(str(claims["iss"]), tuple(str(claims.get("scope", "")).split()), subject)
        return _token_response(store, grant, refresh=None)

    known = [(c, s) for c, s in _client_credentials(req, form) if c and store.clients.get(c) == s]
    if not known:
        return _oauth_error(401, "invalid_client", "The OAuth client was not found.")
    client_id = known[0][0]

    if grant_type == "refresh_token":
        with store.lock:
            granted = store.refresh_tokens.get(form.get("refresh_token", ""))
        if granted is None or granted.client_id != client_id:
            return _oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
        asked = tuple(form.get("scope", "").split())
        if asked and granted.scopes and not set(asked) <= set(granted.scopes):
            return _oauth_error(400, "invalid_scope", "Some requested scopes were invalid.")
        return _token_response(store, Grant(client_id, asked or granted.scopes), refresh=None)

    if grant_type == "authorization_code":
        with store.lock:
            code = store.codes.pop(form.get("code", ""), None)
        if code is None or code.grant.client_id != client_id:
            return _oauth_error(400, "invalid_grant", "Malformed auth code.")
        if code.redirect_uri and form.get("redirect_uri", code.redirect_uri) != code.redirect_uri:
            return _oauth_error(400, "redirect_uri_mismatch", "Bad Request")
        if code.challenge and not _pkce_ok(code, form.get("code_verifier", "")):
            return _oauth_error(400, "invalid_grant", "Invalid code verifier.")
        refresh = store.issue_refresh_token(client_id, code.grant.scopes)
        return _token_response(store, code.grant, refresh=refresh)

    return _oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")


def _pkce_ok(code: _Code, verifier: str) -> bool:
    if code.method.upper() == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == code.challenge
    return verifier == code.challenge


def _token_response(store: TokenStore, grant: Grant, refresh: str | None) -> Response:
    body: dict[str, object] = {
        "access_token": store.issue_access_token(grant),
        "expires_in": store.lifetime,
        "token_type": "Bearer",
    }
    if grant.scopes:
        body["scope"] = " ".join(grant.scopes)
    if refresh:
        body["refresh_token"] = refresh
        body["refresh_token_expires_in"] = 604799
    return Response.json(body)


def authorize_endpoint(store: TokenStore, req: Request) -> Response:
    """GET /o/oauth2/auth: the user always consents at once (unless `consent` is off).

    Loopback redirect URIs get a 302 to `redirect_uri?code=..&state=..`; out-of-band ones get
    a page showing the code, as the headless copy-paste flow expects.
    """
    q = req.query
    client_id = q.get("client_id", "")
    if client_id not in store.clients:
        return Response(400, b"Error 401: invalid_client", {"Content-Type": "text/plain"})
    if q.get("response_type", "code") != "code":
        return Response(
            400, b"Error 400: unsupported_response_type", {"Content-Type": "text/plain"}
        )
    redirect_uri = q.get("redirect_uri", "")
    params: dict[str, str] = {}
    if store.consent:
        code = "4/emu-" + store.random_string(40)
        grant = Grant(client_id, tuple(q.get("scope", "").split()))
        with store.lock:
            store.codes[code] = _Code(
                grant,
                redirect_uri,
                q.get("code_challenge"),
                q.get("code_challenge_method", "plain"),
            )
        params = {"code": code, "scope": q.get("scope", "")}
    else:
        params = {"error": "access_denied"}
    if "state" in q:
        params["state"] = q["state"]
    if redirect_uri in OOB_REDIRECTS:
        text = params.get("code", params.get("error", ""))
        page = f"<html><head><title>Success code={text}</title></head><body>{text}</body></html>"
        return Response(200, page.encode(), {"Content-Type": "text/html; charset=utf-8"})
    sep = "&" if "?" in redirect_uri else "?"
    return Response(302, b"", {"Location": redirect_uri + sep + urlencode(params)})


def revoke_endpoint(store: TokenStore, req: Request) -> Response:
    form = dict(parse_qsl(req.body.decode("utf-8", "replace")))
    token = req.query.get("token") or form.get("token", "")
    if store.revoke(token):
        return Response.json({})
    return _oauth_error(400, "invalid_token", "Token expired or revoked")


def bearer_token(req: Request) -> str:
    auth = req.header("Authorization")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return req.query.get("access_token", "")


def insufficient_scopes() -> DriveError:
    return DriveError(
        403,
        "insufficientPermissions",
        "Request had insufficient authentication scopes.",
        detail="Insufficient Permission",
    )


def check_scopes(grant: Grant, write: bool, media: bool) -> None:
    """Refuse writes to read-only tokens and content to metadata-only tokens."""
    if not grant.scopes:
        return  # scopes unknown (e.g. a test-issued token): full access
    scopes = set(grant.scopes)
    if write and not scopes & WRITE_SCOPES:
        raise insufficient_scopes()
    readable = READ_SCOPES if media else READ_SCOPES | METADATA_SCOPES
    if not scopes & readable:
        raise insufficient_scopes()
