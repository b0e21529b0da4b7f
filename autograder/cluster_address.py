"""The ``--scheduler`` address, checked without importing Dask (so bad input is answered at once)."""

from __future__ import annotations

import re

from .errors import AutograderError

__all__ = ["parse_scheduler"]

_LOCAL = re.compile(r"local(?::(.*))?")


def parse_scheduler(address: str) -> int | None:
    """The number of workers of ``local:N``, or None for the address of a running scheduler.

    ``AutograderError`` for ``local:`` without a whole number of at least 1, or an empty address.
    """
    address = address.strip()
    if not address:
        raise AutograderError("--scheduler needs an address: tcp://HOST:PORT of a Dask scheduler, or local:N")
    match = _LOCAL.fullmatch(address)
    if match is None:
        return None
    count = match.group(1)
    if count is None or not count.isdigit() or int(count) < 1:
        raise AutograderError(f"--scheduler {address}: expected local:N with N a whole number of workers, "
                              "at least 1 (e.g. local:4)")
    return int(count)
