"""Test integration whose plugin process dies mid-call (os._exit), for klosetctl's errors."""

NAME = "crashy"
PROTOCOLS = ("crashy",)
CONNECTORS = {
    "importer": "kloset_crashy.connectors:CrashyImporter",
    "exporter": "kloset_crashy.connectors:CrashyExporter",
    "storage": "kloset_crashy.connectors:CrashyStorage",
}
