"""Test integration: the SDK's example tree importer/exporter under the `tree` protocol."""

NAME = "tree"
PROTOCOLS = ("tree",)
CONNECTORS = {
    "importer": "kloset_sdk.examples.tree:TreeImporter",
    "exporter": "kloset_sdk.examples.tree:TreeExporter",
}
