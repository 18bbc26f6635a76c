"""Every gdrive config key, once, and what follows from them.

Auth comes from exactly one source (token_file, refresh_token + client id/secret, or a service
account key); the advanced `api_endpoint` / `token_uri` keys point the plugin at another Drive
front end, which is how the tests reach the emulator.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Literal
from urllib.parse import urlsplit

from kloset_sdk import ConfigError, option
from kloset_sdk import common_options as common
from kloset_sdk.retry import RetryOptions

KiB = 1024
MiB = 1024 * KiB
#: Resumable upload chunks must be multiples of 256 KiB (all but the last).
UPLOAD_UNIT = 256 * KiB
GOOGLE_API = "https://www.googleapis.com/"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/auth"
SCOPE_PREFIX = "https://www.googleapis.com/auth/"
MAX_LOCATION = 4096

Scope = Literal["drive", "drive.readonly", "drive.file"]

DEFAULT_EXPORT_FORMATS = [
    "document=docx",
    "spreadsheet=xlsx",
    "presentation=pptx",
    "drawing=svg",
]


def _mib(value: int) -> int:
    """counted in MiB"""
    return value * MiB


@dataclass(frozen=True)
class GdriveOptions(RetryOptions):
    location: str = common.location(
        "gdrive://<path>: a folder path in My Drive (gdrive:// alone is the root); with"
        " root_folder_id or shared_drive_id the path is below that folder."
    )
    token_file: str = common.token_file(
        "",
        "OAuth token file written by `klosetctl login gdrive` (mode 0600); holds the"
        " client id, secret and refresh token, so nothing else is needed.",
    )
    client_id: str = option("", help="OAuth client id (with client_secret and refresh_token).")
    client_secret: str = common.secret("OAuth client secret.", default="")
    refresh_token: str = common.secret("OAuth refresh token (instead of token_file).", default="")
    service_account_file: str = option(
        "", help="Service account key (JSON); Drive access as that account, or see impersonate."
    )
    impersonate: str = option(
        "",
        help="With service_account_file: act as this user (Workspace domain-wide delegation).",
    )
    scope: Scope = option(
        "drive",
        help="OAuth scope asked for by the login and by service accounts: drive, drive.readonly"
        " (enough for the importer) or drive.file (only files this app created).",
    )
    root_folder_id: str = option("", help="Start from this folder id instead of the My Drive root.")
    shared_drive_id: str = option("", help="Use this shared drive (its id) instead of My Drive.")
    shared_with_me: bool = common.importer_flag(
        "Back up the items shared with you (Drive's 'Shared with me') instead of My Drive."
    )
    include_trashed: bool = common.importer_flag("Also back up items in the trash.")
    skip_shortcuts: bool = common.importer_flag(
        "Ignore shortcuts instead of following them (followed, a shortcut to one of its own"
        " ancestor folders becomes a relative symlink)."
    )
    export_formats: list[str] = option(
        DEFAULT_EXPORT_FORMATS,
        kinds=common.IMPORTER,
        help="How Google Docs are exported, as kind=extension pairs (kinds: document,"
        " spreadsheet, presentation, drawing, script, jam); kinds not listed keep their default.",
    )
    metadata: bool = common.importer_flag(
        default=True,
        help="Record a file's Drive MIME type as the xattr user.gdrive.mime_type where a restore"
        " needs it: Google Docs, and files whose name suggests another type. false: never.",
    )
    checksums: bool = common.checksums(
        "Also record every file's Drive md5 and sha256 as xattrs (two more records per file,"
        " read again by every backup; downloads and uploads check the md5 either way).",
    )
    acknowledge_abuse: bool = common.importer_flag(
        "Download files Google flagged as malware or spam (otherwise they fail)."
    )
    incremental: bool = common.incremental(
        "Use the changes API: after a first full walk, a backup asks Drive only for what"
        " changed (the item map and page token live in state_file)."
    )
    state_file: str = common.state_file(
        "",
        "Where incremental backups keep their state (default: one file per source under"
        " ~/.config/kloset-connectors/).",
    )
    part_size: int = common.part_size(
        8 * MiB,
        minimum=UPLOAD_UNIT,
        maximum=1024 * MiB,
        aliases={"chunk_size": _mib},
        help="Bytes per resumable upload request, a multiple of 262144 (256 KiB); files below"
        " it go in one multipart request.",
    )
    api_endpoint: str = common.endpoint(
        GOOGLE_API, "Drive API root URL (tests point it at an emulator)."
    )
    token_uri: str = common.endpoint(
        GOOGLE_TOKEN_URI,
        "OAuth token endpoint (the token or key file's own one is used if this is left"
        " at its default).",
    )

    # -- derived -----------------------------------------------------------------------------
    @property
    def path_parts(self) -> list[str]:
        """The location's folder path, not URL-decoded (Drive names may hold a literal `%`)."""
        loc = self.location
        shown = json.dumps(loc[:60]) + ("..." if len(loc) > 60 else "")
        if loc[:9].lower() != "gdrive://":
            raise ConfigError("location", f"expected gdrive://<path>, got {shown}")
        if len(loc) > MAX_LOCATION:
            raise ConfigError("location", f"is longer than {MAX_LOCATION} characters")
        if any(ord(c) < 32 or c == "\x7f" for c in loc):
            raise ConfigError("location", f"holds control characters: {shown}")
        parts = [p for p in loc[9:].split("/") if p]
        if any(p in (".", "..") for p in parts):
            raise ConfigError("location", f"no . or .. folders in a Drive path: {shown}")
        return parts

    @property
    def path(self) -> str:
        return "/" + "/".join(self.path_parts)

    @property
    def scope_url(self) -> str:
        return SCOPE_PREFIX + self.scope

    @property
    def root_url(self) -> str:
        return self.api_endpoint.rstrip("/") + "/"

    @property
    def origin(self) -> str:
        """InitResponse origin: the service and which drive (`type:origin` groups sources)."""
        host = (
            "drive.google.com"
            if self.api_endpoint == GOOGLE_API
            else urlsplit(self.root_url).netloc
        )
        if self.shared_drive_id:
            return f"{host}/drives/{self.shared_drive_id}"
        if self.root_folder_id:
            return f"{host}/folders/{self.root_folder_id}"
        return f"{host}/shared-with-me" if self.shared_with_me else f"{host}/my-drive"

    def fingerprint(self) -> str:
        """What decides an imported tree's shape: incremental state is valid only for it."""
        keys = {
            k: v
            for k, v in asdict(self).items()
            if k
            in (
                "location",
                "root_folder_id",
                "shared_drive_id",
                "shared_with_me",
                "include_trashed",
                "skip_shortcuts",
                "export_formats",
                "api_endpoint",
                "token_file",
                "client_id",
                "service_account_file",
                "impersonate",
            )
        }
        return hashlib.sha256(json.dumps(keys, sort_keys=True).encode()).hexdigest()[:20]

    def validate(self) -> None:
        """Checks a JSON Schema cannot express; each error names its key."""
        self.path_parts  # noqa: B018 - raises on a malformed location
        if self.part_size % UPLOAD_UNIT:
            raise ConfigError(
                "part_size", f"{self.part_size} is not a multiple of {UPLOAD_UNIT} (256 KiB)"
            )
        if self.shared_with_me and (self.shared_drive_id or self.root_folder_id):
            raise ConfigError(
                "shared_with_me", "cannot be combined with shared_drive_id/root_folder_id"
            )
        sources = [
            k for k in ("token_file", "refresh_token", "service_account_file") if getattr(self, k)
        ]
        if len(sources) > 1:
            raise ConfigError(sources[1], f"set only one of {', '.join(sources)}")
        if not sources:
            raise ConfigError(
                "token_file",
                "no credentials: run `klosetctl login gdrive --client-id ID --client-secret"
                " SECRET` and set token_file, or set"
                " refresh_token with client_id and client_secret, or service_account_file",
            )
        if self.refresh_token:
            for key in ("client_id", "client_secret"):
                if not getattr(self, key):
                    raise ConfigError(key, "is required with refresh_token")
        if self.impersonate and not self.service_account_file:
            raise ConfigError("impersonate", "needs service_account_file (domain-wide delegation)")
        if not self.api_endpoint.startswith(("http://", "https://")):
            raise ConfigError("api_endpoint", f'"{self.api_endpoint}" is not an http(s) URL')


#: Also called by auth.credentials, which may get options built without parse.
check = GdriveOptions.validate
