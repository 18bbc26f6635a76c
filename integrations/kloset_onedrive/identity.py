"""msal plumbing shared by the runtime token sources (auth.py) and the login flows (login.py).

The token cache file is msal's SerializableTokenCache (a JSON string) inside a kloset
TokenFile document, next to what a later run needs to pick the right account: the client id,
the authority, the scopes and the account's home id. TokenFile writes it atomically with mode
0600; every token found in it is registered as a secret so no log line can show it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msal
import requests

from kloset_sdk import PermissionDenied
from kloset_sdk import log as sdk_log
from kloset_sdk.oauth import TokenFile, default_token_path

from .options import Endpoints, OneDriveOptions

NAME = "onedrive"
LOGIN_AGAIN = "run `klosetctl login onedrive --client-id ID` again (ID: your client_id)"


def user_scopes(ep: Endpoints, sharepoint: bool) -> list[str]:
    """Delegated scopes; qualified with the Graph host outside the global cloud."""
    names = ["Files.ReadWrite.All"] + (["Sites.ReadWrite.All"] if sharepoint else [])
    if ep.resource == "https://graph.microsoft.com":
        return names
    return [f"{ep.resource}/{n}" for n in names]


def cache_path(opts: OneDriveOptions) -> Path:
    return Path(opts.token_file).expanduser() if opts.token_file else default_token_path(NAME)


def msal_app(
    client_id: str,
    ep: Endpoints,
    http: requests.Session,
    secret: str | None = None,
    cache: msal.SerializableTokenCache | None = None,
) -> Any:
    common: dict[str, Any] = {
        "authority": ep.authority,
        "http_client": http,
        "token_cache": cache,
        "instance_discovery": ep.instance_discovery,
    }
    if secret:
        return msal.ConfidentialClientApplication(client_id, client_credential=secret, **common)
    return msal.PublicClientApplication(client_id, **common)


def check_result(result: dict[str, Any] | None, what: str) -> str:
    """msal answers dicts; an error becomes a message that says what to do."""
    if result and "access_token" in result:
        sdk_log.register_secret(result["access_token"])
        return str(result["access_token"])
    if not result:
        raise PermissionDenied(f"{what}: no usable login in the token cache; {LOGIN_AGAIN}")
    codes = result.get("error_codes") or []
    desc = str(result.get("error_description", "")).split(" Trace ID:")[0].strip()
    if 700082 in codes or "AADSTS700082" in desc:
        raise PermissionDenied(
            f"{what}: the refresh token expired after 90 days without use ({desc}); {LOGIN_AGAIN}"
        )
    if result.get("error") == "invalid_grant":
        raise PermissionDenied(f"{what}: the stored login was refused ({desc}); {LOGIN_AGAIN}")
    if result.get("error") in ("invalid_client", "unauthorized_client"):
        raise PermissionDenied(f"{what}: client_id/client_secret refused ({desc})")
    raise PermissionDenied(f"{what}: {result.get('error', 'error')}: {desc}")


def register_cache_secrets(raw: str) -> None:
    """Refresh and access tokens in the cache are masked in every log line."""
    try:
        doc = json.loads(raw)
    except ValueError:
        return
    for section in ("RefreshToken", "AccessToken", "IdToken"):
        for entry in (doc.get(section) or {}).values():
            if isinstance(entry, dict):
                sdk_log.register_secret(entry.get("secret"))


def save_cache(file: TokenFile, cache: msal.SerializableTokenCache, meta: dict[str, Any]) -> None:
    raw = cache.serialize()
    register_cache_secrets(raw)
    file.save({**meta, "msal_cache": raw})
    cache.has_state_changed = False
