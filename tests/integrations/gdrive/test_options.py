"""Cross-field checks run at parse time (GdriveOptions.validate), each naming its key."""

from __future__ import annotations

import pytest

from kloset_gdrive.options import GdriveOptions, check
from kloset_sdk import ConfigError, options

BASE = {"location": "gdrive://", "refresh_token": "r", "client_id": "i", "client_secret": "s"}


@pytest.mark.parametrize(
    ("extra", "key", "words"),
    [
        ({"refresh_token": ""}, "token_file", "no credentials"),
        ({"token_file": "/t.json"}, "refresh_token", "set only one of token_file, refresh_token"),
        ({"client_secret": ""}, "client_secret", "is required with refresh_token"),
        ({"impersonate": "x@y"}, "impersonate", "needs service_account_file"),
        ({"shared_with_me": "true", "root_folder_id": "f"}, "shared_with_me", "cannot be"),
    ],
)
def test_parse_alone_refuses_a_bad_mix(extra: dict[str, str], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as ei:
        options.parse(GdriveOptions, {**BASE, **extra}, "importer")
    assert ei.value.key == key and words in str(ei.value)


def test_check_is_validate() -> None:
    opts = options.parse(GdriveOptions, BASE, "importer")
    check(opts)  # auth.credentials still calls it: a valid mix passes both ways
