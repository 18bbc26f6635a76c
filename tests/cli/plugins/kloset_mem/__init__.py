"""Test integration: the SDK's example in-memory store under the `mem` protocol."""

NAME = "mem"
PROTOCOLS = ("mem",)
CONNECTORS = {"storage": "kloset_sdk.examples.memstore:MemStorage"}
