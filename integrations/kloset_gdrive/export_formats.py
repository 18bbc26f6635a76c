"""Google Docs Editors files have no bytes of their own: pick the format each is exported to.

Exports go through the file's `exportLinks`, never `files.export`: the latter refuses results
above 10 MB (`exportSizeLimitExceeded`), the links do not. The extension of the chosen format is
appended to the name, so `Budget` becomes `Budget.xlsx` in the snapshot.

`guess_type` is the MIME type a restore uploads a file with: the importer records a file's
Drive type only where it differs, so the exporter needs no xattr for the rest.
"""

from __future__ import annotations

import mimetypes
import posixpath
from dataclasses import dataclass

from kloset_sdk import ConfigError

APPS = "application/vnd.google-apps."
FOLDER = APPS + "folder"
SHORTCUT = APPS + "shortcut"

#: kind name used in the `export_formats` option -> Drive MIME type.
KINDS = {
    "document": APPS + "document",
    "spreadsheet": APPS + "spreadsheet",
    "presentation": APPS + "presentation",
    "drawing": APPS + "drawing",
    "script": APPS + "script",
    "jam": APPS + "jam",
}

#: extension -> export MIME types Google may list for it (first match wins).
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation",),
    "odt": ("application/vnd.oasis.opendocument.text",),
    "ods": (
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/x-vnd.oasis.opendocument.spreadsheet",
    ),
    "odp": ("application/vnd.oasis.opendocument.presentation",),
    "pdf": ("application/pdf",),
    "rtf": ("application/rtf",),
    "txt": ("text/plain",),
    "html": ("text/html",),
    "md": ("text/markdown",),
    "epub": ("application/epub+zip",),
    "zip": ("application/zip",),
    "csv": ("text/csv",),
    "tsv": ("text/tab-separated-values",),
    "svg": ("image/svg+xml",),
    "png": ("image/png",),
    "jpg": ("image/jpeg",),
    "json": ("application/vnd.google-apps.script+json",),
}

DEFAULTS = {
    "document": "docx",
    "spreadsheet": "xlsx",
    "presentation": "pptx",
    "drawing": "svg",
    "script": "json",
    "jam": "pdf",
}
#: When the wanted format is not offered for a file, try these in order.
FALLBACKS = ("pdf", "zip", "txt")


@dataclass(frozen=True)
class Export:
    extension: str
    mime_type: str
    url: str


def parse(entries: list[str]) -> dict[str, str]:
    """`["document=odt", ...]` -> Drive MIME type -> extension, defaults filled in."""
    wanted = dict(DEFAULTS)
    for entry in entries:
        kind, sep, ext = entry.partition("=")
        kind, ext = kind.strip().lower(), ext.strip().lower().lstrip(".")
        if not sep or kind not in KINDS:
            raise ConfigError(
                "export_formats",
                f'"{entry}" is not kind=extension with kind one of {", ".join(KINDS)}',
            )
        if ext not in EXTENSIONS:
            raise ConfigError(
                "export_formats", f'"{ext}" is not one of {", ".join(sorted(EXTENSIONS))}'
            )
        wanted[kind] = ext
    return {KINDS[k]: v for k, v in wanted.items()}


def is_google_apps(mime: str) -> bool:
    return mime.startswith(APPS) and mime not in (FOLDER, SHORTCUT)


OCTET = "application/octet-stream"
#: Python's own table only (not /etc/mime.types): the same guess on every machine.
_TYPES = mimetypes.MimeTypes()


def guess_type(name: str) -> str:
    """The MIME type a file's name suggests, as Drive's web upload would pick it: the export
    formats' own types first (a restored `Budget.xlsx` is an xlsx), then Python's table."""
    ext = posixpath.splitext(name)[1][1:].lower()
    for mime in EXTENSIONS.get(ext, ()):
        if not is_google_apps(mime):
            return mime
    return _TYPES.guess_type(name, strict=False)[0] or OCTET


def choose(mime: str, links: dict[str, str], wanted: dict[str, str]) -> Export | None:
    """The export to use for a file of type `mime`, or None when Drive offers none (Forms)."""
    if not links:
        return None
    order = [wanted[mime]] if mime in wanted else []
    order += [f for f in FALLBACKS if f not in order]
    for ext in order:
        for export_mime in EXTENSIONS[ext]:
            if export_mime in links:
                return Export(ext, export_mime, links[export_mime])
    export_mime = sorted(links)[0]
    return Export("bin", export_mime, links[export_mime])


def with_extension(name: str, ext: str) -> str:
    """`Budget` -> `Budget.xlsx`; a name already ending in the extension is kept."""
    return name if name.lower().endswith("." + ext) else f"{name}.{ext}"
