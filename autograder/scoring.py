"""Scoring: the rules that turn check results into points, and lateness into a penalty.

Pure functions of results, configuration and times: no worker, no files, no clock.

- ``assignment_result``: one module's tasks from its checks, the static rules' penalties
  and the not-submitted rule (a module not submitted scores zero, with that message);
- ``lateness``: how late a submission was and what the late policy takes off. The
  penalty is a share of the *raw* score, computed again whenever reports are rendered,
  never stored as the grade (so a regrade can never apply a penalty twice: nbgrader
  #723).

Late policies (``[late] policy`` in an assignment's ``config.toml``):

=====================  ============================================================
``none`` (default)     late submissions are flagged, nothing is taken off
``zero``               a late submission scores zero
``percent_per_day``    ``percent`` off per *started* day after ``due + grace``
``percent_per_hour``   ``percent`` off per *started* hour after ``due + grace``
=====================  ============================================================

The penalty never exceeds ``max_penalty_percent`` (default 100).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Mapping

from .results import AssignmentResult, CheckResult, Lateness, Outcome, TaskResult

__all__ = ["LATE_POLICIES", "LatePolicy", "lateness", "assignment_result", "not_submitted", "format_duration"]

LATE_POLICIES = ("none", "zero", "percent_per_day", "percent_per_hour")


@dataclass(frozen=True)
class LatePolicy:
    """An assignment's late policy (see the module docstring)."""

    policy: str = "none"
    percent: float = 0.0
    grace_minutes: float = 0.0
    max_penalty_percent: float = 100.0

    def __post_init__(self) -> None:
        if self.policy not in LATE_POLICIES:
            raise ValueError(f"unknown late policy {self.policy!r}; choose from {', '.join(LATE_POLICIES)}")
        for name in ("percent", "grace_minutes", "max_penalty_percent"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 (got {getattr(self, name)!r})")
        if self.max_penalty_percent > 100:
            raise ValueError(f"max_penalty_percent must be at most 100 (got {self.max_penalty_percent!r})")


def format_duration(seconds: float) -> str:
    """``seconds`` for people: "36 h", "2 d 3 h", "45 min", "30 s"."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 60:
        return f"{math.floor(minutes)} min"
    hours = minutes / 60
    if hours < 48:
        whole = math.floor(hours)
        rest = math.floor(minutes - whole * 60)
        return f"{whole} h" + (f" {rest} min" if rest else "")
    days = math.floor(hours / 24)
    rest_h = math.floor(hours - days * 24)
    return f"{days} d" + (f" {rest_h} h" if rest_h else "")


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def lateness(submitted_at: datetime | None, due: datetime | None, policy: LatePolicy, *,
             extended: bool = False, time_note: str | None = None) -> Lateness | None:
    """How late ``submitted_at`` is against ``due`` under ``policy``; None without a due date.

    ``extended``: ``due`` is a per-student extension (said in the reason). ``time_note``:
    why no submission time is known (an unreadable ``timestamp.txt``, say); a submission
    without a time is on time, and the reason says so. Times must be timezone-aware.
    """
    if due is None:
        return None
    whose = "your extended due date" if extended else "the due date"
    if submitted_at is None:
        reason = time_note or "no submission time was known"
        return Lateness(None, _iso(due), 0.0, 0.0, f"{reason}: counted as on time", extended)
    grace = timedelta(minutes=policy.grace_minutes)
    late_by = (submitted_at - (due + grace)).total_seconds()
    if late_by <= 0:
        within = " (within the grace period)" if submitted_at > due else ""
        return Lateness(_iso(submitted_at), _iso(due), 0.0, 0.0, f"on time{within}", extended)
    late = f"{format_duration(late_by)} after {whose}" + (
        f" and its {policy.grace_minutes:g} min grace period" if policy.grace_minutes else "")
    if policy.policy == "none":
        percent, rule = 0.0, "no late penalty"
    elif policy.policy == "zero":
        percent, rule = 100.0, "late work scores zero"
    else:
        unit_s, unit = (86400, "day") if policy.policy == "percent_per_day" else (3600, "hour")
        started = math.ceil(late_by / unit_s)
        percent = started * policy.percent
        rule = f"{started} started {unit}{'s' if started != 1 else ''} x {policy.percent:g}%"
    capped = min(percent, policy.max_penalty_percent)
    if capped < percent:
        rule += f", capped at {policy.max_penalty_percent:g}%"
    reason = f"{late}: {rule}" + (f" = {capped:g}% off" if policy.policy.startswith("percent") else "")
    return Lateness(_iso(submitted_at), _iso(due), round(late_by, 3), capped, reason, extended)


def not_submitted(module: str, tasks: Mapping[str, int], task_ids: Iterable[str]) -> AssignmentResult:
    """A module that was not submitted: every task zero, with that message."""
    return AssignmentResult(
        assignment=module, submitted=False,
        tasks=tuple(TaskResult(t, tasks[t.split(".", 1)[1]], (), f"{module}.py was not submitted")
                    for t in task_ids),
        messages=(f"{module}.py was not submitted: its tasks score zero",),
    )


# The penalty of a task that no check tested: it scores zero, but no rule was broken.
NO_CHECKS_RAN = "no checks ran for this task"


def breaks_rule(penalty: str | None) -> bool:
    """Is a task's ``penalty`` a broken rule of the grader (a forbidden call, an escape
    hatch), rather than none or :data:`NO_CHECKS_RAN`?"""
    return bool(penalty) and penalty != NO_CHECKS_RAN


def assignment_result(module: str, task_points: Mapping[str, int], task_ids: Iterable[str],
                      checks: Iterable[CheckResult], penalties: Mapping[str, str], *,
                      broken: Iterable[str] = (), messages: Iterable[str] = (),
                      source: str | None = None) -> AssignmentResult:
    """One submitted module's result from its checks.

    ``task_points``: task name -> points; ``penalties``: task id -> why it scores zero (a
    forbidden call, an escape hatch); ``broken``: why the grader could not load this
    module's checks (each task without checks then gets a grader-error result, so the
    module is *not graded*, never a zero); a task with no checks and no penalty scores
    zero with :data:`NO_CHECKS_RAN`.
    """
    checks = tuple(checks)
    broken = list(broken)
    messages = list(messages)
    if broken:
        messages.append("the grader could not load its checks for this module: this is not a grade; "
                        "your instructor will regrade it")
    tasks = []
    for task_id in task_ids:
        name = task_id.split(".", 1)[1]
        own = tuple(c for c in checks if c.task == task_id)
        if not own and broken:
            own = (CheckResult(name="load_checks", task=task_id, outcome=Outcome.GRADER_ERROR,
                               message="The grader could not load its checks.",
                               detail="\n".join(broken)[-8000:]),)
        penalty = penalties.get(task_id)
        if not own and penalty is None:
            penalty = NO_CHECKS_RAN
        tasks.append(TaskResult(task_id, task_points[name], own, penalty))
    return AssignmentResult(assignment=module, tasks=tuple(tasks), submitted=True, source=source,
                            messages=tuple(messages))
