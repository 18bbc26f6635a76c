"""The storage suite lives in `kloset_sdk.testing`; this module keeps the old import path."""

from kloset_sdk.testing.checks import MiB, mac_of
from kloset_sdk.testing.storage import StorageConformance, StorageLifecycle, assert_clean_error

__all__ = ["MiB", "StorageConformance", "StorageLifecycle", "assert_clean_error", "mac_of"]
