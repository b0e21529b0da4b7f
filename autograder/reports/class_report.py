"""The class report: what the class got right and wrong, for the instructor.

Two layers, so that the numbers can be tested without reading HTML:

- :func:`class_statistics` (pure): a :class:`ClassResult` and the assignments'
  configurations -> :class:`ClassStatistics`, frozen dataclasses holding every number the
  page shows: per assignment the scores' histogram, mean and median, and the counts
  submitted / not submitted / late / not graded; per task the mean points and the share
  at full marks, hardest first; the *mistakes of the class* (failed checks grouped by what
  they say); and the operations (grader errors and time limits to look at, isolation,
  the slowest submissions).
- :func:`class_report_html` (pure, deterministic: the same input gives the same bytes): a
  self-contained, printable page, histograms as inline SVG drawn with matplotlib's object
  API (no scripts, no network). :func:`write_class_report` writes ``OUT/class-report.html``.

Who counts where. ``ClassResult.students`` are the current results (the latest per student
and assignment). For an assignment, a student is *not submitted* when the result says so
or when the student has no result for it at all; *not graded* when the grader failed on
it (``AssignmentResult.graded`` is False: a regrade, never a zero); *late* when its
``lateness`` says so. Scores, task statistics and mistakes are over the submissions that
were graded, with the score that counts (``final_points``, after any late penalty).

Mistakes are grouped by *what the message says*: per task, the failed checks whose first
line reads the same once the student-specific parts are taken out
(:func:`normalise_message`: numbers, quoted names, lists of numbers such as shapes,
addresses). The same check failing for the same reason is always one group (its
parametrised variants too), and two checks of a task that fail with the same words are
one reason, listed with both checks' names; each group names its students, once each. A module that could
not be imported, or a rule that zeroed the whole module, breaks every check of it: that is
one group of the module, not one per task.
"""

from __future__ import annotations

import html
import io
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from ..checks.loading import is_module_failure
from ..config import AssignmentConfig
from ..course import MODULES, assignment_for
from ..results import AssignmentResult, ClassResult, Outcome, StudentResult
from .atomic import atomic_write_text

if TYPE_CHECKING:   # the similarity module pulls in numpy and copydetect; only its result is read here
    from ..similarity import SimilarityResult

__all__ = [
    "Histogram", "TaskStatistics", "MistakeGroup", "AssignmentStatistics", "TimeLimitHit", "GraderErrorItem",
    "SlowSubmission", "Operations", "ClassStatistics", "class_statistics", "normalise_message",
    "class_report_html", "write_class_report", "CLASS_REPORT_FILE", "HISTOGRAM_BINS",
]

CLASS_REPORT_FILE = "class-report.html"
HISTOGRAM_BINS = 10
SLOWEST = 10                 # slowest submissions listed
GROUPS_PER_TASK = 8          # mistake groups shown per task before "and N more"
FLAGGED_SHOWN = 20           # similarity pairs listed in the class report

# What the sandbox says when a limit stops student code (autograder.sandbox.client,
# autograder.checks.loading): a call's limit, the submission's budget, an import's limit.
_TIME_LIMIT = re.compile(r"did not finish within|time budget for this submission is used up", re.IGNORECASE)
_BUDGET = re.compile(r"time budget for this submission is used up", re.IGNORECASE)


# -- the data ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Histogram:
    """Counts of scores in ``len(counts)`` equal bins over [0, max points]; ``edges`` has
    one more entry than ``counts``. A score equal to an inner edge falls in the bin above
    it; the last bin includes the maximum (full marks)."""

    edges: tuple[float, ...]
    counts: tuple[int, ...]


@dataclass(frozen=True)
class TaskStatistics:
    """One task over the graded submissions of its assignment."""

    task: str                    # "activations.softmax"
    max_points: float
    graded: int                  # submissions counted
    mean_points: float
    full_marks: int              # submissions with every point of the task

    @property
    def mean_share(self) -> float:
        return self.mean_points / self.max_points if self.max_points else 1.0

    @property
    def full_marks_share(self) -> float:
        return self.full_marks / self.graded if self.graded else 0.0


@dataclass(frozen=True)
class MistakeGroup:
    """Students whose check failed for the same reason.

    ``task`` is None for a failure of the module as a whole (it could not be imported, a
    rule zeroed it). ``checks``: the checks that failed this way, by name without their
    parameters (the same wording from two checks of a task is one reason); empty for a
    task's penalty (a forbidden call). ``message`` is the most frequent first line in the
    group, as students saw it; ``variants`` how many different first lines were grouped
    (they differ only in the normalised parts); ``hint`` the hint that came with it.
    """

    module: str
    task: str | None
    checks: tuple[str, ...]
    key: str
    message: str
    hint: str
    students: tuple[str, ...]
    variants: int = 1

    @property
    def count(self) -> int:
        return len(self.students)


@dataclass(frozen=True)
class AssignmentStatistics:
    """One assignment over the class."""

    module: str
    title: str
    max_points: float
    students: int                # the class
    submitted: int
    not_submitted: int
    late: int
    not_graded: int              # submitted, but the grader failed (to regrade)
    scores: tuple[float, ...]    # final points of the graded submissions, ascending
    histogram: Histogram
    tasks: tuple[TaskStatistics, ...]          # hardest first
    mistakes: tuple[MistakeGroup, ...]         # the module's own first, then by task (hardest first), largest first

    @property
    def graded(self) -> int:
        return len(self.scores)

    @property
    def mean(self) -> float | None:
        return round(statistics.fmean(self.scores), 4) if self.scores else None

    @property
    def median(self) -> float | None:
        return round(statistics.median(self.scores), 4) if self.scores else None

    def mistakes_of(self, task: str | None) -> tuple[MistakeGroup, ...]:
        return tuple(g for g in self.mistakes if g.task == task)


@dataclass(frozen=True)
class TimeLimitHit:
    """A student's module whose checks were stopped by a time limit."""

    student: str
    module: str
    checks: int                  # checks stopped
    budget_used_up: bool         # the whole submission's budget ran out (later checks did not run)


@dataclass(frozen=True)
class GraderErrorItem:
    """A student whose modules were not graded because the grader failed: to regrade."""

    student: str
    modules: tuple[str, ...]


# The timings that split a grading's wall time (the others, e.g. CPU seconds, overlap them).
WALL_PHASES = ("worker_start_s", "checks_s", "other_s")


@dataclass(frozen=True)
class SlowSubmission:
    student: str
    duration_s: float
    timings: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Operations:
    """How grading went, for whoever runs it."""

    grader_errors: tuple[GraderErrorItem, ...]
    time_limits: tuple[TimeLimitHit, ...]
    isolation: tuple[tuple[str, tuple[str, ...]], ...]    # (level, its students), "full" first
    slowest: tuple[SlowSubmission, ...]
    total_duration_s: float


@dataclass(frozen=True)
class ClassStatistics:
    students: tuple[str, ...]
    assignments: tuple[AssignmentStatistics, ...]
    operations: Operations
    version: str = ""
    seed: int = 0

    def assignment(self, module: str) -> AssignmentStatistics | None:
        return next((a for a in self.assignments if a.module == module), None)


# -- computing it -----------------------------------------------------------------------

_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?!\w)")
_HEX = re.compile(r"\b0x[0-9a-fA-F]+\b")
_QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"")
_LIST = re.compile(r"[\[(](?:\s*(?:#|…|\.\.\.|\[…\]|\(…\))\s*,?)+\s*[\])]")
_SPACE = re.compile(r"\s+")


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _hint(text: str) -> str:
    return next((line.strip()[len("Hint:"):].strip() for line in text.splitlines()
                 if line.strip().startswith("Hint:")), "")


def normalise_message(message: str) -> str:
    """The first line of ``message`` with the student-specific parts taken out, so that
    the same failure of different students reads the same: quoted names -> ``'…'``,
    addresses -> ``0x#``, numbers -> ``#``, lists and tuples of numbers (shapes,
    values, indices) -> ``[…]``, runs of white space -> one space."""
    text = _first_line(message)
    text = _QUOTED.sub("'…'", text)
    text = _HEX.sub("0x#", text)
    text = _NUMBER.sub("#", text)
    previous = None
    while previous != text:      # nested lists: [[#, #], [#, #]]
        previous = text
        text = _LIST.sub(lambda m: "[…]" if m.group(0)[0] == "[" else "(…)", text)
    return _SPACE.sub(" ", text).strip()


def _histogram(scores: list[float], max_points: float) -> Histogram:
    if max_points <= 0:
        return Histogram((0.0, 0.0), (len(scores),))
    edges = tuple(round(max_points * i / HISTOGRAM_BINS, 6) for i in range(HISTOGRAM_BINS + 1))
    counts = [0] * HISTOGRAM_BINS
    for score in scores:
        index = int(score / max_points * HISTOGRAM_BINS) if score < max_points else HISTOGRAM_BINS - 1
        counts[min(max(index, 0), HISTOGRAM_BINS - 1)] += 1
    return Histogram(edges, tuple(counts))


def _task_order(module: str, config: AssignmentConfig | None, seen: list[str]) -> list[str]:
    try:
        known = list(assignment_for(module).task_ids)
    except KeyError:
        known = [f"{module}.{name}" for name in config.tasks] if config is not None else []
    return known + [t for t in seen if t not in known]


class _Grouper:
    """Collects failures into groups keyed by (task, normalised first line)."""

    def __init__(self, module: str):
        self.module = module
        self.students: dict[tuple, set[str]] = defaultdict(set)
        self.checks: dict[tuple, set[str]] = defaultdict(set)
        self.lines: dict[tuple, Counter] = defaultdict(Counter)
        self.hints: dict[tuple, Counter] = defaultdict(Counter)

    def add(self, task: str | None, check: str, message: str, student: str) -> None:
        key = (task, normalise_message(message))
        self.students[key].add(student)
        if check:
            self.checks[key].add(check)
        self.lines[key][_first_line(message)] += 1
        hint = _hint(message)
        if hint:
            self.hints[key][hint] += 1

    def groups(self) -> list[MistakeGroup]:
        out = []
        for key, students in self.students.items():
            task, normalised = key
            # the most frequent wording; ties broken by the text itself, for determinism
            message = min(self.lines[key].items(), key=lambda item: (-item[1], item[0]))[0]
            hints = self.hints.get(key)
            hint = min(hints.items(), key=lambda item: (-item[1], item[0]))[0] if hints else ""
            out.append(MistakeGroup(self.module, task, tuple(sorted(self.checks.get(key, ()))), normalised, message, hint,
                                    tuple(sorted(students)), len(self.lines[key])))
        return out


def _module_wide(assignment: AssignmentResult) -> tuple[str, ...]:
    """The failures of the module as a whole: an import failure its checks carry, and a
    penalty every task has with the same reason (a rule, an unreadable notebook)."""
    found = []
    failures = Counter(c.message for t in assignment.tasks for c in t.checks
                       if c.outcome is Outcome.ERROR and is_module_failure(assignment.assignment, c.message))
    if failures:
        found.append(min(failures.items(), key=lambda item: (-item[1], item[0]))[0])
    penalties = {t.penalty for t in assignment.tasks}
    if len(assignment.tasks) > 1 and len(penalties) == 1 and None not in penalties:
        found.append(penalties.pop())
    return tuple(found)


def _assignment_statistics(module: str, config: AssignmentConfig | None,
                           students: tuple[StudentResult, ...]) -> AssignmentStatistics:
    results = [(s.student, s.assignment(module)) for s in students]
    submitted = [(name, a) for name, a in results if a is not None and a.submitted]
    graded = [(name, a) for name, a in submitted if a.graded]
    max_points = (float(config.total_points) if config is not None
                  else max((a.max_points for _, a in submitted), default=0.0))
    scores = sorted(a.final_points for _, a in graded)

    seen = list(dict.fromkeys(t.task for _, a in graded for t in a.tasks))
    task_max = {t.task: t.max_points for _, a in graded for t in a.tasks}
    if config is not None:
        task_max.update({f"{module}.{name}": float(t.points) for name, t in config.tasks.items()})
    tasks = []
    for task in _task_order(module, config, seen):
        points = [t.points for _, a in graded for t in a.tasks if t.task == task]
        top = task_max.get(task, 0.0)
        tasks.append(TaskStatistics(
            task=task, max_points=top, graded=len(points),
            mean_points=round(statistics.fmean(points), 4) if points else 0.0,
            full_marks=sum(1 for p in points if p >= top - 1e-9)))
    order = {t.task: i for i, t in enumerate(tasks)}
    # Hardest first: the lowest mean share, then the fewest at full marks, then course order.
    tasks.sort(key=lambda t: (round(t.mean_share, 6), round(t.full_marks_share, 6), order[t.task]))
    rank = {t.task: i for i, t in enumerate(tasks)}

    grouper = _Grouper(module)
    not_submitted_penalty = f"{module}.py was not submitted"
    for name, assignment in graded:
        whole = _module_wide(assignment)
        for message in whole:
            grouper.add(None, "", message, name)
        for task in assignment.tasks:
            if task.penalty and task.penalty not in whole and not task.penalty.startswith(not_submitted_penalty):
                grouper.add(task.task, "", task.penalty, name)
            for check in task.checks:
                if check.outcome not in (Outcome.FAILED, Outcome.ERROR) or check.message in whole:
                    continue
                grouper.add(task.task, check.name.split("[", 1)[0], check.message or "(no message)", name)
    groups = grouper.groups()
    groups.sort(key=lambda g: (-1 if g.task is None else rank.get(g.task, len(rank)), -g.count, g.key))

    return AssignmentStatistics(
        module=module, title=config.title if config is not None else module, max_points=max_points,
        students=len(students), submitted=len(submitted), not_submitted=len(students) - len(submitted),
        late=sum(1 for _, a in submitted if a.lateness is not None and a.lateness.late),
        not_graded=len(submitted) - len(graded), scores=tuple(scores),
        histogram=_histogram(scores, max_points), tasks=tuple(tasks), mistakes=tuple(groups))


def _operations(result: ClassResult) -> Operations:
    errors, limits = [], []
    levels: dict[str, list[str]] = defaultdict(list)
    for student in result.students:
        failed = tuple(a.assignment for a in student.assignments if a.submitted and not a.graded)
        if failed:
            errors.append(GraderErrorItem(student.student, failed))
        for assignment in student.assignments:
            stopped = [c for t in assignment.tasks for c in t.checks
                       if c.outcome in (Outcome.ERROR, Outcome.GRADER_ERROR) and _TIME_LIMIT.search(c.message)]
            if stopped:
                limits.append(TimeLimitHit(student.student, assignment.assignment, len(stopped),
                                           any(_BUDGET.search(c.message) for c in stopped)))
        levels[student.isolation.level].append(student.student)
    rank = {"full": 0, "partial": 1, "minimal": 2}
    isolation = tuple((level, tuple(sorted(names)))
                      for level, names in sorted(levels.items(), key=lambda item: (rank.get(item[0], 3), item[0])))
    slowest = sorted(result.students, key=lambda s: (-s.duration_s, s.student))[:SLOWEST]
    return Operations(
        grader_errors=tuple(errors), time_limits=tuple(limits), isolation=isolation,
        slowest=tuple(SlowSubmission(s.student, s.duration_s, s.timings) for s in slowest if s.duration_s > 0),
        total_duration_s=round(sum(s.duration_s for s in result.students), 3))


def class_statistics(result: ClassResult, configs: Mapping[str, AssignmentConfig]) -> ClassStatistics:
    """Every number of the class report (pure; see the module docstring for who counts where).

    Assignments are ``result.assignments`` in that order (course order); ``configs`` give
    their titles, task points and task order, and may lack one (then the results do).
    """
    students = tuple(sorted(result.students, key=lambda s: s.student))
    modules = result.assignments or tuple(m for m in MODULES if any(s.assignment(m) for s in students))
    return ClassStatistics(
        students=tuple(s.student for s in students),
        assignments=tuple(_assignment_statistics(m, configs.get(m), students) for m in modules),
        operations=_operations(ClassResult(students, result.assignments, result.seed, result.version)),
        version=result.version, seed=result.seed)


# -- the page ---------------------------------------------------------------------------

def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _points(value: float | None) -> str:
    if value is None:
        return "–"
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text or "0"


def _percent(share: float) -> str:
    return f"{share * 100:.0f}%"


def _anchor(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


_BLUE, _ORANGE, _GREY = "#3b6ea5", "#d9822b", "#5b6773"


def _histogram_svg(stats: AssignmentStatistics) -> str:
    """The scores' histogram as an inline <svg> (matplotlib's object API, no pyplot state)."""
    import matplotlib

    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    hist = stats.histogram
    with matplotlib.rc_context({"svg.hashsalt": "autograder-class-report", "svg.fonttype": "none",
                                "font.family": "sans-serif", "font.size": 9, "axes.edgecolor": "#9aa5b1",
                                "axes.linewidth": 0.8, "xtick.color": _GREY, "ytick.color": _GREY}):
        figure = Figure(figsize=(5.6, 2.5), dpi=72)
        axes = figure.add_subplot()
        widths = [b - a for a, b in zip(hist.edges[:-1], hist.edges[1:])]
        axes.bar(hist.edges[:-1], hist.counts, width=widths, align="edge", color=_BLUE, edgecolor="white",
                 linewidth=1.0, label="students")
        if stats.mean is not None:
            axes.axvline(stats.mean, color=_ORANGE, linewidth=1.6, linestyle="--",
                         label=f"mean {_points(stats.mean)}")
            axes.axvline(stats.median, color="#2f8f5b", linewidth=1.6, linestyle=":",
                         label=f"median {_points(stats.median)}")
        axes.set_xlim(hist.edges[0], hist.edges[-1] if hist.edges[-1] > hist.edges[0] else 1)
        axes.set_ylim(0, max(max(hist.counts, default=0), 1) * 1.15)
        axes.set_xticks(hist.edges)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel(f"points (of {_points(stats.max_points)})", color=_GREY)
        axes.set_ylabel("students", color=_GREY)
        axes.spines[["top", "right"]].set_visible(False)
        axes.grid(axis="y", color="#e3e8ee", linewidth=0.8)
        axes.set_axisbelow(True)
        if stats.mean is not None:
            axes.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=3, frameon=False, fontsize=8,
                        borderaxespad=0.2)
        figure.tight_layout(pad=0.4)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]          # drop the XML declaration and DOCTYPE: it is inline
    label = (f"Histogram of {stats.module} scores: " +
             ", ".join(f"{_points(a)} to {_points(b)}: {c}" for a, b, c in
                       zip(stats.histogram.edges[:-1], stats.histogram.edges[1:], stats.histogram.counts)))
    return svg.replace("<svg ", f'<svg role="img" aria-label="{_e(label)}" class="chart" ', 1)


_CSS = """
:root { --ink: #1d2733; --muted: #5b6773; --line: #e3e8ee; --blue: #3b6ea5; --bg: #f5f7fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif;
       color: var(--ink); margin: 0; background: var(--bg); }
main { max-width: 1180px; margin: 0 auto; padding: 28px 32px 56px; }
header h1 { font-size: 26px; margin: 0 0 2px; }
.muted { color: var(--muted); }
h2 { font-size: 20px; margin: 0 0 10px; }
h3 { font-size: 15px; margin: 18px 0 8px; }
section.card { background: #fff; border: 1px solid #dfe5ec; border-radius: 8px; padding: 18px 22px; margin: 18px 0;
               break-inside: avoid-page; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 8px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top; }
th { font-weight: 600; color: #33404d; background: #f0f3f7; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
nav a, a { color: var(--blue); text-decoration: none; }
nav { margin: 10px 0 0; } nav a { margin-right: 14px; }
.top { display: grid; grid-template-columns: minmax(0, 1.15fr) minmax(0, 1fr); gap: 22px; align-items: start; }
.facts { display: grid; grid-template-columns: repeat(3, 1fr); gap: 8px; margin: 0 0 10px; }
.fact { background: #f5f8fb; border-radius: 6px; padding: 8px 10px; }
.fact b { display: block; font-size: 20px; font-variant-numeric: tabular-nums; }
.fact span { color: var(--muted); font-size: 12px; }
.fact.alert { background: #fdecea; }
svg.chart { width: 100%; height: auto; display: block; }
td.share { white-space: nowrap; }
.bar { background: #e9eef4; border-radius: 3px; height: 10px; width: 90px; display: inline-block;
       vertical-align: middle; overflow: hidden; }
.bar i { display: block; height: 100%; background: var(--blue); }
.bar.low i { background: #c8553d; } .bar.mid i { background: #d9822b; }
.group { border-left: 4px solid #c8553d; background: #fcf7f6; padding: 7px 12px; margin: 6px 0; border-radius: 0 6px 6px 0;
         break-inside: avoid; }
.group .count { font-weight: 700; font-variant-numeric: tabular-nums; }
.group .msg { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px;
              white-space: pre-wrap; word-break: break-word; }
.group .hint { color: #4d5a66; font-size: 12.5px; }
.group .who { color: var(--muted); font-size: 12px; }
.task-head { display: flex; gap: 10px; align-items: baseline; margin: 14px 0 4px; }
.task-head code { font-weight: 600; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; }
.ok { color: #2f8f5b; } .alert-text { color: #b23b2a; }
.notice { background: #fff8e1; border: 1px solid #f0c36d; border-radius: 6px; padding: 8px 12px; margin: 8px 0; }
footer { color: var(--muted); font-size: 12px; margin-top: 24px; }
@media (max-width: 900px) { .top { grid-template-columns: 1fr; } }
@media print {
  body { background: #fff; font-size: 12px; } main { max-width: none; padding: 0; }
  section.card { border: none; padding: 0; margin: 0 0 18px; } nav { display: none; }
  .assignment { break-before: page; } a { color: inherit; }
}
"""


def _bar(share: float) -> str:
    kind = "low" if share < 0.5 else "mid" if share < 0.8 else ""
    return (f'<span class="bar {kind}" role="img" aria-label="{_percent(share)}">'
            f'<i style="width:{max(0.0, min(share, 1.0)) * 100:.1f}%"></i></span>')


def _names(students: tuple[str, ...]) -> str:
    return ", ".join(_e(s) for s in students)


def _group_html(group: MistakeGroup, graded: int) -> str:
    share = f" ({_percent(group.count / graded)} of graded)" if graded else ""
    if group.task is None:
        where = "every check of the module"
    elif group.checks:
        where = ", ".join(f"<code>{_e(c)}</code>" for c in group.checks)
    else:
        where = "a rule of the task: the task scored zero"
    varies = f"; {group.variants} wordings, differing in numbers or names" if group.variants > 1 else ""
    parts = [
        '<div class="group">',
        f'<div><span class="count">{group.count} student{"s" if group.count != 1 else ""}</span>{share} '
        f'<span class="muted">— {where}{varies}</span></div>',
        f'<div class="msg">{_e(group.message)}</div>',
    ]
    if group.hint:
        parts.append(f'<div class="hint">Hint given: {_e(group.hint)}</div>')
    parts.append(f'<div class="who">{_names(group.students)}</div>')
    parts.append("</div>")
    return "\n".join(parts)


def _assignment_html(stats: AssignmentStatistics) -> list[str]:
    anchor = _anchor(stats.module)
    facts = [
        ("submitted", f"{stats.submitted} of {stats.students}", False),
        ("not submitted", str(stats.not_submitted), False),
        ("late", str(stats.late), False),
        ("not graded (grader error)", str(stats.not_graded), stats.not_graded > 0),
        ("mean", _points(stats.mean), False),
        ("median", _points(stats.median), False),
    ]
    out = [
        f'<section class="card assignment" id="{anchor}">',
        f"<h2>{_e(stats.title)} <span class=muted>· <code>{_e(stats.module)}</code> · "
        f"{_points(stats.max_points)} points</span></h2>",
        '<div class="top">', "<div>",
        _histogram_svg(stats),
        f'<p class="muted">Scores (after late penalties) of the {stats.graded} graded submission'
        f'{"s" if stats.graded != 1 else ""}; not submitted and not graded are left out.</p>',
        "</div>", "<div>", '<div class="facts">',
    ]
    for label, value, alert in facts:
        out.append(f'<div class="fact{" alert" if alert else ""}"><b>{_e(value)}</b><span>{_e(label)}</span></div>')
    out += ["</div>",
            "<h3>Tasks, hardest first</h3>",
            "<table><tr><th>task</th><th class=num>mean</th><th>of the points</th><th class=num>full marks</th></tr>"]
    for task in stats.tasks:
        out.append(f'<tr><td><a href="#{_anchor(task.task)}"><code>{_e(task.task.split(".", 1)[-1])}</code></a></td>'
                   f"<td class=num>{_points(task.mean_points)} / {_points(task.max_points)}</td>"
                   f"<td class=share>{_bar(task.mean_share)} {_percent(task.mean_share)}</td>"
                   f"<td class=num>{_percent(task.full_marks_share)}</td></tr>")
    out += ["</table>", "</div>", "</div>"]

    out.append("<h3>The mistakes of the class</h3>")
    if not stats.mistakes:
        out.append('<p class="ok">No check failed in the graded submissions.</p>' if stats.graded
                   else '<p class="muted">No graded submission.</p>')
    whole = stats.mistakes_of(None)
    if whole:
        out.append('<div class="task-head"><strong>The module as a whole</strong>'
                   '<span class="muted">could not be imported, or a rule zeroed it: every task lost</span></div>')
        out += [_group_html(g, stats.graded) for g in whole]
    for task in stats.tasks:
        groups = stats.mistakes_of(task.task)
        if not groups:
            continue
        failing = len({s for g in groups for s in g.students})
        out.append(f'<div class="task-head" id="{_anchor(task.task)}"><code>{_e(task.task)}</code>'
                   f'<span class="muted">mean {_points(task.mean_points)} of {_points(task.max_points)}; '
                   f"{failing} student{'s' if failing != 1 else ''} with a failed check</span></div>")
        out += [_group_html(g, stats.graded) for g in groups[:GROUPS_PER_TASK]]
        rest = groups[GROUPS_PER_TASK:]
        if rest:
            out.append(f'<p class="muted">and {len(rest)} more kind(s) of failure, '
                       f"{len({s for g in rest for s in g.students})} student(s).</p>")
    out.append("</section>")
    return out


def _similarity_html(similarity: SimilarityResult) -> list[str]:
    flagged = similarity.flagged
    out = ['<section class="card" id="similarity">', "<h2>Similar submissions</h2>",
           '<p class="notice">Flagged for a person to review: similarity never changes a grade. Side-by-side code '
           'in <a href="similarity.html">similarity.html</a>, every listed pair in similarity.csv.</p>']
    out += [f'<p class="notice">{_e(w)}</p>' for w in similarity.warnings]
    if not flagged:
        out.append(f"<p>No pair reaches the threshold of {_percent(similarity.settings.threshold)}.</p>")
    else:
        out.append(f"<p>{len(flagged)} pair(s) at {_percent(similarity.settings.threshold)} or more"
                   f"{'; the first ' + str(FLAGGED_SHOWN) + ' here' if len(flagged) > FLAGGED_SHOWN else ''}.</p>")
        out.append("<table><tr><th>module</th><th>student a</th><th>student b</th><th class=num>a in b</th>"
                   "<th class=num>b in a</th><th class=num>tokens</th></tr>")
        for p in flagged[:FLAGGED_SHOWN]:
            out.append(f"<tr><td><code>{_e(p.module)}</code></td><td>{_e(p.student_a)}</td><td>{_e(p.student_b)}</td>"
                       f"<td class=num>{_percent(p.similarity_a)}</td><td class=num>{_percent(p.similarity_b)}</td>"
                       f"<td class=num>{p.tokens}</td></tr>")
        out.append("</table>")
    out.append("</section>")
    return out


def _operations_html(ops: Operations, students: int) -> list[str]:
    out = ['<section class="card" id="operations">', "<h2>Operations</h2>"]
    out.append("<h3>To regrade: the grader failed</h3>")
    if ops.grader_errors:
        out.append("<table><tr><th>student</th><th>not graded</th></tr>")
        out += [f"<tr><td>{_e(item.student)}</td><td>{_e(', '.join(item.modules))}</td></tr>"
                for item in ops.grader_errors]
        out.append("</table><p class=muted>Not a grade: these modules are out of every total until regraded "
                   "(their report.json holds the grader's traceback).</p>")
    else:
        out.append('<p class="ok">None: every submitted module was graded.</p>')
    out.append("<h3>Time limits hit</h3>")
    if ops.time_limits:
        out.append("<table><tr><th>student</th><th>module</th><th class=num>checks stopped</th><th>budget</th></tr>")
        for hit in ops.time_limits:
            budget = ('<span class="alert-text">used up: later checks did not run</span>' if hit.budget_used_up
                      else "per-call limit")
            out.append(f"<tr><td>{_e(hit.student)}</td><td><code>{_e(hit.module)}</code></td>"
                       f"<td class=num>{hit.checks}</td><td>{budget}</td></tr>")
        out.append("</table><p class=muted>Usually an endless loop in the student's code; a budget used up on "
                   "a loaded machine is a reason to regrade (or to raise <code>submission_timeout_s</code>).</p>")
    else:
        out.append('<p class="ok">None.</p>')
    out.append("<h3>Sandbox isolation</h3><table><tr><th>level</th><th class=num>students</th><th>who</th></tr>")
    for level, names in ops.isolation:
        who = "" if level == "full" else _names(names)
        out.append(f"<tr><td>{_e(level)}</td><td class=num>{len(names)}</td><td>{who}</td></tr>")
    out.append("</table>")
    if ops.slowest:
        out.append(f"<h3>Slowest submissions</h3><p class=muted>{students} students graded in "
                   f"{ops.total_duration_s:.1f} s of grading time in all.</p>")
        out.append("<table><tr><th>student</th><th class=num>seconds</th><th>of which</th></tr>")
        for slow in ops.slowest:
            parts = ", ".join(f"{_e(name.removesuffix('_s').replace('_', ' '))} {value:.2f} s"
                              for name, value in slow.timings if name in WALL_PHASES)
            out.append(f"<tr><td>{_e(slow.student)}</td><td class=num>{slow.duration_s:.2f}</td>"
                       f"<td class=muted>{parts}</td></tr>")
        out.append("</table>")
    out.append("</section>")
    return out


def class_report_html(result: ClassResult, configs: Mapping[str, AssignmentConfig], *,
                      similarity: SimilarityResult | None = None) -> str:
    """The class report as one self-contained HTML page (pure and deterministic).

    No scripts, no fonts or images from the network; the histograms are inline SVG;
    printable (an assignment per page). ``similarity``, when given, adds its flagged pairs.
    """
    stats = class_statistics(result, configs)
    modules = ", ".join(a.module for a in stats.assignments)
    version = f"autograder {result.version}" if result.version else "autograder"
    out = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Class report</title>", f"<style>{_CSS}</style>", "</head>", "<body>", "<main>",
        "<header>", "<h1>Class report</h1>",
        f'<p class="muted">{len(stats.students)} students · {len(stats.assignments)} assignment(s): '
        f"{_e(modules)} · current results (the latest per student and assignment)</p>",
        "<nav>" + "".join(f'<a href="#{_anchor(a.module)}">{_e(a.module)}</a>' for a in stats.assignments)
        + ('<a href="#similarity">similarity</a>' if similarity is not None else "")
        + '<a href="#operations">operations</a></nav>', "</header>",
        '<section class="card" id="overview"><h2>Overview</h2>',
        "<table><tr><th>assignment</th><th class=num>submitted</th><th class=num>not submitted</th>"
        "<th class=num>late</th><th class=num>not graded</th><th class=num>mean</th><th class=num>median</th>"
        "<th>hardest task</th></tr>",
    ]
    for a in stats.assignments:
        hardest = a.tasks[0] if a.tasks and a.graded else None
        hardest_text = (f"<code>{_e(hardest.task.split('.', 1)[-1])}</code> "
                        f"<span class=muted>({_percent(hardest.mean_share)} of its points on average)</span>"
                        if hardest else "–")
        out.append(f'<tr><td><a href="#{_anchor(a.module)}">{_e(a.title)}</a></td>'
                   f"<td class=num>{a.submitted}</td><td class=num>{a.not_submitted}</td><td class=num>{a.late}</td>"
                   f"<td class=num>{a.not_graded}</td><td class=num>{_points(a.mean)}</td>"
                   f"<td class=num>{_points(a.median)}</td><td>{hardest_text}</td></tr>")
    out += ["</table>", "</section>"]
    for a in stats.assignments:
        out += _assignment_html(a)
    if similarity is not None:
        out += _similarity_html(similarity)
    out += _operations_html(stats.operations, len(stats.students))
    out += [f"<footer>Rendered by {_e(version)} (seed {result.seed}) from the course record; "
            "rebuilt from the record without regrading.</footer>", "</main>", "</body>", "</html>"]
    return "\n".join(out) + "\n"


def write_class_report(out_dir: Path, result: ClassResult, configs: Mapping[str, AssignmentConfig],
                       similarity: SimilarityResult | None = None) -> Path:
    """Write ``out_dir/class-report.html`` atomically (``out_dir`` created); return its path.

    ``OutputError`` naming the file when it cannot be written; an existing report is then
    left as it was.
    """
    from ..errors import OutputError

    path = Path(out_dir) / CLASS_REPORT_FILE
    text = class_report_html(result, configs, similarity=similarity)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text)
    except OSError as error:
        raise OutputError(f"cannot write the class report {path}: {error}") from error
    return path

