"""Stateful Microsoft Graph (OneDrive/SharePoint) + Entra ID emulator for the onedrive tests.

``GraphEmulator`` serves msal's identity endpoints and the Graph drive API over HTTPS on
127.0.0.1; see ``emulator.py`` for the public API and ``sample.py`` for the demo data.
"""

from .auth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID
from .emulator import GraphEmulator
from .faults import Faults
from .quickxor import QuickXorHash, quickxor_b64
from .sample import seed_sample
from .state import FRAGMENT_MAX, FRAGMENT_UNIT, SIMPLE_UPLOAD_MAX, GraphError

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_TENANT_ID",
    "FRAGMENT_MAX",
    "FRAGMENT_UNIT",
    "SIMPLE_UPLOAD_MAX",
    "Faults",
    "GraphEmulator",
    "GraphError",
    "QuickXorHash",
    "quickxor_b64",
    "seed_sample",
]
