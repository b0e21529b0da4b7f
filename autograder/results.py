"""The immutable result model: check → task → assignment → student → class.

Points are stored once, where they are decided: a task's maximum comes from the
configuration, and each check carries a weight; everything else (earned points,
totals, percentages) is computed. A task's points are shared among its checks in
proportion to their weights (partial credit by check). A task can also be zeroed as a
whole with a ``penalty`` message (a forbidden call, a module that was not submitted).

Two things are not grades and stay out of every total:

- a check that failed because of the grader (``Outcome.GRADER_ERROR``: the check's own
  exception, the sandbox machinery, an invalid option) makes its assignment *not graded*
  (``AssignmentResult.graded`` is False): it asks for a regrade, never for a zero;
- a late penalty (``Lateness``) is computed from the raw score when reports are rendered
  (``dataclasses.replace(assignment, lateness=...)``) and never stored as the grade:
  ``points`` is always the raw score, ``final_points`` the score after the penalty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

__all__ = [
    "Outcome", "Visibility", "CheckResult", "TaskResult", "AssignmentResult",
    "Isolation", "Lateness", "StudentResult", "ClassResult",
]


class Outcome(str, Enum):
    PASSED = "passed"
    FAILED = "failed"       # the student's code gave a wrong answer
    ERROR = "error"         # the student's code crashed, hung or could not be loaded
    GRADER_ERROR = "grader-error"   # the grader failed (not the student): not a grade


class Visibility(str, Enum):
    PUBLIC = "public"
    HIDDEN = "hidden"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check.

    ``message`` is for the student (for hidden checks it never holds inputs unless the
    configuration allows); ``detail`` is for the instructor (tracebacks, inputs).
    """

    name: str
    task: str
    outcome: Outcome
    weight: float = 1.0
    visibility: Visibility = Visibility.HIDDEN
    message: str = ""
    detail: str = ""
    duration_s: float = field(default=0.0, compare=False)

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASSED


@dataclass(frozen=True)
class TaskResult:
    """The checks of one task and the points they earn."""

    task: str
    max_points: float
    checks: tuple[CheckResult, ...] = ()
    penalty: str | None = None

    @property
    def fraction(self) -> float:
        """Share of the task's points earned, in [0, 1]."""
        if self.penalty is not None:
            return 0.0
        total = sum(c.weight for c in self.checks)
        if total <= 0:
            return 0.0
        return sum(c.weight for c in self.checks if c.passed) / total

    @property
    def points(self) -> float:
        return round(self.max_points * self.fraction, 4)


@dataclass(frozen=True)
class Lateness:
    """When one assignment was handed in, against its due date, and what that costs.

    Computed by ``autograder.scoring.lateness`` when reports are rendered, from the
    submission time, the due date (an extension applied) and the late policy; never
    stored as a grade. Times are ISO 8601 strings with an offset, or None when unknown.
    """

    submitted_at: str | None = None
    due: str | None = None
    late_by_s: float = 0.0            # 0 when on time (or no time was known)
    penalty_percent: float = 0.0      # share of the raw score taken off, in [0, 100]
    reason: str = ""                  # for people: "36 h late: 2 started days x 10%"
    extended: bool = False            # the due date is a per-student extension

    @property
    def late(self) -> bool:
        return self.late_by_s > 0


@dataclass(frozen=True)
class AssignmentResult:
    """One module of one student."""

    assignment: str
    tasks: tuple[TaskResult, ...]
    submitted: bool = True
    source: str | None = None            # the file graded: "activations.py" or "activations.ipynb"
    messages: tuple[str, ...] = ()       # problems with the module as a whole
    lateness: Lateness | None = None     # set when rendering (see the module docstring)

    @property
    def graded(self) -> bool:
        """False when any check failed because of the grader: "not graded: grader error"."""
        return not any(c.outcome is Outcome.GRADER_ERROR for t in self.tasks for c in t.checks)

    @property
    def max_points(self) -> float:
        return sum(t.max_points for t in self.tasks)

    @property
    def points(self) -> float:
        """The raw score (before any late penalty)."""
        return round(sum(t.points for t in self.tasks), 4)

    @property
    def penalty_points(self) -> float:
        """Points taken off for lateness (0 without a ``lateness``)."""
        if self.lateness is None:
            return 0.0
        return round(self.points * self.lateness.penalty_percent / 100.0, 4)

    @property
    def final_points(self) -> float:
        """The score that counts: the raw score less the late penalty."""
        return round(self.points - self.penalty_points, 4)


@dataclass(frozen=True)
class Isolation:
    """What the sandbox enforced for a student's worker processes (never more than was)."""

    filesystem: str = "none"      # "private-root": only Python, the libraries and the student's copy
    network: str = "host"         # "none": a network namespace with no interfaces up
    processes: str = "shared"     # "private": a PID namespace; the worker sees no other process
    user: str = "same"            # "nobody": the worker runs as an unprivileged user
    memory_limit_bytes: int = 0   # address space allowed beyond the preloaded PyTorch; 0: no limit
    notes: tuple[str, ...] = ()

    @property
    def level(self) -> str:
        """A one-word summary: "full", "partial" or "minimal"."""
        strong = [self.filesystem == "private-root", self.network == "none", self.processes == "private"]
        if all(strong):
            return "full"
        return "partial" if any(strong) else "minimal"


@dataclass(frozen=True)
class StudentResult:
    """Every assignment graded for one student."""

    student: str
    assignments: tuple[AssignmentResult, ...]
    isolation: Isolation = Isolation()
    messages: tuple[str, ...] = ()        # e.g. files skipped when copying the submission
    duration_s: float = field(default=0.0, compare=False)
    # (phase, seconds): worker start-up, checks, the rest; not part of the grade
    timings: tuple[tuple[str, float], ...] = field(default=(), compare=False)

    @property
    def max_points(self) -> float:
        """The most a student can earn over the graded assignments (grader errors excluded)."""
        return sum(a.max_points for a in self.assignments if a.graded)

    @property
    def points(self) -> float:
        """Raw points over the graded assignments."""
        return round(sum(a.points for a in self.assignments if a.graded), 4)

    @property
    def final_points(self) -> float:
        """Points after late penalties, over the graded assignments."""
        return round(sum(a.final_points for a in self.assignments if a.graded), 4)

    @property
    def graded(self) -> bool:
        return all(a.graded for a in self.assignments)

    def assignment(self, module: str) -> AssignmentResult | None:
        return next((a for a in self.assignments if a.assignment == module), None)


@dataclass(frozen=True)
class ClassResult:
    """The whole class: what a gradebook is written from."""

    students: tuple[StudentResult, ...]
    assignments: tuple[str, ...]
    seed: int = 0
    version: str = ""
    run: object | None = field(default=None, compare=False)   # grading.RunSummary of the run that made it
