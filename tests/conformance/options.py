"""pytest options to point the conformance suite at any plugin executable.

pytest tests/conformance --plugin PATH --kind storage --config location=... [--proto P]
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kloset conformance")
    group.addoption(
        "--plugin", default="", help="plugin command line (shell-quoted), e.g. ./s3Storage"
    )
    group.addoption("--kind", default="", help="importer, exporter or storage")
    group.addoption("--config", action="append", default=[], help="config key=value (repeat)")
    group.addoption(
        "--exports-xattrs",
        action="store_true",
        help="the exporter declares it keeps xattrs (sets EXPORTXATTR)",
    )
    group.addoption("--proto", default="", help="protocol sent in Init (default: from location)")
