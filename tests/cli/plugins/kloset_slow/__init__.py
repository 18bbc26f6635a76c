"""Test integration: an importer that never ends quickly (1000 files, 0.1 s each), for Ctrl-C."""

NAME = "slow"
PROTOCOLS = ("slow",)
CONNECTORS = {"importer": "kloset_flaky.connectors:SlowImporter"}
