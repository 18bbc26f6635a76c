"""Access tokens for Graph with msal: an application secret, or a user's persisted login.

- `client_secret` set: client credentials (business tenants). msal keeps the token in memory.
- otherwise: the msal token cache written by `klosetctl login onedrive` (the flows live in
  login.py, which imports this module, never the other way round), a 0600 JSON file
  (kloset_sdk.oauth.TokenFile) holding msal's SerializableTokenCache. Tokens come
  from `acquire_token_silent`, which redeems the refresh token when needed; the file is rewritten
  (atomically, 0600) whenever msal's cache changed, so a rotated refresh token is never lost.

A refresh token unused for 90 days is refused with AADSTS700082: that is reported as a
PermissionDenied telling the user to log in again, not as a retryable error.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import msal
import requests

from kloset_sdk import ConfigError, KlosetError
from kloset_sdk.oauth import TokenFile

from .identity import (
    LOGIN_AGAIN,
    cache_path,
    check_result,
    msal_app,
    register_cache_secrets,
    save_cache,
    user_scopes,
)
from .options import Endpoints, OneDriveOptions

__all__ = ["AppTokens", "UserTokens", "token_source"]
log = logging.getLogger(__name__)
_EARLY = 300.0  # renew a token this many seconds before it expires


class _Cached:
    """Keep the current token; renew it once for every thread (a 401 storm = one refresh)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._token = ""
        self._expires = 0.0

    def _acquire(self, force: bool) -> dict[str, Any] | None:
        raise NotImplementedError

    def _take(self, force: bool) -> str:
        result = self._acquire(force)
        self._token = check_result(result, self.describe())
        assert result is not None
        self._expires = time.monotonic() + float(result.get("expires_in", 3600))
        return self._token

    def describe(self) -> str:
        return "the onedrive login"

    def token(self) -> str:
        with self._lock:
            if self._token and time.monotonic() < self._expires - _EARLY:
                return self._token
            return self._take(force=False)  # msal renews an expired token by itself

    def refresh(self, stale: str) -> str:
        with self._lock:
            if self._token and self._token != stale:
                return self._token
            return self._take(force=True)


class AppTokens(_Cached):
    """Client credentials: `{resource}/.default`, whatever the app was granted."""

    def __init__(self, opts: OneDriveOptions, ep: Endpoints, http: requests.Session) -> None:
        super().__init__()
        assert opts.client_secret
        self._app = msal_app(opts.client_id, ep, http, secret=opts.client_secret)
        self._scopes = [ep.resource + "/.default"]
        self._authority = ep.authority

    def describe(self) -> str:
        return f"application login at {self._authority}"

    def _acquire(self, force: bool) -> dict[str, Any] | None:
        if force:
            self._app.remove_tokens_for_client()  # msal refuses force_refresh for this flow
        result: dict[str, Any] = self._app.acquire_token_for_client(scopes=self._scopes)
        return result


class UserTokens(_Cached):
    """A delegated login from the persisted msal cache (device code or auth code, login.py)."""

    def __init__(self, opts: OneDriveOptions, ep: Endpoints, http: requests.Session) -> None:
        super().__init__()
        self._file = TokenFile(cache_path(opts), key="token_file")
        data = self._file.load()
        raw = data.get("msal_cache")
        if not isinstance(raw, str):
            raise ConfigError("token_file", f"{self._file.path} is not an onedrive login cache")
        self._meta = {k: v for k, v in data.items() if k != "msal_cache"}
        if data.get("client_id") not in (None, opts.client_id):
            raise ConfigError(
                "client_id",
                f"{self._file.path} was written for another client_id; {LOGIN_AGAIN}",
            )
        self._cache = msal.SerializableTokenCache()
        self._cache.deserialize(raw)
        register_cache_secrets(raw)
        self._app = msal_app(opts.client_id, ep, http, cache=self._cache)
        self._scopes = list(data.get("scopes") or user_scopes(ep, False))

    def describe(self) -> str:
        return f"login cached in {self._file.path}"

    def _account(self) -> Any:
        accounts = self._app.get_accounts()
        wanted = self._meta.get("home_account_id")
        for acc in accounts:
            if acc.get("home_account_id") == wanted:
                return acc
        return accounts[0] if accounts else None

    def _acquire(self, force: bool) -> dict[str, Any] | None:
        account = self._account()
        if account is None:
            return None
        result: dict[str, Any] | None = self._app.acquire_token_silent_with_error(
            self._scopes, account, force_refresh=force
        )
        if self._cache.has_state_changed:
            save_cache(self._file, self._cache, self._meta)
        return result


def token_source(opts: OneDriveOptions, ep: Endpoints, http: requests.Session) -> _Cached:
    # msal reads the authority's OpenID configuration as it is built: an unreachable
    # authority_host is a network error there, said in one line that names the key.
    try:
        if opts.client_secret:
            return AppTokens(opts, ep, http)
        return UserTokens(opts, ep, http)
    except requests.exceptions.RequestException as exc:
        raise KlosetError(
            f"cannot reach the sign-in endpoint {ep.authority} (authority_host): "
            f"{type(exc).__name__}"
        ) from None
