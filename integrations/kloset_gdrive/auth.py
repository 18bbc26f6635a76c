"""Credentials for Drive, and the login flows the CLI runs (rclone's `config` step).

Three sources, exactly one per config:
- `token_file`: written by `login_installed_app` (0600, kloset_sdk.oauth.TokenFile); it holds the
  client id, secret and refresh token, so the config needs one key;
- `refresh_token` + `client_id` + `client_secret` in the config itself;
- `service_account_file` (a key JSON), with `impersonate` for Workspace domain-wide delegation.

User credentials are refreshed without asking for scopes: Google answers `invalid_scope` when a
refresh asks for a scope the consent did not literally grant (drive.readonly after drive), so the
`scope` option only matters at login and for service accounts.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qs, urlsplit

from kloset_sdk import ConfigError
from kloset_sdk import log as _log
from kloset_sdk.oauth import TokenFile, default_token_path

from .options import (
    GOOGLE_API,
    GOOGLE_AUTH_URI,
    GOOGLE_TOKEN_URI,
    SCOPE_PREFIX,
    GdriveOptions,
    check,
)

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

#: Where the headless flow sends the browser: nothing listens there, the user copies the address.
HEADLESS_REDIRECT = "http://localhost"


def credentials(opts: GdriveOptions) -> Credentials:
    """The google-auth credentials the config describes; ConfigError names what is wrong."""
    check(opts)  # exactly one source of credentials
    from google.oauth2 import credentials as user_creds
    from google.oauth2 import service_account

    sa_class: Any = service_account.Credentials
    user_class: Any = user_creds.Credentials
    custom_uri = opts.token_uri if opts.token_uri != GOOGLE_TOKEN_URI else None
    if opts.service_account_file:
        path = os.path.expanduser(opts.service_account_file)
        try:
            with open(path) as f:
                info = json.load(f)
            if custom_uri:
                info["token_uri"] = custom_uri
            sa = sa_class.from_service_account_info(info, scopes=[opts.scope_url])
        except (OSError, ValueError) as exc:
            raise ConfigError("service_account_file", f"{path}: {exc}") from None
        if opts.impersonate:
            sa = sa.with_subject(opts.impersonate)
        return cast("Credentials", sa)
    if opts.token_file:
        info = TokenFile(opts.token_file).load()
        missing = [k for k in ("client_id", "client_secret", "refresh_token") if not info.get(k)]
        if missing:
            raise ConfigError(
                "token_file", f"{opts.token_file} lacks {', '.join(missing)} (log in again)"
            )
        client_id, secret, refresh = info["client_id"], info["client_secret"], info["refresh_token"]
        token_uri = custom_uri or info.get("token_uri") or GOOGLE_TOKEN_URI
    else:
        client_id, secret, refresh = opts.client_id, opts.client_secret, opts.refresh_token
        token_uri = opts.token_uri
    _log.register_secret(secret)
    _log.register_secret(refresh)
    return cast(
        "Credentials",
        user_class(
            None,
            refresh_token=refresh,
            client_id=client_id,
            client_secret=secret,
            token_uri=token_uri,
        ),
    )


# -- login (run by the CLI, never by a plugin) --------------------------------------------------


class LoginResult(dict[str, str]):
    """The config keys a login produced (a mapping: what `klosetctl login` prints), plus the
    token file and ready-to-paste `plakar source|destination|store add` lines."""

    def __init__(self, token_file: Path, config: dict[str, str], lines: list[str]) -> None:
        super().__init__(config)
        self.token_file = token_file
        self.lines = lines


def login_installed_app(
    client_id: str,
    client_secret: str,
    token_file: str | os.PathLike[str] | None = None,
    headless: bool = False,
    auth_uri: str = GOOGLE_AUTH_URI,
    token_uri: str = GOOGLE_TOKEN_URI,
    scope: str = "drive",
    api_endpoint: str = GOOGLE_API,
    on_url: Callable[[str], None] | None = None,
    read_code: Callable[[], str] | None = None,
) -> LoginResult:
    """OAuth installed-app login; stores the refresh token 0600 and returns the config lines.

    Loopback (default): a one-shot server on 127.0.0.1, a random port, catches the redirect; the
    URL to open is printed on stderr (and handed to `on_url`, which tests use as the browser).
    `on_url` runs before the server waits, so it must not block (start a thread).
    Headless: the URL is printed; the user consents on any machine, the browser then fails to
    load `http://localhost/?code=...`, and the user pastes that address (or the code alone) on
    stdin (`read_code` replaces stdin).

    The config holds every non-default endpoint the login used (`token_uri`, `api_endpoint`):
    pasted as printed, it must reach the service that minted the token, not Google's.
    """
    from google_auth_oauthlib.flow import Flow, InstalledAppFlow

    if _loopback_http(token_uri) or _loopback_http(auth_uri):
        os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")  # emulators speak plain http
    config = {
        "installed": {
            "client_id": client_id,
            "client_secret": client_secret,
            "auth_uri": auth_uri,
            "token_uri": token_uri,
            "redirect_uris": [HEADLESS_REDIRECT],
        }
    }
    scopes = [scope if scope.startswith("https://") else SCOPE_PREFIX + scope]
    params = {"access_type": "offline", "prompt": "consent"}
    if headless:
        flow = Flow.from_client_config(config, scopes=scopes, redirect_uri=HEADLESS_REDIRECT)
        url, state = flow.authorization_url(**params)
        _show(
            url,
            on_url,
            "Open this URL in a browser, consent, then paste the address it was"
            " sent to (or just the code) here:",
        )
        answer = (read_code or _read_stdin)().strip()
        flow.fetch_token(code=_code_from(answer, state))
        creds: Any = flow.credentials
    else:
        flow = InstalledAppFlow.from_client_config(config, scopes=scopes)
        with contextlib.redirect_stdout(_Prompt(on_url)):
            creds = flow.run_local_server(
                host="127.0.0.1",
                port=0,
                open_browser=False,
                authorization_prompt_message="Open this URL in a browser to log in: {url}",
                success_message="Logged in: you may close this window.",
                **params,
            )
    if not creds.refresh_token:
        raise ConfigError("login", "Google returned no refresh token (revoke the app and retry)")
    path = Path(token_file) if token_file else default_token_path("gdrive")
    TokenFile(path).save(
        {
            "type": "authorized_user",
            "client_id": client_id,
            "client_secret": client_secret,
            "refresh_token": creds.refresh_token,
            "token_uri": token_uri,
            "scopes": scopes,
        }
    )
    conf = {"token_file": str(path)}
    if token_uri != GOOGLE_TOKEN_URI:
        conf["token_uri"] = token_uri
    if api_endpoint != GOOGLE_API:
        conf["api_endpoint"] = api_endpoint
    return LoginResult(path, conf, plakar_lines(conf))


def plakar_lines(conf: dict[str, str]) -> list[str]:
    """Ready-to-paste lines (shell-quoted): the whole drive as a source, a folder to restore
    into, a folder for the repository (folders are made on first use)."""
    import shlex

    opts = " ".join(shlex.quote(f"{k}={v}") for k, v in conf.items())
    return [
        f"plakar source add mydrive gdrive:// {opts}",
        f"plakar destination add mydrive gdrive://Restored {opts}",
        f"plakar store add mydrive gdrive://plakar {opts}",
    ]


def login_headless(**kw: Any) -> LoginResult:
    """The copy-the-address variant of `login_installed_app`, for machines without a browser."""
    return login_installed_app(**{**kw, "headless": True})


def _loopback_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")


def _show(url: str, on_url: Callable[[str], None] | None, text: str) -> None:
    sys.stderr.write(f"{text}\n\n    {url}\n\n")
    sys.stderr.flush()
    if on_url is not None:
        on_url(url)


def _read_stdin() -> str:
    return sys.stdin.readline()


def _code_from(answer: str, state: str) -> str:
    """The code from a pasted redirect address (checking its state) or a bare code."""
    if not answer.startswith(("http://", "https://")):
        return answer
    query = parse_qs(urlsplit(answer).query)
    if "error" in query:
        raise ConfigError("login", f"the authorization was refused: {query['error'][0]}")
    if query.get("state", [state])[0] != state:
        raise ConfigError("login", "the pasted address belongs to another login attempt")
    if "code" not in query:
        raise ConfigError("login", "the pasted address holds no code")
    return query["code"][0]


class _Prompt(io.TextIOBase):
    """Stands in for stdout while run_local_server prints its prompt: stderr, plus `on_url`."""

    def __init__(self, on_url: Callable[[str], None] | None) -> None:
        self._on_url = on_url

    def write(self, s: str) -> int:
        sys.stderr.write(s)
        sys.stderr.flush()
        m = re.search(r"https?://\S+", s)
        if m and self._on_url is not None:
            self._on_url(m.group(0))
        return len(s)
