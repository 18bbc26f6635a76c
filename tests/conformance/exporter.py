"""The exporter suite lives in `kloset_sdk.testing`; this module keeps the old import path."""

from kloset_sdk.testing.exporter import ExporterConformance

__all__ = ["ExporterConformance"]
