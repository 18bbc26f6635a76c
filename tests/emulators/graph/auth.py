"""The Microsoft identity platform (v2.0 endpoints) as far as msal needs it.

Tokens are unsigned but well-formed JWTs; the server keeps every issued token in a table, so
tests can expire access tokens or revoke refresh tokens at will and watch clients recover.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import string
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from .state import USER_NAME, USER_OID, USER_UPN, GraphError, iso

DEFAULT_TENANT_ID = "7d1f3c2a-8b4e-4f6a-9c1d-2e5b8a7f6c30"
DEFAULT_CLIENT_ID = "4a1e8f2c-6b3d-4e7a-8f1c-9d2b5e6a7c01"
DEFAULT_CLIENT_SECRET = "emulator-secret"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
_RESERVED_SCOPES = {"openid", "profile", "offline_access"}
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _jwt(claims: dict[str, Any], signed: bool) -> str:
    """A compact JWT; ``signed`` only adds a random signature segment (nobody checks it)."""
    header = {"typ": "JWT", "alg": "RS256" if signed else "none", "kid": "emulator"}
    sig = _b64url(secrets.token_bytes(32)) if signed else ""
    return ".".join(
        [_b64url(json.dumps(header).encode()), _b64url(json.dumps(claims).encode()), sig]
    )


class OAuthError(Exception):
    """An AAD token-endpoint error: ``{"error", "error_description", "error_codes"}``."""

    def __init__(self, status: int, error: str, aadsts: int, description: str) -> None:
        super().__init__(f"{error}: AADSTS{aadsts}")
        self.status = status
        self.error = error
        self.aadsts = aadsts
        self.description = description

    def body(self) -> dict[str, Any]:
        trace = str(uuid.uuid4())
        return {
            "error": self.error,
            "error_description": f"AADSTS{self.aadsts}: {self.description}"
            f" Trace ID: {trace} Correlation ID: {trace} Timestamp: {iso(time.time())}",
            "error_codes": [self.aadsts],
            "timestamp": iso(time.time()).replace("T", " ").rstrip("Z"),
            "trace_id": trace,
            "correlation_id": trace,
        }


@dataclass
class Client:
    """An app registration."""

    client_id: str
    secret: str | None
    allow_public_flows: bool = True


@dataclass
class AccessToken:
    kind: str  # "app" or "user"
    client_id: str
    scopes: list[str]
    expires: float
    generation: int


@dataclass
class RefreshToken:
    client_id: str
    scopes: list[str]
    issued: float
    generation: int


@dataclass
class DeviceCode:
    user_code: str
    client_id: str
    scopes: list[str]
    expires: float
    status: str = "pending"  # pending, approved, denied, redeemed


@dataclass
class AuthCode:
    client_id: str
    redirect_uri: str
    scopes: list[str]
    nonce: str | None
    challenge: str | None
    challenge_method: str
    expires: float
    used: bool = False


@dataclass
class AuthState:
    """Issued tokens, codes and the knobs tests turn (expiry, revocation, approval)."""

    tenant_id: str = DEFAULT_TENANT_ID
    clients: dict[str, Client] = field(default_factory=dict)
    access_token_lifetime: int = 3599
    device_interval: int = 5
    auto_approve_device: bool = False
    lock: threading.RLock = field(default_factory=threading.RLock)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    device_codes: dict[str, DeviceCode] = field(default_factory=dict)
    auth_codes: dict[str, AuthCode] = field(default_factory=dict)
    at_generation: int = 0
    rt_generation: int = 0

    # ------------------------------------------------------------------ knobs
    def expire_tokens(self) -> None:
        """Every access token issued so far is now rejected by Graph (401)."""
        with self.lock:
            self.at_generation += 1

    def revoke_refresh_tokens(self) -> None:
        """Every refresh token issued so far fails as after 90 days idle (AADSTS700082)."""
        with self.lock:
            self.rt_generation += 1

    def approve_device_code(self, user_code: str | None = None, approve: bool = True) -> int:
        """The user enters the code and consents (or declines); returns codes affected."""
        with self.lock:
            n = 0
            for dc in self.device_codes.values():
                if dc.status == "pending" and user_code in (None, dc.user_code):
                    dc.status = "approved" if approve else "denied"
                    n += 1
            return n

    # ------------------------------------------------------------------ endpoints
    def openid_configuration(self, base: str, tenant: str) -> dict[str, Any]:
        """``/{tenant}/v2.0/.well-known/openid-configuration``, as AAD answers it."""
        issuer_tenant = (
            "{tenantid}" if tenant in ("common", "organizations", "consumers") else tenant
        )
        oauth = f"{base}/{tenant}/oauth2/v2.0"
        return {
            "token_endpoint": f"{oauth}/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/{issuer_tenant}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{base}/oidc/userinfo",
            "authorization_endpoint": f"{oauth}/authorize",
            "device_authorization_endpoint": f"{oauth}/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{oauth}/logout",
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "nonce",
                "preferred_username",
                "name",
                "tid",
                "oid",
            ],
            "kerberos_endpoint": f"{base}/{tenant}/kerberos",
            "tenant_region_scope": "EU",
            "cloud_instance_name": "emulator.local",
            "cloud_graph_host_name": "graph.emulator.local",
            "msgraph_host": "graph.emulator.local",
        }

    def _client(self, form: dict[str, str]) -> Client:
        client = self.clients.get(form.get("client_id", ""))
        if client is None:
            raise OAuthError(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{form.get('client_id')}' was not found in the"
                f" directory '{self.tenant_id}'.",
            )
        secret = form.get("client_secret")
        if secret is not None and secret != client.secret:
            raise OAuthError(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request"
                " is the client secret value, not the client secret ID.",
            )
        return client

    def _public(self, client: Client, form: dict[str, str]) -> None:
        if client.secret and not form.get("client_secret") and not client.allow_public_flows:
            raise OAuthError(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion'"
                " or 'client_secret'.",
            )

    def devicecode(self, base: str, form: dict[str, str]) -> dict[str, Any]:
        """POST ``/{tenant}/oauth2/v2.0/devicecode``."""
        with self.lock:
            client = self._client(form)
            self._public(client, form)
            user_code = "".join(secrets.choice(string.ascii_uppercase) for _ in range(9))
            device_code = "DAQABAAEAAA" + _b64url(secrets.token_bytes(48))
            self.device_codes[device_code] = DeviceCode(
                user_code=user_code,
                client_id=client.client_id,
                scopes=form.get("scope", "").split(),
                expires=time.time() + 900,
                status="approved" if self.auto_approve_device else "pending",
            )
            uri = f"{base}/devicelogin"
            return {
                "user_code": user_code,
                "device_code": device_code,
                "verification_uri": uri,
                "expires_in": 900,
                "interval": self.device_interval,
                "message": f"To sign in, use a web browser to open the page {uri} and enter"
                f" the code {user_code} to authenticate.",
            }

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """GET ``/{tenant}/oauth2/v2.0/authorize``: a consenting user, redirect at once."""
        with self.lock:
            redirect_uri = query.get("redirect_uri", "")
            host = urlsplit(redirect_uri).hostname
            client = self.clients.get(query.get("client_id", ""))
            if client is None or host not in ("localhost", "127.0.0.1", "::1"):
                reason = "unknown client" if client is None else "redirect_uri not loopback"
                return 400, {"Content-Type": "text/plain"}, f"AADSTS50011: {reason}".encode()
            if query.get("response_type") != "code":
                return 400, {"Content-Type": "text/plain"}, b"AADSTS700054: response_type"
            code = "0.AXoA" + _b64url(secrets.token_bytes(48))
            self.auth_codes[code] = AuthCode(
                client_id=client.client_id,
                redirect_uri=redirect_uri,
                scopes=query.get("scope", "").split(),
                nonce=query.get("nonce"),
                challenge=query.get("code_challenge"),
                challenge_method=query.get("code_challenge_method", "plain"),
                expires=time.time() + 600,
            )
            params = {"code": code, "session_state": str(uuid.uuid4())}
            if "state" in query:
                params["state"] = query["state"]
            if query.get("response_mode") == "form_post":
                fields = "".join(
                    f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}"/>'
                    for k, v in params.items()
                )
                page = (
                    f'<html><body onload="document.forms[0].submit()"><form method="POST"'
                    f' action="{html.escape(redirect_uri)}">{fields}</form></body></html>'
                )
                return 200, {"Content-Type": "text/html"}, page.encode()
            sep = "&" if "?" in redirect_uri else "?"
            return 302, {"Location": redirect_uri + sep + urlencode(params)}, b""

    def token(self, base: str, tenant: str, form: dict[str, str]) -> dict[str, Any]:
        """POST ``/{tenant}/oauth2/v2.0/token``; raises :class:`OAuthError`."""
        with self.lock:
            grant = form.get("grant_type", "")
            client = self._client(form)
            scopes = form.get("scope", "").split()
            if grant == "client_credentials":
                if client.secret is None or form.get("client_secret") != client.secret:
                    raise OAuthError(
                        401,
                        "invalid_client",
                        7000215,
                        "Invalid client secret provided.",
                    )
                if not scopes or not all(s.endswith("/.default") for s in scopes):
                    raise OAuthError(
                        400,
                        "invalid_scope",
                        1002012,
                        f"The provided value for scope {' '.join(scopes)} is not valid. Client"
                        " credential flows must have a scope value with /.default suffixed to"
                        " the resource identifier (application ID URI).",
                    )
                return self._issue(base, client, scopes, app=True)
            if grant == DEVICE_GRANT:
                self._public(client, form)
                dc = self.device_codes.get(form.get("device_code", ""))
                if dc is None or dc.client_id != client.client_id or dc.status == "redeemed":
                    raise OAuthError(400, "invalid_grant", 70000, "The device code is invalid.")
                if dc.expires < time.time():
                    raise OAuthError(400, "expired_token", 70020, "The device code expired.")
                if dc.status == "denied":
                    raise OAuthError(
                        400, "authorization_declined", 70019, "The user declined the request."
                    )
                if dc.status == "pending":
                    raise OAuthError(
                        400,
                        "authorization_pending",
                        70016,
                        "OAuth 2.0 device flow error. Authorization is still pending.",
                    )
                dc.status = "redeemed"
                return self._issue(base, client, dc.scopes or scopes)
            if grant == "authorization_code":
                ac = self.auth_codes.get(form.get("code", ""))
                if ac is None or ac.client_id != client.client_id or ac.expires < time.time():
                    raise OAuthError(
                        400, "invalid_grant", 70008, "The provided authorization code expired."
                    )
                if ac.used:
                    raise OAuthError(
                        400,
                        "invalid_grant",
                        54005,
                        "OAuth2 Authorization code was already redeemed, please retry with a"
                        " new valid code or use an existing refresh token.",
                    )
                if form.get("redirect_uri") != ac.redirect_uri:
                    raise OAuthError(
                        400, "invalid_grant", 50148, "The redirect_uri does not match."
                    )
                if ac.challenge:
                    verifier = form.get("code_verifier", "")
                    if ac.challenge_method == "S256":
                        computed = _b64url(hashlib.sha256(verifier.encode()).digest())
                    else:
                        computed = verifier
                    if computed != ac.challenge:
                        raise OAuthError(
                            400,
                            "invalid_grant",
                            501481,
                            "The Code_Verifier does not match the code_challenge supplied in"
                            " the authorization request.",
                        )
                ac.used = True
                return self._issue(base, client, ac.scopes or scopes, nonce=ac.nonce)
            if grant == "refresh_token":
                rt = self.refresh_tokens.get(form.get("refresh_token", ""))
                if rt is None or rt.client_id != client.client_id:
                    raise OAuthError(
                        400,
                        "invalid_grant",
                        9002313,
                        "Invalid request. Request is malformed or invalid.",
                    )
                if rt.generation != self.rt_generation:
                    raise OAuthError(
                        400,
                        "invalid_grant",
                        700082,
                        "The refresh token has expired due to inactivity. The token was issued"
                        f" on {iso(rt.issued)} and was inactive for 90.00:00:00.",
                    )
                return self._issue(base, client, scopes or rt.scopes)
            raise OAuthError(
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant}'.",
            )

    def _issue(
        self,
        base: str,
        client: Client,
        scopes: list[str],
        app: bool = False,
        nonce: str | None = None,
    ) -> dict[str, Any]:
        now = int(time.time())
        exp = now + self.access_token_lifetime
        granted = [s for s in scopes if s not in _RESERVED_SCOPES] or ["User.Read"]
        claims: dict[str, Any] = {
            "aud": "https://graph.microsoft.com",
            "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "iat": now,
            "nbf": now,
            "exp": exp,
            "appid": client.client_id,
            "tid": self.tenant_id,
            "uti": _b64url(secrets.token_bytes(16)),
            "ver": "1.0",
        }
        if app:
            claims["roles"] = ["Files.ReadWrite.All", "Sites.ReadWrite.All"]
            claims["oid"] = str(uuid.uuid5(uuid.NAMESPACE_URL, client.client_id))
        else:
            claims["scp"] = " ".join(granted)
            claims["oid"] = USER_OID
            claims["upn"] = USER_UPN
        access = _jwt(claims, signed=True)
        self.access_tokens[access] = AccessToken(
            kind="app" if app else "user",
            client_id=client.client_id,
            scopes=granted,
            expires=exp,
            generation=self.at_generation,
        )
        out: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": " ".join(granted if app else [*granted, "openid", "profile"]),
            "expires_in": self.access_token_lifetime,
            "ext_expires_in": self.access_token_lifetime,
            "access_token": access,
        }
        if app:
            return out
        if "offline_access" in scopes:
            refresh = "1.AXoA" + _b64url(secrets.token_bytes(96))
            self.refresh_tokens[refresh] = RefreshToken(
                client_id=client.client_id,
                scopes=scopes,
                issued=now,
                generation=self.rt_generation,
            )
            out["refresh_token"] = refresh
        if "openid" in scopes:
            id_claims: dict[str, Any] = {
                "aud": client.client_id,
                "iss": f"{base}/{self.tenant_id}/v2.0",
                "iat": now,
                "nbf": now,
                "exp": exp,
                "name": USER_NAME,
                "oid": USER_OID,
                "preferred_username": USER_UPN,
                "sub": _b64url(hashlib.sha256(f"{USER_OID}:{client.client_id}".encode()).digest()),
                "tid": self.tenant_id,
                "ver": "2.0",
            }
            if nonce:
                id_claims["nonce"] = nonce
            out["id_token"] = _jwt(id_claims, signed=False)
            out["client_info"] = _b64url(
                json.dumps({"uid": USER_OID, "utid": self.tenant_id}).encode()
            )
        return out

    def check_bearer(self, header: str | None) -> AccessToken:
        """Validate ``Authorization: Bearer``; 401 InvalidAuthenticationToken otherwise."""
        www = {
            "WWW-Authenticate": 'Bearer realm="", authorization_uri='
            '"https://login.microsoftonline.com/common/oauth2/authorize",'
            f' client_id="{GRAPH_APP_ID}"'
        }
        if not header or not header.startswith("Bearer ") or not header[7:].strip():
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.", None, www)
        with self.lock:
            tok = self.access_tokens.get(header[7:].strip())
            if tok is None:
                raise GraphError(
                    401,
                    "InvalidAuthenticationToken",
                    "IDX14100: JWT is not well formed, there are no dots (.).",
                    None,
                    www,
                )
            if tok.generation != self.at_generation or tok.expires < time.time():
                raise GraphError(
                    401,
                    "InvalidAuthenticationToken",
                    "Lifetime validation failed, the token is expired.",
                    None,
                    www,
                )
            return tok
