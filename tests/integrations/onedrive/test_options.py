"""Config checks and what follows from the options (endpoints, scopes, drive paths)."""

from __future__ import annotations

import pytest

from kloset_onedrive.api import DriveItem
from kloset_onedrive.delta import DeltaState, tree
from kloset_onedrive.identity import user_scopes
from kloset_onedrive.options import OneDriveOptions, check, drive_base, endpoints, root_path
from kloset_sdk import ConfigError, NotFound, options


def parse(**config: str) -> OneDriveOptions:
    opts = options.parse(
        OneDriveOptions, {"location": "onedrive:///", "client_id": "c", **config}, "storage"
    )
    check(opts)
    return opts


@pytest.mark.parametrize(
    ("config", "key", "words"),
    [
        ({"part_size": "1000000"}, "part_size", "multiple of 327680"),
        ({"fragment_size": str(200 * 327680)}, "fragment_size", "maximum"),
        ({"drive_id": "d", "site_id": "s"}, "site_id", "only one"),
        ({"client_secret": "s3cr3t-value", "drive_id": "d"}, "tenant", "tenant"),
        ({"client_secret": "s3cr3t-value", "tenant": "contoso.com"}, "drive_id", "no /me drive"),
        ({"region": "mars"}, "region", "not one of"),
        ({"location": "onedrive:///a/../b"}, "location", ".."),
        ({"location": "gdrive:///a"}, "location", "onedrive://"),
    ],
)
def test_bad_config_names_the_key(config: dict[str, str], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as ei:
        parse(**config)
    assert ei.value.key == key and words in str(ei.value)
    assert "s3cr3t" not in str(ei.value)


def test_regions_pick_graph_and_login_hosts() -> None:
    us = endpoints(parse(region="us", tenant="contoso.us"))
    assert us.graph == "https://graph.microsoft.us/v1.0"
    assert us.authority == "https://login.microsoftonline.us/contoso.us"
    assert us.instance_discovery
    assert user_scopes(us, False) == ["https://graph.microsoft.us/Files.ReadWrite.All"]
    cn = endpoints(parse(region="cn"))
    assert cn.graph.startswith("https://microsoftgraph.chinacloudapi.cn/")
    assert cn.authority == "https://login.chinacloudapi.cn/common"
    glob = endpoints(parse())
    assert user_scopes(glob, True) == ["Files.ReadWrite.All", "Sites.ReadWrite.All"]
    custom = endpoints(
        parse(authority_host="127.0.0.1:8443", graph_endpoint="https://127.0.0.1:8443/v1.0")
    )
    assert custom.authority == "https://127.0.0.1:8443/common" and not custom.instance_discovery
    assert custom.resource == "https://127.0.0.1:8443"


def test_drive_addressing_and_location() -> None:
    assert drive_base(parse(drive_id="b!x")) == "/drives/b!x"
    assert drive_base(parse(site_id="contoso,1,2")) == "/sites/contoso,1,2/drive"
    assert drive_base(parse(user="me@contoso.com")) == "/users/me@contoso.com/drive"
    assert drive_base(parse()) == "/me/drive"
    assert root_path("onedrive://Documents/x/") == "/Documents/x"
    assert root_path("onedrive:///") == "/"


def test_delta_tree_hides_notebooks_vault_and_orphans() -> None:
    items = {
        "r": DriveItem("r", "root", None, "root"),
        "a": DriveItem("a", "A", "r", "folder"),
        "f": DriveItem("f", "f.txt", "a", "file", 3),
        "nb": DriveItem("nb", "Notes", "a", "package", package_type="oneNote"),
        "s": DriveItem("s", "Quick Notes.one", "nb", "file", 9),
        "v": DriveItem("v", "Personal Vault", "r", "folder", special="vault"),
        "o": DriveItem("o", "orphan.txt", "gone", "file", 1),
        "b": DriveItem("b", "B", "r", "folder"),
    }
    state = DeltaState.scratch("drive", items.values())
    state.root_id = "r"
    assert [p for p, _ in tree(state, "/")] == ["/", "/A", "/A/f.txt", "/B"]
    assert [p for p, _ in tree(state, "/A")] == ["/", "/A", "/A/f.txt"]
    with pytest.raises(NotFound, match="location /A/Notes does not exist"):
        list(tree(state, "/A/Notes"))  # below a notebook: not backed up, so not found
    state.close()


def test_parse_alone_runs_the_cross_field_checks() -> None:
    """options.parse calls OneDriveOptions.validate: no connector needed to refuse a mix."""
    config = {"location": "onedrive:///", "client_id": "c", "drive_id": "d", "site_id": "s"}
    with pytest.raises(ConfigError) as ei:
        options.parse(OneDriveOptions, config, "storage")
    assert ei.value.key == "site_id" and "give only one of drive_id, site_id, user" in str(ei.value)
