"""Config keys several integrations declare alike, declared once here (issue 14).

Each integration keeps its own default and help text (its README and schema say what the
number means for it); what is shared is the key's name, type and bounds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .options import option

#: Upper bound of every integration's `concurrency`: threads, channels or requests in flight.
MAX_CONCURRENCY = 64


def concurrency(
    default: int | None,
    *,
    help: str,
    kinds: Iterable[str] | None = None,
    aliases: Mapping[str, Callable[[Any], Any] | None] | None = None,
) -> Any:
    """`concurrency`: parallel operations, 1..MAX_CONCURRENCY; None means the host's value."""
    return option(
        default, kinds=kinds, aliases=aliases, minimum=1, maximum=MAX_CONCURRENCY, help=help
    )
