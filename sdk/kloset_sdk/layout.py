"""Repository object naming shared by every store (docs/PROTOCOL.md: Reference store layouts).

`CONFIG`, `packfiles/<b>/<hex>`, `states/<b>/<hex>`, `locks/<hex>`: the Go fs, sftp and s3
stores use this layout, so a repository written by one can be read by the other.
"""

from __future__ import annotations

import enum

from .errors import ProtocolError

MAC_SIZE = 32
CONFIG = "CONFIG"


class Resource(enum.IntEnum):
    UNDEFINED = 0
    PACKFILE = 1
    STATE = 2
    LOCK = 3
    ECC_PACKFILE = 4
    ECC_STATE = 5


DIRS = {
    Resource.PACKFILE: "packfiles",
    Resource.STATE: "states",
    Resource.LOCK: "locks",
    Resource.ECC_PACKFILE: "ecc-packfiles",
    Resource.ECC_STATE: "ecc-states",
}
SHARDED = {Resource.PACKFILE, Resource.STATE, Resource.ECC_PACKFILE, Resource.ECC_STATE}
LISTED = (Resource.PACKFILE, Resource.STATE, Resource.LOCK)
HOT = 1  # StorageFlags.HOT on Put (§6.6)


def resource(value: int) -> Resource:
    try:
        res = Resource(value)
    except ValueError:
        raise ProtocolError(f"unknown storage resource type {value}") from None
    if res == Resource.UNDEFINED:
        raise ProtocolError("storage resource type is missing (UNDEFINED)")
    return res


def check_mac(mac: bytes) -> bytes:
    if len(mac) != MAC_SIZE:
        raise ProtocolError(f"invalid MAC length {len(mac)} (want {MAC_SIZE} bytes)")
    return mac


def object_key(res: Resource, mac: bytes) -> str:
    """Relative key of an object, '/'-separated, e.g. `packfiles/ab/ab12...`."""
    hx = check_mac(mac).hex()
    top = DIRS[res]
    if res in SHARDED:
        return f"{top}/{hx[:2]}/{hx}"
    return f"{top}/{hx}"


def parse_key(res: Resource, name: str) -> bytes | None:
    """MAC from the last path element of a listed key, or None for anything else (temp files)."""
    base = name.rsplit("/", 1)[-1]
    if len(base) != MAC_SIZE * 2:
        return None
    try:
        return bytes.fromhex(base)
    except ValueError:
        return None


def shard_dirs(res: Resource) -> list[str]:
    """The 256 bucket directories the Go stores create at Create time."""
    if res not in SHARDED:
        return [DIRS[res]]
    return [f"{DIRS[res]}/{i:02x}" for i in range(256)]


def create_dirs() -> list[str]:
    """Directories of a new repository, parents first: the listed tops, then their shards."""
    tops = [DIRS[res] for res in LISTED]
    return tops + [d for res in LISTED if res in SHARDED for d in shard_dirs(res)]


def parents(key: str) -> list[str]:
    """The directories above a key, outermost first: `a/b/c` -> `a`, `a/b`."""
    parts = key.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]
