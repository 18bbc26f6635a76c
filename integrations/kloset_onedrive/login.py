"""`klosetctl login onedrive`: get a user's consent once, keep the msal cache 0600, print config.

Two flows, both ending in the same cache file (auth.py reads it at every run):
- device code: for headless machines; the user types a short code on another device.
- auth code with a loopback redirect: msal's `acquire_token_interactive` would try to open a
  browser itself and run its own server; `initiate_auth_code_flow` + a one-request HTTP server
  on 127.0.0.1 (an ephemeral port; Entra ID accepts any port on a loopback redirect) +
  `acquire_token_by_auth_code_flow` keeps the browser step in the caller's hands (`open_url`),
  so a CLI can print the URL and a test can follow it.
"""

from __future__ import annotations

import sys
import threading
import webbrowser
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msal

from kloset_sdk import PermissionDenied
from kloset_sdk.oauth import TokenFile

from .client import GraphClient, new_session
from .identity import cache_path, check_result, msal_app, save_cache, user_scopes
from .options import OneDriveOptions, endpoints


def config_lines(config: dict[str, str]) -> list[str]:
    """`key=value` lines to append to `plakar source|destination|store add ...`."""
    return [f"{k}={v}" for k, v in config.items()]


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _print_url(url: str) -> None:
    _stderr(f"Open this address to sign in:\n  {url}")


def _browser(url: str) -> None:
    _print_url(url)
    webbrowser.open(url)


class _Login:
    def __init__(self, client_id: str, settings: dict[str, Any]) -> None:
        self.opts = OneDriveOptions(location="onedrive:///", client_id=client_id, **settings)
        self.ep = endpoints(self.opts)
        self.http = new_session(self.opts.ca_bundle)
        self.cache = msal.SerializableTokenCache()
        self.app = msal_app(client_id, self.ep, self.http, cache=self.cache)
        self.scopes = user_scopes(self.ep, sharepoint=self.opts.drive_type == "documentLibrary")

    def finish(self, result: dict[str, Any]) -> dict[str, str]:
        """Save the cache (0600), find the user's drive, return the config to use."""
        token = check_result(result, "login")
        accounts = self.app.get_accounts()
        account = accounts[0] if accounts else {}
        path = cache_path(self.opts)
        meta = {
            "client_id": self.opts.client_id,
            "authority": self.ep.authority,
            "scopes": self.scopes,
            "home_account_id": account.get("home_account_id"),
            "username": account.get("username", ""),
        }
        save_cache(TokenFile(path), self.cache, meta)
        drive = GraphClient(self.opts, tokens=_Fixed(token)).json("GET", "")
        config = {"client_id": self.opts.client_id}
        if self.opts.tenant != "common":
            config["tenant"] = self.opts.tenant
        if self.opts.region != "global":
            config["region"] = self.opts.region
        config["token_file"] = str(path)
        if drive.get("id"):
            config["drive_id"] = str(drive["id"])
        if drive.get("driveType"):
            config["drive_type"] = str(drive["driveType"])
        for key in ("graph_endpoint", "authority_host", "ca_bundle"):
            if getattr(self.opts, key):
                config[key] = str(getattr(self.opts, key))
        return config


class _Fixed:
    """The token just obtained, for the one Graph call that finds the user's drive."""

    def __init__(self, token: str) -> None:
        self._token = token

    def token(self) -> str:
        return self._token

    def refresh(self, stale: str) -> str:
        raise PermissionDenied("the token from this login was refused by Graph")


def _settings(
    tenant: str,
    token_cache: str | None,
    region: str,
    drive_type: str | None,
    graph_endpoint: str | None,
    authority_host: str | None,
    ca_bundle: str | None,
) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "token_file": token_cache,
        "region": region,
        "drive_type": drive_type,
        "graph_endpoint": graph_endpoint,
        "authority_host": authority_host,
        "ca_bundle": ca_bundle,
    }


def login_device_code(
    client_id: str,
    tenant: str = "common",
    token_cache: str | None = None,
    token_file: str | None = None,
    region: str = "global",
    drive_type: str | None = None,
    graph_endpoint: str | None = None,
    authority_host: str | None = None,
    ca_bundle: str | None = None,
    show: Callable[[str], None] = _stderr,
) -> dict[str, str]:
    """Device code flow; `show` gets msal's "go to ... and enter the code ..." message.

    `token_file` is an alias of `token_cache` (the CLI's generic flag). Returns the config.
    """
    login = _Login(
        client_id,
        _settings(
            tenant,
            token_cache or token_file,
            region,
            drive_type,
            graph_endpoint,
            authority_host,
            ca_bundle,
        ),
    )
    flow = login.app.initiate_device_flow(scopes=login.scopes)
    if "user_code" not in flow:
        raise PermissionDenied(f"device login refused: {flow.get('error_description', flow)}")
    show(str(flow["message"]))
    return login.finish(login.app.acquire_token_by_device_flow(flow))


def login_auth_code(
    client_id: str,
    tenant: str = "common",
    token_cache: str | None = None,
    token_file: str | None = None,
    region: str = "global",
    drive_type: str | None = None,
    graph_endpoint: str | None = None,
    authority_host: str | None = None,
    ca_bundle: str | None = None,
    open_browser: bool = True,
    open_url: Callable[[str], None] | None = None,
    timeout: float = 300.0,
) -> dict[str, str]:
    """Auth code flow (PKCE, form_post) with a loopback redirect; `open_url` shows the page.

    By default the address is printed to stderr and handed to the browser (not with
    open_browser=False). Returns the config.
    """
    settings = _settings(
        tenant,
        token_cache or token_file,
        region,
        drive_type,
        graph_endpoint,
        authority_host,
        ca_bundle,
    )
    login = _Login(client_id, settings)
    show_url = open_url or (_browser if open_browser else _print_url)
    got: dict[str, str] = {}
    done = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        """Takes the one redirect carrying the code: a form POST (form_post), or a query."""

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self._answer(self.rfile.read(length).decode("ascii", "replace"))

        def do_GET(self) -> None:
            self._answer(urlsplit(self.path).query)

        def _answer(self, encoded: str) -> None:
            fields = {k: v[-1] for k, v in parse_qs(encoded).items()}
            if "code" not in fields and "error" not in fields:
                self.send_error(404)
                return
            got.update(fields)
            body = b"<html><body>Signed in; you can close this window.</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            done.set()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the request holds the authorization code."""

    server = HTTPServer(("127.0.0.1", 0), Handler)
    server.timeout = 0.2
    redirect = f"http://127.0.0.1:{server.server_address[1]}"

    def serve() -> None:
        while not done.is_set():
            server.handle_request()

    thread = threading.Thread(target=serve, name="onedrive-login", daemon=True)
    thread.start()
    try:
        flow = login.app.initiate_auth_code_flow(
            login.scopes, redirect_uri=redirect, response_mode="form_post"
        )
        show_url(str(flow["auth_uri"]))
        if not done.wait(timeout):
            raise PermissionDenied(f"no sign-in answer on {redirect} within {timeout:.0f}s")
        result = login.app.acquire_token_by_auth_code_flow(flow, got)
    finally:
        done.set()
        thread.join(2)
        server.server_close()
    return login.finish(result)
