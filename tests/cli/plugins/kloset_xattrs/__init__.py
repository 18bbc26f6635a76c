"""Test integration: a tree whose entries have xattrs and fail in each way `copy` handles."""

NAME = "xattrs"
PROTOCOLS = ("xattrs",)
CONNECTORS = {"importer": "kloset_xattrs.connectors:XattrImporter"}
