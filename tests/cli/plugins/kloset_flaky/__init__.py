"""Test integration that fails on purpose: an error record, a read that breaks mid-file, and an
exporter that refuses names containing "reject" (for `klosetctl copy` failure handling)."""

NAME = "flaky"
PROTOCOLS = ("flaky",)
CONNECTORS = {
    "importer": "kloset_flaky.connectors:FlakyImporter",
    "exporter": "kloset_flaky.connectors:FlakyExporter",
}
