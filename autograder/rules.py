"""The static rules of a submitted module, as penalties: what grading and ``autograder
check`` both apply before any check runs.

- an escape hatch (``exec``, ``eval``, ``compile``, ``__import__``, ``importlib``, importing
  the grader or the solutions) zeroes every task of the module;
- a call of a name a task does not allow (``not_allowed`` in the config) zeroes that task,
  naming the call and its line.

Pure: a function of the source and the configuration (``autograder.checks.static`` finds
the uses).
"""

from __future__ import annotations

from dataclasses import dataclass

from .checks import static
from .config import AssignmentConfig
from .course import assignment_for

__all__ = ["StaticVerdict", "static_penalties"]


@dataclass(frozen=True)
class StaticVerdict:
    """``penalties``: task id -> why it scores zero; ``messages``: about the module as a whole."""

    penalties: dict[str, str]
    messages: tuple[str, ...] = ()


def static_penalties(module: str, source: bytes, config: AssignmentConfig) -> StaticVerdict:
    """The penalties the static rules give ``module``'s ``source`` under ``config``.

    A source that does not parse gets none here: the checks report its syntax error.
    """
    task_ids = assignment_for(module).task_ids
    tree = static.parse(source)
    if tree is None:
        return StaticVerdict({})
    penalties: dict[str, str] = {}
    messages: list[str] = []
    hatches = static.escape_hatches(tree)
    if hatches:
        used = ", ".join(f"{f.name} (line {f.line})" for f in hatches)
        reason = (f"{module}.py uses {used}, which submissions may not use "
                  "(no exec, eval, compile, __import__, importlib, or importing the grader)")
        messages.append(reason)
        penalties = {t: reason for t in task_ids}
    for task_id in task_ids:
        name = task_id.split(".", 1)[1]
        found = static.forbidden_uses(tree, name, config.tasks[name].not_allowed)
        if found and task_id not in penalties:
            calls = ", ".join(f"{f.name} (line {f.line})" for f in found)
            penalties[task_id] = f"{task_id} uses {calls}, which this task does not allow"
    return StaticVerdict(penalties, tuple(messages))
