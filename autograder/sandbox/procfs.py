"""Linux ``/proc``: fields of a process's (or a thread's) ``stat`` line."""

from __future__ import annotations

__all__ = ["stat_fields"]


def stat_fields(stat: str, *numbers: int) -> tuple[str, ...]:
    """Fields ``numbers`` (1-based, as proc(5) numbers them: 3 the state, 4 the parent's
    pid, 14 and 15 utime and stime, 39 the processor) of ``/proc/<stat>/stat``, one read;
    ``stat`` is a pid, ``"self"`` or ``"thread-self"``. The command name (field 2) may hold
    spaces and parentheses, so fields are counted after its last ``)``. ``OSError`` when the
    file cannot be read (another system, a process gone); ``IndexError`` for a field past
    the end."""
    if any(n < 3 for n in numbers):
        raise ValueError("fields 1 and 2 (the pid, the command) are not read here")
    with open(f"/proc/{stat}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return tuple(fields[n - 3] for n in numbers)
