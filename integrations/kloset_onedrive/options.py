"""Every onedrive config key, once, and what follows from them.

The national clouds differ only by two hosts (Graph and the login authority), so `region` picks
both and the advanced `graph_endpoint` / `authority_host` / `ca_bundle` keys override them; the
tests point those three at the Graph emulator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from kloset_sdk import ConfigError, option
from kloset_sdk import common_options as common
from kloset_sdk.retry import RetryOptions

KiB = 1024
MiB = 1024 * KiB
#: Every upload-session fragment but the last must be a multiple of 320 KiB, and under 60 MiB.
FRAGMENT_UNIT = 320 * KiB
FRAGMENT_LIMIT = 60 * MiB
DEFAULT_FRAGMENT = 32 * FRAGMENT_UNIT  # 10 MiB

#: region -> (Graph endpoint, login host); from Microsoft's national cloud deployment table.
REGIONS = {
    "global": ("https://graph.microsoft.com/v1.0", "login.microsoftonline.com"),
    "us": ("https://graph.microsoft.us/v1.0", "login.microsoftonline.us"),
    "de": ("https://graph.microsoft.de/v1.0", "login.microsoftonline.de"),
    "cn": ("https://microsoftgraph.chinacloudapi.cn/v1.0", "login.chinacloudapi.cn"),
}
_KNOWN_LOGIN_HOSTS = {host for _, host in REGIONS.values()}
#: Tenants that name a kind of account, not a directory: client credentials need a real one.
_MULTI_TENANT = {"common", "organizations", "consumers"}

Region = Literal["global", "us", "de", "cn"]
DriveType = Literal["personal", "business", "documentLibrary"]


@dataclass(frozen=True)
class OneDriveOptions(RetryOptions):
    location: str = common.location(
        "onedrive://<path>: a folder of the drive (onedrive:/// is the root)."
    )
    client_id: str = option(
        required=True, help="Application (client) id of the Entra ID app registration."
    )
    tenant: str = option(
        "common",
        help="Directory (tenant) id or domain; `common` for personal accounts. Required (a real"
        " tenant) with client_secret.",
    )
    client_secret: str | None = common.secret(
        "App secret: log in as the application (client credentials, business tenants);"
        " then name the drive with drive_id, site_id or user."
    )
    region: Region = option("global", help="National cloud: global, us, de or cn.")
    drive_id: str | None = option(None, help="Drive to use (default: the signed-in user's).")
    drive_type: DriveType | None = option(
        None, help="personal, business or documentLibrary; decides the scopes of a login."
    )
    site_id: str | None = option(None, help="SharePoint site id: use its default document library.")
    user: str | None = option(
        None, help="User principal name or id whose OneDrive to use (client credentials)."
    )
    token_file: str | None = common.token_file(
        None,
        aliases={"token_cache": None},
        help="msal token cache written by `klosetctl login onedrive` (0600); default"
        " ~/.config/kloset-connectors/onedrive-default.json.",
    )
    checksums: bool = common.checksums(
        "Also record every file's quickXorHash and sha256 (when OneDrive has them) as xattrs"
        " (one more record each per file, read again by every backup; downloads and uploads"
        " check the quickXorHash either way).",
    )
    incremental: bool = common.incremental(
        aliases={"delta": None},
        help="Incremental backups from /root/delta: only changed items are fetched (the"
        " item map and deltaLink are kept in state_file).",
    )
    state_file: str | None = common.state_file(
        None,
        "Where incremental keeps its item map and deltaLink (default: one file per drive and"
        " path under ~/.config/kloset-connectors/).",
    )
    part_size: int = common.part_size(
        DEFAULT_FRAGMENT,
        aliases={"fragment_size": None},
        minimum=FRAGMENT_UNIT,
        maximum=FRAGMENT_LIMIT - FRAGMENT_UNIT,
        help="Upload-session fragment in bytes: a multiple of 327680 (320 KiB), under 60 MiB;"
        " one fragment is held in memory per upload.",
    )
    concurrency: int = common.concurrency(
        8,
        aliases={"workers": None},
        help="Parallel Graph requests (folder listings, uploads).",
    )
    graph_endpoint: str | None = common.endpoint(
        None, "Graph base URL (default from region, e.g. .../v1.0)."
    )
    authority_host: str | None = common.endpoint(
        None,
        "Login host (default from region, e.g. login.microsoftonline.com).",
    )
    ca_bundle: str | None = option(
        None,
        advanced=True,
        help="CA certificates (PEM) to trust for login and Graph instead of the system ones.",
    )

    def validate(self) -> None:
        """Checks a schema cannot express; options.parse calls it after coercion."""
        if self.part_size % FRAGMENT_UNIT:
            raise ConfigError(
                "part_size", f"{self.part_size} is not a multiple of {FRAGMENT_UNIT} (320 KiB)"
            )
        chosen = [k for k in ("drive_id", "site_id", "user") if getattr(self, k)]
        if len(chosen) > 1:
            raise ConfigError(chosen[1], f"give only one of drive_id, site_id, user (got {chosen})")
        if self.client_secret:
            if self.tenant.lower() in _MULTI_TENANT:
                raise ConfigError(
                    "tenant", "client_secret needs the directory (tenant) id or domain"
                )
            if not chosen:
                raise ConfigError(
                    "drive_id",
                    "an application login has no /me drive: set drive_id, site_id or user",
                )
        root_path(self.location)


@dataclass(frozen=True)
class Endpoints:
    graph: str  # https://graph.microsoft.com/v1.0
    authority: str  # https://login.microsoftonline.com/<tenant>
    resource: str  # https://graph.microsoft.com (scopes are relative to it)
    instance_discovery: bool  # msal's discovery only knows Microsoft's own login hosts


def endpoints(opts: OneDriveOptions) -> Endpoints:
    if opts.region not in REGIONS:
        raise ConfigError("region", f'"{opts.region}" is not one of {", ".join(REGIONS)}')
    graph_default, login_default = REGIONS[opts.region]
    graph = (opts.graph_endpoint or graph_default).rstrip("/")
    split = urlsplit(graph)
    if split.scheme not in ("https", "http") or not split.netloc:
        raise ConfigError("graph_endpoint", f'"{graph}" is not an http(s) URL')
    host = opts.authority_host or login_default
    if "://" not in host:
        host = "https://" + host
    if not host.startswith("https://"):
        raise ConfigError("authority_host", "msal only talks to an https authority")
    return Endpoints(
        graph=graph,
        authority=f"{host.rstrip('/')}/{opts.tenant}",
        resource=f"{split.scheme}://{split.netloc}",
        instance_discovery=urlsplit(host).netloc in _KNOWN_LOGIN_HOSTS,
    )


#: Kept for the connectors' constructors until they stop calling it (validate runs at parse).
check = OneDriveOptions.validate


def root_path(location: str) -> str:
    """`onedrive://Documents/x` and `onedrive:///Documents/x` -> `/Documents/x` (P23)."""
    proto, sep, rest = location.partition(":")
    if not sep or proto.lower() != "onedrive":
        raise ConfigError("location", f'expected onedrive://<path>, got "{location}"')
    parts = [p for p in rest.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise ConfigError("location", f'"{location}": "." and ".." are not allowed')
    return "/" + "/".join(parts)


def drive_base(opts: OneDriveOptions) -> str:
    """Graph path of the drive: every item request hangs off it."""
    if opts.drive_id:
        return f"/drives/{opts.drive_id}"
    if opts.site_id:
        return f"/sites/{opts.site_id}/drive"
    if opts.user:
        return f"/users/{opts.user}/drive"
    return "/me/drive"


def origin(opts: OneDriveOptions) -> str:
    """InitResponse origin: stable for one drive, so Plakar groups its snapshots."""
    if opts.drive_id:
        return opts.drive_id
    if opts.site_id:
        return "site:" + opts.site_id
    if opts.user:
        return "user:" + opts.user
    return "me:" + opts.tenant
