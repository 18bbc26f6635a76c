"""Every config key a user may have written keeps working (issue 14: one name per concept).

OLD_NAMES is the literal list of keys the committed manifests/ schemas declared before options
were renamed, per integration and kind; GO_KEYS are the Go s3/sftp integrations' keys. Each must
still parse at Init, to the same value as the key it now stands for.
"""

from __future__ import annotations

from typing import Any

import pytest

from kloset_sdk import ConfigError
from kloset_sdk.options import parse, schema_for, specs
from kloset_sdk.registry import connector_specs, load_class, module_for

MiB = 1 << 20
KINDS = ("importer", "exporter", "storage")

OLD_NAMES: dict[str, dict[str, list[str]]] = {
    "fs": {
        "importer": ["dont_traverse_fs", "excludes", "location", "workers"],
        "exporter": ["location"],
        "storage": ["location"],
    },
    "s3": {
        "importer": ["access_key", "concurrency", "endpoint", "location", "metadata", "port",
                     "profile", "region", "retries", "root", "secret_access_key",
                     "session_token", "sse_customer_key", "timeout", "tls_insecure_no_verify",
                     "use_tls", "virtual_host"],
        "exporter": ["access_key", "checksum", "concurrency", "endpoint", "location",
                     "part_size", "port", "profile", "region", "retries", "root",
                     "secret_access_key", "session_token", "sse_customer_key", "sse_kms_key_id",
                     "timeout", "tls_insecure_no_verify", "use_tls", "virtual_host"],
        "storage": ["access_key", "checksum", "concurrency", "endpoint", "location",
                    "part_size", "port", "profile", "region", "retries", "root",
                    "secret_access_key", "session_token", "sse_customer_key", "sse_kms_key_id",
                    "storage_class", "timeout", "tls_insecure_no_verify", "use_tls",
                    "virtual_host"],
    },
    "sftp": {
        "importer": ["concurrency", "connect_timeout", "host_key", "host_key_fingerprint",
                     "identity", "insecure_ignore_host_key", "known_hosts", "location",
                     "passphrase", "password", "port", "root", "ssh_auth_sock", "ssh_config",
                     "ssh_private_key", "ssh_private_key_ttl", "username"],
        "exporter": ["concurrency", "connect_timeout", "host_key", "host_key_fingerprint",
                     "identity", "insecure_ignore_host_key", "known_hosts", "location",
                     "passphrase", "password", "port", "root", "set_owner", "skip_permissions",
                     "ssh_auth_sock", "ssh_config", "ssh_private_key", "ssh_private_key_ttl",
                     "username"],
        "storage": ["concurrency", "connect_timeout", "host_key", "host_key_fingerprint",
                    "identity", "insecure_ignore_host_key", "known_hosts", "location",
                    "passphrase", "password", "port", "root", "ssh_auth_sock", "ssh_config",
                    "ssh_private_key", "ssh_private_key_ttl", "username"],
    },
    "gdrive": {
        "importer": ["acknowledge_abuse", "api_endpoint", "client_id", "client_secret",
                     "export_formats", "impersonate", "include_trashed", "incremental",
                     "location", "max_retries", "max_retry_time", "refresh_token",
                     "root_folder_id", "scope", "service_account_file", "shared_drive_id",
                     "shared_with_me", "skip_shortcuts", "state_file", "timeout", "token_file",
                     "token_uri"],
        "exporter": ["api_endpoint", "chunk_size", "client_id", "client_secret", "impersonate",
                     "location", "max_retries", "max_retry_time", "refresh_token",
                     "root_folder_id", "scope", "service_account_file", "shared_drive_id",
                     "timeout", "token_file", "token_uri"],
        "storage": ["api_endpoint", "chunk_size", "client_id", "client_secret", "impersonate",
                    "location", "max_retries", "max_retry_time", "refresh_token",
                    "root_folder_id", "scope", "service_account_file", "shared_drive_id",
                    "timeout", "token_file", "token_uri"],
    },
    "onedrive": {
        "importer": ["authority_host", "ca_bundle", "client_id", "client_secret", "delta",
                     "drive_id", "drive_type", "graph_endpoint", "location", "max_retries",
                     "max_retry_time", "region", "site_id", "state_file", "tenant", "timeout",
                     "token_cache", "user", "workers"],
        "exporter": ["authority_host", "ca_bundle", "client_id", "client_secret", "drive_id",
                     "drive_type", "fragment_size", "graph_endpoint", "location", "max_retries",
                     "max_retry_time", "region", "site_id", "tenant", "timeout", "token_cache",
                     "user", "workers"],
        "storage": ["authority_host", "ca_bundle", "client_id", "client_secret", "drive_id",
                    "drive_type", "fragment_size", "graph_endpoint", "location", "max_retries",
                    "max_retry_time", "region", "site_id", "tenant", "timeout", "token_cache",
                    "user", "workers"],
    },
}  # fmt: skip

#: The Go integrations' keys (tests/integrations/s3/test_options.py GO_KEYS, the sftp options'
#: "first nine keys", and the Go sftp `host_key` of tests/integrations/sftp/test_hostkeys.py).
GO_KEYS = {
    "s3": ["location", "access_key", "secret_access_key", "use_tls", "tls_insecure_no_verify",
           "virtual_host", "endpoint", "port", "root", "sse_customer_key", "storage_class",
           "region"],
    "sftp": ["location", "root", "port", "username", "identity", "insecure_ignore_host_key",
             "ssh_auth_sock", "ssh_private_key", "ssh_private_key_ttl", "host_key"],
}  # fmt: skip

#: old name -> (the option it now is, the value that old value means under the new name)
RENAMED: dict[str, dict[str, tuple[str, Any]]] = {
    "fs": {"workers": ("concurrency", lambda v: v)},
    "s3": {"retries": ("max_retries", lambda v: v)},
    "gdrive": {"chunk_size": ("part_size", lambda v: str(int(v) * MiB))},
    "onedrive": {
        "workers": ("concurrency", lambda v: v),
        "fragment_size": ("part_size", lambda v: v),
        "delta": ("incremental", lambda v: v),
        "token_cache": ("token_file", lambda v: v),
    },
}

BASE = {
    "fs": {"location": "posixfs:///srv/data"},
    "s3": {"location": "s3://minio:9000/bucket"},
    "sftp": {"location": "sftp://host/srv"},
    "gdrive": {"location": "gdrive://Backups"},
    "onedrive": {"location": "onedrive:///Backups", "client_id": "app"},
}

#: A valid value that is not the default, per key ((integration, key) first, then key).
SAMPLES = {
    ("s3", "location"): "s3://other:9000/b2",
    ("sftp", "location"): "sftp://other/x",
    ("fs", "location"): "posixfs:///x",
    ("gdrive", "location"): "gdrive://x",
    ("onedrive", "location"): "onedrive:///x",
    ("s3", "region"): "eu-west-3",
    ("onedrive", "region"): "us",
    ("s3", "part_size"): str(6 * MiB),
    ("s3", "root"): "/prefix",
    ("sftp", "root"): "/srv/other",
    "excludes": "*.tmp,cache/",
    "export_formats": "document=odt",
    "storage_class": "GLACIER_IR",
    "checksum": "md5",
    "scope": "drive.file",
    "drive_type": "business",
    "host_key_fingerprint": "SHA256:" + "A" * 43,
    "ssh_private_key_ttl": "10m",
    "api_endpoint": "http://drive.test/",
    "chunk_size": "2",
    "fragment_size": str(2 * 327680),
    "port": "2222",
    "timeout": "7",
}


def _options_class(name: str, kind: str) -> type:
    """The connector's options class without its cross-field `validate` (pinned in each
    integration's test_options.py): these tests give one key at a time, e.g. access_key alone."""
    cls: type = load_class(connector_specs(module_for(name))[kind]).options_class
    return type(cls.__name__, (cls,), {"validate": None})


def _sample(name: str, key: str, cls: type) -> str:
    if (name, key) in SAMPLES:
        return SAMPLES[(name, key)]
    if key in SAMPLES:
        return SAMPLES[key]
    spec = next(s for s in specs(cls) if s.name == key)
    if spec.kind == "boolean":
        return "false" if spec.default else "true"
    if spec.kind in ("integer", "number"):
        return str(int(spec.meta.get("minimum") or 1) + 1)
    return "value"


CASES = [(n, k, key) for n, kinds in OLD_NAMES.items() for k, keys in kinds.items() for key in keys]


@pytest.mark.parametrize(("name", "kind", "key"), CASES)
def test_every_old_name_still_parses_to_the_same_value(name: str, kind: str, key: str) -> None:
    cls = _options_class(name, kind)
    new, convert = RENAMED.get(name, {}).get(key, (key, lambda v: v))
    value = SAMPLES[key] if key != new and key in SAMPLES else _sample(name, new, cls)
    old = parse(cls, {**BASE[name], key: value}, kind)
    now = parse(cls, {**BASE[name], new: convert(value)}, kind)
    assert old == now
    assert getattr(old, new) != getattr(parse(cls, BASE[name], kind), new), "sample is the default"
    # Plakar's validator (the committed schema) accepts the old name too
    assert key in schema_for(cls, kind)["properties"]


@pytest.mark.parametrize(("name", "key"), [(n, k) for n, keys in GO_KEYS.items() for k in keys])
def test_go_keys_are_accepted(name: str, key: str) -> None:
    kinds = [k for k in KINDS if key in OLD_NAMES[name][k]]
    assert kinds, f"{key} was never a {name} key"
    for kind in kinds:
        cls = _options_class(name, kind)
        opts = parse(cls, {**BASE[name], key: _sample(name, key, cls)}, kind)
        assert getattr(opts, key) is not None


def test_old_and_new_name_together_is_refused() -> None:
    cls = _options_class("onedrive", "storage")
    config = {**BASE["onedrive"], "workers": "2", "concurrency": "3"}
    with pytest.raises(ConfigError) as ei:
        parse(cls, config, "storage")
    assert ei.value.key == "workers" and "concurrency" in str(ei.value)


def test_an_error_names_the_key_as_written() -> None:
    cls = _options_class("fs", "importer")
    with pytest.raises(ConfigError) as ei:
        parse(cls, {**BASE["fs"], "workers": "0"}, "importer")
    assert ei.value.key == "workers"
