"""klosetctl: use the Plakar connectors without Plakar (GitHub issue 8).

Every command drives the connectors through their real plugin processes, over the same gRPC
protocol Plakar speaks (`kloset_sdk.harness`), so what works here works inside Plakar.
"""

__version__ = "0.1.0"
