"""Tiny complete connectors, one per kind, written with the SDK: read them to learn it.

Run one as a plugin with `python -m kloset_sdk.examples.tree importer|exporter` or
`python -m kloset_sdk.examples.memstore`.
"""
