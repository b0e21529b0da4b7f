"""The ``--scheduler`` address, checked without importing Dask (so bad input is answered at once)."""

from __future__ import annotations

import re

from .errors import AutograderError

__all__ = ["ADVICE", "parse_scheduler", "refuse_unreachable"]

_LOCAL = re.compile(r"local(?::(.*))?")
CONNECT_TIMEOUT_S = 5.0      # reaching the scheduler: a reachable one answers in milliseconds
ADVICE = ("start one with `dask scheduler` and workers with `dask worker ADDRESS --nthreads 1` "
          "(see docs/cluster.md), or grade on this machine with --scheduler local:N")


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


def refuse_unreachable(address: str) -> None:
    """``AutograderError`` when the scheduler's ``tcp://HOST:PORT`` (or ``HOST:PORT``) refuses
    a TCP connection: nothing listens there (Dask would retry until its time-out). Checked
    before a run opens the course record, so such a run writes nothing. Anything else (another
    protocol, a time-out, a name that does not resolve, ``local:N``) is left to Dask, which
    says what went wrong."""
    if parse_scheduler(address) is not None:
        return
    if _refused(address.strip()):
        raise AutograderError(f"cannot reach the Dask scheduler at {address}: the connection was refused "
                              f"(nothing listens there); {ADVICE}")


def _refused(address: str) -> bool:
    import socket
    from urllib.parse import urlsplit

    if "://" in address and not address.startswith("tcp://"):
        return False
    try:
        parts = urlsplit(address if "://" in address else f"tcp://{address}")
        host, port = parts.hostname, parts.port
    except ValueError:
        return False
    if not host or port is None:
        return False
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
