"""GraphEmulator: the listeners' lifecycle, client helpers (msal, a consenting browser), the
test knobs and the request statistics; the seeding API is in ``seeding.py``."""

from __future__ import annotations

import html
import os
import re
import shutil
import ssl
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from types import TracebackType
from typing import Any

import requests

from .auth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, AuthState, Client
from .downloads_api import UrlSigning
from .faults import Faults
from .seeding import SeedingApi
from .server import GraphHTTPServer
from .state import GraphState


class GraphEmulator(SeedingApi):
    """A stateful Microsoft Graph (OneDrive/SharePoint) + Entra ID emulator for tests.

    Use as a context manager; ``authority_url``/``graph_url``/``ca_cert_path`` configure the
    client (msal with ``instance_discovery=False`` and :meth:`msal_http_client`).

    Knobs: ``faults`` (:class:`Faults`), ``expire_tokens``, ``revoke_refresh_tokens``,
    ``approve_device_code``/``deny_device_code``, ``invalidate_delta_tokens``,
    ``expire_download_urls``, ``expire_upload_sessions``, ``set_quota``, ``vault_unlocked``,
    ``delta_include_ancestors``, ``strict_upload_auth`` (401 if a bearer reaches an upload URL).
    Observation: ``stats`` (Counter: ``requests``, one key per request kind, ``status_NNN``,
    ``faults_*``, ``versions``, ``bytes_sent``/``bytes_received``), ``request_log``,
    ``requests_of(kind)``, ``upload_sessions()``, ``tree()``, ``get_item``, ``get_content``.
    Request kinds: discovery, token, devicecode, authorize, me, drive, drives, site, item,
    children, create_folder, patch, delete, content, download, upload_simple, upload_session,
    upload_fragment, upload_status, upload_cancel, delta, versions, other.
    """

    def __init__(
        self,
        *,
        tenant_id: str = DEFAULT_TENANT_ID,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        drive_type: str = "personal",
        auto_approve_device: bool = False,
        device_interval: int = 5,
        access_token_lifetime: int = 3599,
        download_url_lifetime: float = 3600.0,
        strict_upload_auth: bool = True,
        http_listener: bool = False,
        seed: int = 0,
    ) -> None:
        self.stats: Counter[str] = Counter()
        self._stats_lock = threading.Lock()
        self.request_log: deque[dict[str, Any]] = deque(maxlen=20000)
        self.state = GraphState(self.stats, drive_type)
        self.auth = AuthState(
            tenant_id=tenant_id,
            access_token_lifetime=access_token_lifetime,
            device_interval=device_interval,
            auto_approve_device=auto_approve_device,
        )
        self.auth.clients[client_id] = Client(client_id, client_secret)
        self.client_id = client_id
        self.client_secret = client_secret
        self.tenant_id = tenant_id
        self.faults = Faults(seed=seed)
        self.download_url_lifetime = download_url_lifetime
        self.strict_upload_auth = strict_upload_auth
        self.vault_unlocked = False
        self._http_listener = http_listener
        self.urls = UrlSigning()
        self._servers: list[GraphHTTPServer] = []
        self._threads: list[threading.Thread] = []
        self._tmpdir: str | None = None
        self._ca_path = ""

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> GraphEmulator:
        """Generate the certificates and start the listeners (port 0: free ports)."""
        import trustme

        self._tmpdir = tempfile.mkdtemp(prefix="graph-emu-")
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self._ca_path = os.path.join(self._tmpdir, "ca.pem")
        ca.cert_pem.write_to_path(self._ca_path)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(ctx)
        self._servers.append(GraphHTTPServer(self, ctx))
        if self._http_listener:
            self._servers.append(GraphHTTPServer(self, None))
        for srv in self._servers:
            t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1})
            t.daemon = True
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        """Stop listening and cut open keep-alive connections."""
        for srv in self._servers:
            srv.shutdown()
            srv.kill_connections()
            srv.server_close()
        for t in self._threads:
            t.join(timeout=5)
        self._servers.clear()
        self._threads.clear()
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> GraphEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---------------------------------------------------------------- addresses
    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:PORT`` of the TLS listener."""
        return self._servers[0].base_url

    @property
    def authority_url(self) -> str:
        return f"{self.base_url}/{self.tenant_id}"

    @property
    def graph_url(self) -> str:
        return f"{self.base_url}/v1.0"

    @property
    def http_graph_url(self) -> str:
        """Graph over plain HTTP (only with ``http_listener=True``)."""
        if len(self._servers) < 2:
            raise RuntimeError("start the emulator with http_listener=True")
        return f"{self._servers[1].base_url}/v1.0"

    @property
    def ca_cert_path(self) -> str:
        """PEM file of the CA that signed the listener's certificate."""
        return self._ca_path

    @property
    def default_drive_id(self) -> str:
        return self.state.default_drive_id

    def msal_http_client(self) -> requests.Session:
        """A session trusting only our CA; ``trust_env`` off so REQUESTS_CA_BUNDLE can't win."""
        session = requests.Session()
        session.verify = self._ca_path
        session.trust_env = False
        return session

    def msal_app(self, confidential: bool = False, **kwargs: Any) -> Any:
        """A ready msal Public/ConfidentialClientApplication pointed at this emulator."""
        import msal

        common: dict[str, Any] = {
            "authority": self.authority_url,
            "instance_discovery": False,
            "http_client": self.msal_http_client(),
        }
        common.update(kwargs)
        if confidential:
            return msal.ConfidentialClientApplication(
                self.client_id, client_credential=self.client_secret, **common
            )
        return msal.PublicClientApplication(self.client_id, **common)

    def act_as_browser(self, auth_uri: str) -> requests.Response:
        """Play a consenting user's browser: open ``auth_uri`` and deliver the code.

        Follows the 302 of ``response_mode=query`` or submits the auto-posting form of
        ``response_mode=form_post`` (what msal's ``acquire_token_interactive`` uses) to the
        loopback redirect URI, and returns the loopback listener's answer.
        """
        s = self.msal_http_client()
        r = s.get(auth_uri, allow_redirects=False)
        if r.status_code == 302:
            return s.get(r.headers["Location"])
        form = re.search(r'<form method="POST" action="([^"]+)">', r.text)
        if r.status_code != 200 or form is None:
            return r
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"/>', r.text))
        fields = {html.unescape(k): html.unescape(v) for k, v in fields.items()}
        return s.post(html.unescape(form.group(1)), data=fields)

    def browser_opener(self) -> Callable[..., bool]:
        """A stand-in for ``webbrowser.open`` that runs :meth:`act_as_browser` in a thread."""

        def open_url(url: str, *args: Any, **kwargs: Any) -> bool:
            threading.Thread(target=self.act_as_browser, args=(url,), daemon=True).start()
            return True

        return open_url

    # ---------------------------------------------------------------- test knobs
    def register_client(
        self, client_id: str, secret: str | None = None, allow_public_flows: bool = True
    ) -> None:
        self.auth.clients[client_id] = Client(client_id, secret, allow_public_flows)

    def expire_tokens(self) -> None:
        """Invalidate every access token issued so far (Graph answers 401)."""
        self.auth.expire_tokens()

    def revoke_refresh_tokens(self) -> None:
        """Refresh grants now fail with invalid_grant / AADSTS700082 (90 days idle)."""
        self.auth.revoke_refresh_tokens()

    def approve_device_code(self, user_code: str | None = None) -> int:
        return self.auth.approve_device_code(user_code, True)

    def deny_device_code(self, user_code: str | None = None) -> int:
        return self.auth.approve_device_code(user_code, False)

    @property
    def auto_approve_device(self) -> bool:
        return self.auth.auto_approve_device

    @auto_approve_device.setter
    def auto_approve_device(self, value: bool) -> None:
        self.auth.auto_approve_device = value

    def invalidate_delta_tokens(self) -> None:
        """Every deltaLink handed out so far now answers 410 resyncRequired."""
        self.state.invalidate_delta_tokens()

    def expire_download_urls(self) -> None:
        """Every ``@microsoft.graph.downloadUrl`` handed out so far now answers 401."""
        self.urls.generation += 1

    def expire_next_download_urls(self, count: int) -> None:
        """The next ``count`` download URLs handed out have expired before their first use
        (a slow client, a queue: Graph's URLs live about an hour)."""
        with self.state.lock:
            self.urls.stale = count

    @property
    def delta_include_ancestors(self) -> bool:
        return self.state.delta_include_ancestors

    @delta_include_ancestors.setter
    def delta_include_ancestors(self, value: bool) -> None:
        self.state.delta_include_ancestors = value

    def expire_upload_sessions(self) -> None:
        """Open upload sessions vanish (their URLs answer 404)."""
        with self.state.lock:
            for s in self.state.sessions.values():
                s.expires = 0

    def upload_sessions(self) -> list[dict[str, Any]]:
        """Per session: received ranges, bytes received (resends count), fragment log."""
        with self.state.lock:
            return [s.info() for s in self.state.sessions.values()]

    def reset_stats(self) -> None:
        with self._stats_lock:
            self.stats.clear()
            self.request_log.clear()

    def requests_of(self, kind: str) -> list[dict[str, Any]]:
        """Logged requests of one kind (``download``, ``upload_fragment``...)."""
        with self._stats_lock:
            return [r for r in self.request_log if r["kind"] == kind]

    def count(self, key: str) -> None:
        """One more of ``key`` in ``stats`` (faults, ranged downloads)."""
        with self._stats_lock:
            self.stats[key] += 1

    def record_request(
        self,
        method: str,
        path: str,
        kind: str,
        status: int,
        n_in: int,
        n_out: int,
        took: float,
        fault: str,
    ) -> None:
        with self._stats_lock:
            self.stats["requests"] += 1
            self.stats[kind] += 1
            self.stats["bytes_received"] += n_in
            self.stats["bytes_sent"] += n_out
            if status:
                self.stats[f"status_{status}"] += 1
            self.request_log.append(
                {
                    "method": method,
                    "path": path,
                    "kind": kind,
                    "status": status,
                    "bytes_in": n_in,
                    "bytes_out": n_out,
                    "seconds": took,
                    "fault": fault,
                    "time": time.time(),
                }
            )
