"""The importer suite lives in `kloset_sdk.testing`; this module keeps the old import path."""

from kloset_sdk.testing.importer import ImporterConformance

__all__ = ["ImporterConformance"]
