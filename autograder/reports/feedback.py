"""Per-student feedback: what a student reads, as Markdown and as HTML.

Both formats render one view built by :func:`feedback_view`, so they carry the same
content, and the rules below are applied in one place. The view is built for a student
who wants to know what to fix, in that order:

1. **Summary first**: the total (graded assignments only), then a "Fix this first" list
   (the problems that cost the most points, each linked to its section), then the table
   of assignments, each row linked to its section, with a status: full marks, points
   lost, *not submitted* (distinct from a zero), *not graded: grader error* (not a grade,
   kept out of the total), or *could not be imported*.
2. **Root causes once**: a module-level failure (the module could not be imported: syntax
   error with its line and caret, an exception or a time-out at import, an encoding that
   is not UTF-8; see :mod:`autograder.checks.loading`) or a penalty of the whole module
   (an escape hatch: every task zeroed with the same reason) is shown once, at the top of
   its module's section, with what to do; the checks it broke are counted in one line.
3. **No wall of copies**: within a task, checks that failed with the same outcome and
   message are shown once, with their count and names.
4. **Grader faults are not grades**: a check with ``Outcome.GRADER_ERROR`` shows "not
   graded: grader error" and nothing else (no message, no traceback, no grader path:
   those are in report.json's ``detail`` for the instructor).
5. **Hidden means hidden**: a HIDDEN check shows its outcome and ``message``, never its
   ``detail``, and its name without pytest's parameter id (``test_x[5-3]`` becomes
   ``test_x (case 2 of 4)``), unless ``show_hidden_inputs[module]`` is true; a PUBLIC
   check shows everything. Passed checks are listed by name only (folded in HTML).

Output depends only on the arguments (deterministic, byte for byte).

The small rules shared with other writers (``format_points``, ``task_passed``,
``student_detail``, ``display_names``, ``isolation_sentence``, ``feedback_view``) are
public here.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Mapping

from ..checks.loading import is_module_failure
from ..results import (
    AssignmentResult, CheckResult, Isolation, Outcome, StudentResult, TaskResult, Visibility,
)

__all__ = [
    "student_feedback_markdown", "student_feedback_html", "feedback_view",
    "format_points", "task_passed", "student_detail", "display_names", "isolation_sentence",
    "FeedbackView", "AssignmentView", "TaskView", "FailureGroup", "FixItem",
    "NOT_SUBMITTED", "NOT_GRADED", "GRADER_ERROR_TEXT",
]

PASS_MARK = "✔"
FAIL_MARK = "✘"
NOT_SUBMITTED = "not submitted"
NOT_GRADED = "not graded: grader error"
GRADER_ERROR_TEXT = ("The grader failed here (not your code): this is not a grade, it is not counted in your "
                     "total, and your instructor will regrade it.")
FIX_FIRST_LIMIT = 5


# --- rules shared with other writers ------------------------------------------------

def format_points(value: float) -> str:
    """Points as short text without float noise: ``87.5``, ``100``, ``0.3333``.

    Rounded to 4 decimals (as the result model rounds), trailing zeros dropped.
    """
    text = f"{round(value, 4):.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def task_passed(task: TaskResult) -> bool:
    """True when the task has no penalty, has checks, and every check passed."""
    return task.penalty is None and bool(task.checks) and all(c.passed for c in task.checks)


def student_detail(check: CheckResult, show_hidden_inputs: bool) -> str:
    """The part of ``check.detail`` a student may see: all of it, or "" when hidden.

    ``show_hidden_inputs`` is the instructor's setting for the check's assignment. A
    grader error's detail (the grader's traceback) is never shown.
    """
    if check.outcome is Outcome.GRADER_ERROR:
        return ""
    if check.visibility is Visibility.PUBLIC or show_hidden_inputs:
        return check.detail
    return ""


_PARAM_ID = re.compile(r"^(?P<base>[^\[]+)\[(?P<id>.*)\]$")


def display_names(checks: Iterable[CheckResult], show_hidden_inputs: bool) -> list[str]:
    """The names a student sees for ``checks`` (one task's checks, in result order).

    A hidden check's pytest parameter id (``test_x[5-3]``) is an input: unless
    ``show_hidden_inputs``, it becomes ``test_x (case i of n)``, numbered in result
    order among the checks of the same base name, so names stay unique.
    """
    checks = list(checks)
    bases: list[str | None] = []
    for check in checks:
        match = _PARAM_ID.match(check.name)
        hide = match is not None and check.visibility is Visibility.HIDDEN and not show_hidden_inputs
        bases.append(match.group("base") if hide else None)
    totals = Counter(b for b in bases if b is not None)
    seen: Counter[str] = Counter()
    names = []
    for check, base in zip(checks, bases):
        if base is None:
            names.append(check.name)
            continue
        seen[base] += 1
        names.append(f"{base} (case {seen[base]} of {totals[base]})" if totals[base] > 1 else base)
    return names


def _compress(names: list[str]) -> list[str]:
    """``x (case 1 of 3)``, ``x (case 2 of 3)``, ``x (case 3 of 3)`` -> ``x (3 cases)``."""
    cases: dict[str, list[tuple[int, int]]] = {}
    order: list[str] = []
    case = re.compile(r"^(?P<base>.*) \(case (?P<i>\d+) of (?P<n>\d+)\)$")
    for name in names:
        match = case.match(name)
        key = match.group("base") if match else name
        if key not in cases:
            cases[key] = []
            order.append(key)
        if match:
            cases[key].append((int(match.group("i")), int(match.group("n"))))
    out = []
    for key in order:
        found = cases[key]
        if not found:
            out.append(key)
        elif len(found) == found[0][1] and len(found) > 1:
            out.append(f"{key} (all {len(found)} cases)")
        elif len(found) == 1:
            out.append(f"{key} (case {found[0][0]} of {found[0][1]})")
        else:
            out.append(f"{key} (cases {', '.join(str(i) for i, _ in found)} of {found[0][1]})")
    return out


def _format_bytes(count: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size:
            return f"{format_points(count / size)} {unit}"
    return f"{count} bytes"


def isolation_sentence(isolation: Isolation) -> str:
    """One sentence on what the sandbox enforced, for the end of a student's feedback."""
    memory = _format_bytes(isolation.memory_limit_bytes) if isolation.memory_limit_bytes else "none"
    sentence = (
        f"Your code ran in an isolated sandbox: isolation level {isolation.level} "
        f"(filesystem: {isolation.filesystem}, network: {isolation.network}, "
        f"processes: {isolation.processes}, user: {isolation.user}, memory limit: {memory})."
    )
    if isolation.notes:
        sentence += " Notes: " + "; ".join(isolation.notes) + "."
    return sentence


# --- the view both formats render -----------------------------------------------------

@dataclass(frozen=True)
class FailureGroup:
    """Checks of one task that did not pass with the same outcome and message."""

    outcome: str                 # "failed", "error"
    message: str
    detail: str                  # "" when none or the student may not see it
    names: tuple[str, ...]       # display names, case runs compressed
    count: int


@dataclass(frozen=True)
class TaskView:
    task: str
    anchor: str
    points: str
    max_points: str
    passed: bool
    lost: float
    penalty: str | None          # a penalty of this task only (a module-wide one is shown above)
    module_penalty: bool         # zeroed by the module's penalty
    groups: tuple[FailureGroup, ...]
    broken: int                  # checks that could not run because the module failed to load
    grader_errors: int
    passed_checks: tuple[str, ...]
    total_checks: int

    @property
    def reason(self) -> str:
        """One line: why this task lost points (for "Fix this first")."""
        if self.penalty:
            return self.penalty
        if self.groups:
            group = self.groups[0]
            first = group.message.strip().splitlines()[0] if group.message.strip() else group.outcome
            more = sum(g.count for g in self.groups) - 1
            return first + (f" (and {more} more failing check{'s' if more != 1 else ''})" if more else "")
        return "no check passed"


@dataclass(frozen=True)
class AssignmentView:
    module: str
    anchor: str
    points: str                  # final points (after any late penalty)
    max_points: str
    status: str                  # "full marks", "points lost", NOT_SUBMITTED, NOT_GRADED, "could not be imported"
    submitted: bool
    graded: bool
    source: str | None
    failure: str | None          # the module-level failure, once
    broken: int                  # checks it broke
    module_penalty: str | None   # a penalty of every task, once
    messages: tuple[str, ...]    # other remarks on the module
    late: str | None             # the late penalty's reason, when there is one
    tasks: tuple[TaskView, ...]
    lost: float
    late_label: str = "Late"     # "Submission time" when it was not late but its time was unknown


@dataclass(frozen=True)
class FixItem:
    anchor: str
    title: str                   # "tensors" or "activations.softmax"
    lost: str                    # points lost, formatted
    reason: str


@dataclass(frozen=True)
class FeedbackView:
    student: str
    points: str
    max_points: str
    messages: tuple[str, ...]
    fix_first: tuple[FixItem, ...]
    not_graded: tuple[str, ...]
    not_submitted: tuple[str, ...]
    assignments: tuple[AssignmentView, ...]
    isolation: str


def _anchor(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z_-]+", "-", text).strip("-") or "section"


def _groups(checks: list[tuple[CheckResult, str]], show_hidden: bool) -> tuple[FailureGroup, ...]:
    order: list[tuple[str, str, str]] = []
    names: dict[tuple[str, str, str], list[str]] = {}
    for check, name in checks:
        key = (check.outcome.value, check.message, student_detail(check, show_hidden))
        if key not in names:
            names[key] = []
            order.append(key)
        names[key].append(name)
    return tuple(FailureGroup(outcome, message, detail, tuple(_compress(names[(outcome, message, detail)])),
                              len(names[(outcome, message, detail)]))
                 for outcome, message, detail in order)


def _task_view(module: str, task: TaskResult, show_hidden: bool, module_penalty: str | None,
               failure: str | None) -> TaskView:
    names = display_names(task.checks, show_hidden)
    named = list(zip(task.checks, names))
    failing = [(c, n) for c, n in named if not c.passed and c.outcome is not Outcome.GRADER_ERROR
               and not (failure is not None and c.outcome is Outcome.ERROR and c.message == failure)]
    broken = sum(1 for c in task.checks if failure is not None and c.outcome is Outcome.ERROR
                 and c.message == failure)
    penalty = task.penalty
    zeroed_by_module = module_penalty is not None and penalty == module_penalty
    return TaskView(
        task=task.task,
        anchor=_anchor(task.task),
        points=format_points(task.points),
        max_points=format_points(task.max_points),
        passed=task_passed(task),
        lost=round(task.max_points - task.points, 4),
        penalty=None if zeroed_by_module else penalty,
        module_penalty=zeroed_by_module,
        groups=_groups(failing, show_hidden),
        broken=broken,
        grader_errors=sum(1 for c in task.checks if c.outcome is Outcome.GRADER_ERROR),
        passed_checks=tuple(_compress([n for c, n in named if c.passed])),
        total_checks=len(task.checks),
    )


def _module_failure(assignment: AssignmentResult) -> str | None:
    """The module-level failure its checks carry (the most common one), or None."""
    found = Counter(c.message for t in assignment.tasks for c in t.checks
                    if c.outcome is Outcome.ERROR and is_module_failure(assignment.assignment, c.message))
    return found.most_common(1)[0][0] if found else None


def _module_penalty(assignment: AssignmentResult) -> str | None:
    """A penalty every task has, with the same reason: a rule broken by the whole module."""
    penalties = {t.penalty for t in assignment.tasks}
    if len(assignment.tasks) > 1 and len(penalties) == 1 and None not in penalties:
        return penalties.pop()
    if len(assignment.tasks) == 1 and assignment.tasks[0].penalty in assignment.messages:
        return assignment.tasks[0].penalty
    return None


def _not_submitted_messages(module: str, student_messages: tuple[str, ...]) -> tuple[str, ...]:
    """What the student's messages say about this module's file (a near-miss name, say)."""
    names = (f"{module}.py", f"{module}.ipynb")
    return tuple(m for m in student_messages if any(n in m for n in names))


def _assignment_view(assignment: AssignmentResult, show_hidden: bool,
                     student_messages: tuple[str, ...]) -> AssignmentView:
    module = assignment.assignment
    anchor = _anchor(module)
    late = None
    if assignment.lateness is not None and (assignment.lateness.late or assignment.lateness.reason):
        # Late, or no usable submission time (the student should know it was counted on time).
        if assignment.lateness.late or assignment.lateness.penalty_percent or assignment.lateness.submitted_at is None:
            late = assignment.lateness.reason or "late"
            if assignment.penalty_points:
                late += f" ({format_points(assignment.penalty_points)} points off)"
    points = format_points(assignment.final_points)
    max_points = format_points(assignment.max_points)
    if not assignment.submitted:
        messages = tuple(m for m in assignment.messages if not m.startswith(f"{module}.py was not submitted"))
        return AssignmentView(
            module, anchor, points, max_points, NOT_SUBMITTED, False, True, None, None, 0, None,
            messages + _not_submitted_messages(module, student_messages), late, (),
            round(assignment.max_points - assignment.points, 4))
    failure = _module_failure(assignment)
    module_penalty = _module_penalty(assignment)
    tasks = tuple(_task_view(module, t, show_hidden, module_penalty, failure) for t in assignment.tasks)
    messages = tuple(m for m in assignment.messages if m != module_penalty)
    if not assignment.graded:
        status = NOT_GRADED
    elif failure is not None:
        status = "could not be imported"
    elif assignment.points >= assignment.max_points:
        status = "full marks"
    else:
        status = "points lost"
    return AssignmentView(
        module=module, anchor=anchor, points=points, max_points=max_points, status=status, submitted=True,
        graded=assignment.graded, source=assignment.source, failure=failure,
        broken=sum(t.broken for t in tasks), module_penalty=module_penalty, messages=messages, late=late,
        tasks=tasks, lost=round(assignment.max_points - assignment.points, 4),
        late_label="Late" if assignment.lateness is not None and assignment.lateness.late else "Submission time")


def _first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0] if stripped else ""


def _fix_first(assignments: tuple[AssignmentView, ...]) -> tuple[FixItem, ...]:
    """The problems that cost the most points, a module's root cause before its tasks."""
    items: list[tuple[float, int, FixItem]] = []
    for index, a in enumerate(assignments):
        if not a.submitted or not a.graded:
            continue
        covered = False
        if a.module_penalty is not None:
            items.append((a.lost, index, FixItem(a.anchor, a.module, format_points(a.lost), a.module_penalty)))
            covered = True
        elif a.failure is not None:
            items.append((a.lost, index, FixItem(a.anchor, a.module, format_points(a.lost),
                                                 _first_line(a.failure))))
            covered = True
        for task in a.tasks:
            if covered and (task.module_penalty or (task.broken and not task.groups and task.penalty is None)):
                continue
            if task.lost > 0:
                items.append((task.lost, index, FixItem(task.anchor, task.task, format_points(task.lost),
                                                        task.reason)))
    items.sort(key=lambda item: (-item[0], item[1]))
    return tuple(item for _, _, item in items[:FIX_FIRST_LIMIT])


def feedback_view(result: StudentResult, show_hidden_inputs: Mapping[str, bool]) -> FeedbackView:
    """The content of a student's feedback (see the module docstring), for any format."""
    assignments = tuple(
        _assignment_view(a, bool(show_hidden_inputs.get(a.assignment, False)), result.messages)
        for a in result.assignments
    )
    shown_elsewhere = {m for a in assignments if not a.submitted for m in a.messages}
    return FeedbackView(
        student=result.student,
        points=format_points(result.final_points),
        max_points=format_points(result.max_points),
        messages=tuple(m for m in result.messages if m not in shown_elsewhere),
        fix_first=_fix_first(assignments),
        not_graded=tuple(a.module for a in assignments if not a.graded),
        not_submitted=tuple(a.module for a in assignments if not a.submitted),
        assignments=assignments,
        isolation=isolation_sentence(result.isolation),
    )


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _summary_sentences(view: FeedbackView) -> list[str]:
    lines = []
    if view.not_graded:
        lines.append(f"Not graded because of a grader error (not your code): {', '.join(view.not_graded)}. "
                     "This is not a grade and is not counted in your total; your instructor will regrade it.")
    if view.not_submitted:
        lines.append(f"Not submitted: {', '.join(view.not_submitted)}.")
    return lines


def _broken_line(a: AssignmentView) -> str:
    return (f"Because of this, {_count(a.broken, 'check')} of {a.module} could not run "
            "(they are not listed one by one below: every task scores zero until it imports).")


# --- Markdown -------------------------------------------------------------------------

# Characters that could start markup inside a line; escaping them keeps a student's
# exception text (or an injected "<script>", "[link](...)") literal when rendered.
_MD_INLINE = str.maketrans({c: "\\" + c for c in "\\`*[]<>|~"})
# "_" is markup only at a word's edge; inside "mnist_cnn" it stays unescaped (readable).
_MD_EDGE_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_MD_LINE_START = re.compile(r"^(?:[#>+=-]|\d+[.)])")


def _md_text(text: str) -> str:
    """One line of literal text: newlines flattened, markup characters escaped."""
    flat = " ".join(text.splitlines()).translate(_MD_INLINE)
    flat = _MD_EDGE_UNDERSCORE.sub(r"\\_", flat)
    # A leading "#", "-", "1." ... would turn a list item into a heading or a new list.
    return _MD_LINE_START.sub(lambda m: "\\" + m.group(0), flat)


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def _md_code(text: str) -> str:
    """Inline code that stays literal whatever backticks ``text`` holds."""
    flat = " ".join(text.splitlines())
    fence = "`" * (_longest_backtick_run(flat) + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def _md_block(text: str, indent: str = "") -> list[str]:
    """A fenced block, longer-fenced than any backtick run in ``text``, indented."""
    fence = "`" * max(3, _longest_backtick_run(text) + 1)
    lines = [fence + "text", *text.strip("\r\n").splitlines(), fence]
    return [(indent + line).rstrip() for line in lines]


def _md_message(text: str, indent: str) -> tuple[str, list[str]]:
    """A message inline when it is one line, else as a fenced block under the item."""
    if len(text.strip("\r\n").splitlines()) <= 1:
        return _md_text(text.strip("\r\n")), []
    return "", _md_block(text, indent)


def _md_items(messages: tuple[str, ...]) -> list[str]:
    lines: list[str] = []
    for message in messages:
        inline, block = _md_message(message, "  ")
        lines.append(f"- {inline}".rstrip())
        lines.extend(block)
    return lines


def _md_anchor(anchor: str) -> str:
    # anchors are made of [0-9A-Za-z_-] only (see _anchor): safe as raw HTML
    return f'<a id="{anchor}"></a>'


def _md_names(names: tuple[str, ...]) -> str:
    return ", ".join(_md_code(n) for n in names)


def _task_score(task: TaskView) -> str:
    if task.grader_errors:
        return NOT_GRADED
    return f"{task.points} / {task.max_points}"


def _title_score(view: FeedbackView) -> str:
    if view.not_graded and len(view.not_graded) == len(view.assignments):
        return NOT_GRADED
    return f"{view.points} / {view.max_points}"


def _md_task(task: TaskView) -> list[str]:
    mark = PASS_MARK if task.passed else ("–" if task.grader_errors else FAIL_MARK)
    lines = [f"### {_md_anchor(task.anchor)}{mark} {_md_code(task.task)}: {_task_score(task)}", ""]
    if task.module_penalty:
        return lines     # the module's penalty, shown once above, is all there is to say
    if task.penalty is not None:
        lines += [f"Penalty: {_md_text(task.penalty)}", ""]
    for group in task.groups:
        inline, block = _md_message(group.message, "  ")
        if group.count == 1:
            head = f"- {_md_names(group.names)}: {group.outcome}"
        else:
            head = f"- {group.count} checks, same {group.outcome}: {_md_names(group.names)}"
        lines.append(f"{head}. {inline}" if inline else head)
        lines.extend(block)
        if group.detail:
            lines.extend(_md_block(group.detail, "  "))
    if task.groups:
        lines.append("")
    if task.passed_checks:
        lines += [f"Passed ({_passed_count(task)}): "
                  f"{_md_names(task.passed_checks)}", ""]
    return lines


def _passed_count(task: TaskView) -> int:
    failing = sum(g.count for g in task.groups) + task.broken + task.grader_errors
    return max(0, task.total_checks - failing)


def _md_assignment(a: AssignmentView) -> list[str]:
    status = "" if a.status in ("full marks", "points lost") else f" ({a.status})"
    points = f"{a.points} / {a.max_points}" if a.graded else f"{NOT_GRADED}"
    lines = [f"## {_md_anchor(a.anchor)}{_md_text(a.module)}: {points}{status if a.graded else ''}", ""]
    if not a.submitted:
        lines += [f"Not submitted: your submission has no {_md_code(a.module + '.py')} (or "
                  f"{_md_code(a.module + '.ipynb')}), so its tasks score zero.", ""]
        if a.messages:
            lines += [*_md_items(a.messages), ""]
        return lines
    if a.source is not None:
        lines += [f"Graded file: {_md_code(a.source)}", ""]
    if not a.graded:
        lines += [_md_text(GRADER_ERROR_TEXT), ""]
    if a.late:
        lines += [f"{a.late_label}: {_md_text(a.late)}", ""]
    if a.module_penalty is not None:
        lines += ["**Penalty for the whole module** (every task scores zero):", "",
                  *_md_items((a.module_penalty,)), ""]
    if a.failure is not None:
        lines += [f"**{_md_text(a.module)} could not be imported. Fix this first:**", "",
                  *_md_block(a.failure), "", _broken_line(a), ""]
    if a.messages:
        lines += [*_md_items(a.messages), ""]
    for task in a.tasks:
        lines += _md_task(task)
    return lines


def student_feedback_markdown(result: StudentResult, show_hidden_inputs: Mapping[str, bool]) -> str:
    """The student's feedback as Markdown (CommonMark with a GFM table).

    ``show_hidden_inputs`` maps a module to the instructor's ``show_hidden_inputs``
    setting; a module missing from it hides its hidden checks' inputs. Text from the
    result is escaped so it renders literally. Ends with a newline.
    """
    view = feedback_view(result, show_hidden_inputs)
    lines = [f"# Feedback for {_md_text(view.student)}: {_title_score(view)}", ""]
    lines += [*(_md_text(s) for s in _summary_sentences(view)), ""] if _summary_sentences(view) else []
    if view.messages:
        lines += [*_md_items(view.messages), ""]
    if view.fix_first:
        lines += ["**Fix this first** (what costs you the most points):", ""]
        lines += [f"{i}. [{_md_text(item.title)}](#{item.anchor}), {item.lost} points: {_md_text(item.reason)}"
                  for i, item in enumerate(view.fix_first, start=1)]
        lines.append("")
    lines += ["| Assignment | Points | Max | Status |", "| --- | ---: | ---: | --- |"]
    for a in view.assignments:
        points = a.points if a.graded else "–"
        lines.append(f"| [{_md_text(a.module)}](#{a.anchor}) | {points} | {a.max_points} | {a.status} |")
    lines += [f"| **Total** | **{view.points}** | **{view.max_points}** | |", ""]
    for assignment in view.assignments:
        lines += _md_assignment(assignment)
    lines += ["---", "", _md_text(view.isolation)]
    return "\n".join(lines) + "\n"


# --- HTML -----------------------------------------------------------------------------

_STYLE = (
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;max-width:62em;margin:1.5em auto;"
    "padding:0 1em;line-height:1.45;color:#1f2328}"
    "h1{font-size:1.6em;margin:.2em 0 .4em}h2{margin-top:1.6em;border-bottom:1px solid #d0d7de;"
    "padding-bottom:.2em}h3{font-size:1.05em;margin:1.1em 0 .3em}"
    "table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #d0d7de;padding:.25em .7em;"
    "text-align:left}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}"
    ".ok{color:#1a7f37}.ko{color:#cf222e}.na{color:#6e7781}"
    "code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,'Liberation Mono',monospace;"
    "font-size:.92em}"
    "pre{background:#f6f8fa;border:1px solid #d0d7de;border-radius:4px;padding:.5em .7em;overflow-x:auto;"
    "white-space:pre-wrap;margin:.3em 0}"
    ".summary{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:.6em 1em;margin-bottom:1em}"
    ".fix{border-left:4px solid #cf222e;padding:.1em .9em;margin:.6em 0;background:#fff8f8}"
    ".root{border-left:4px solid #bf8700;background:#fff8c5;padding:.4em .9em;margin:.6em 0}"
    "details{margin:.2em 0 .6em}summary{cursor:pointer;color:#57606a}"
    "li{margin:.25em 0}footer{margin-top:2em;color:#57606a;font-size:.9em}"
)

# No script, no external fetch: the page shows text a student's code produced.
_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _html_message(text: str) -> str:
    """One line as text; several (a traceback, a caret) as a monospace block."""
    text = text.strip("\r\n")
    if len(text.splitlines()) <= 1:
        return f"<span>{_e(text)}</span>"
    return f'<pre class="msg">{_e(text)}</pre>'


def _html_names(names: tuple[str, ...]) -> str:
    return ", ".join(f"<code>{_e(n)}</code>" for n in names)


def _html_task(task: TaskView) -> list[str]:
    if task.passed:
        mark = f'<span class="ok">{PASS_MARK}</span>'
    elif task.grader_errors:
        mark = '<span class="na">–</span>'
    else:
        mark = f'<span class="ko">{FAIL_MARK}</span>'
    lines = [f'<h3 id="{task.anchor}">{mark} <code>{_e(task.task)}</code>: {_task_score(task)}</h3>']
    if task.module_penalty:
        return lines     # the module's penalty, shown once above, is all there is to say
    if task.penalty is not None:
        lines.append(f"<p><strong>Penalty:</strong> {_e(task.penalty)}</p>")
    if task.groups:
        lines.append("<ul>")
        for group in task.groups:
            if group.count == 1:
                head = f"{_html_names(group.names)}: {_e(group.outcome)}"
            else:
                head = f"{group.count} checks, same {_e(group.outcome)}: {_html_names(group.names)}"
            item = f"<li>{head}"
            if group.message:
                item += ". " + _html_message(group.message)
            if group.detail:
                item += f"<pre>{_e(group.detail)}</pre>"
            lines.append(item + "</li>")
        lines.append("</ul>")
    if task.passed_checks:
        lines.append(f"<details><summary>Passed ({_passed_count(task)})</summary>"
                     f"<p>{_html_names(task.passed_checks)}</p></details>")
    return lines


def _html_items(messages: tuple[str, ...]) -> list[str]:
    if not messages:
        return []
    return ["<ul>", *(f"<li>{_html_message(m)}</li>" for m in messages), "</ul>"]


def _html_assignment(a: AssignmentView) -> list[str]:
    if a.graded:
        status = "" if a.status in ("full marks", "points lost") else f" ({_e(a.status)})"
        heading = f"{_e(a.module)}: {a.points} / {a.max_points}{status}"
    else:
        heading = f"{_e(a.module)}: {NOT_GRADED}"
    lines = ["<section>", f'<h2 id="{a.anchor}">{heading}</h2>']
    if not a.submitted:
        lines.append(f"<p>Not submitted: your submission has no <code>{_e(a.module)}.py</code> (or "
                     f"<code>{_e(a.module)}.ipynb</code>), so its tasks score zero.</p>")
        lines += _html_items(a.messages)
        lines.append("</section>")
        return lines
    if a.source is not None:
        lines.append(f"<p>Graded file: <code>{_e(a.source)}</code></p>")
    if not a.graded:
        lines.append(f'<p class="na">{_e(GRADER_ERROR_TEXT)}</p>')
    if a.late:
        lines.append(f"<p><strong>{_e(a.late_label)}:</strong> {_e(a.late)}</p>")
    if a.module_penalty is not None:
        lines.append(f'<div class="root"><p><strong>Penalty for the whole module</strong> (every task scores '
                     f"zero):</p><p>{_e(a.module_penalty)}</p></div>")
    if a.failure is not None:
        lines.append(f'<div class="root"><p><strong>{_e(a.module)} could not be imported. Fix this first:'
                     f"</strong></p><pre>{_e(a.failure)}</pre><p>{_e(_broken_line(a))}</p></div>")
    lines += _html_items(a.messages)
    for task in a.tasks:
        lines += _html_task(task)
    lines.append("</section>")
    return lines


def student_feedback_html(result: StudentResult, show_hidden_inputs: Mapping[str, bool]) -> str:
    """The same feedback as ``student_feedback_markdown``, as one self-contained page.

    The summary (total, "Fix this first", the table linking to each assignment's
    section) comes first; code, messages with several lines and tracebacks are in
    monospace; passed checks are folded (``<details>``). Every text from the result is
    escaped with ``html.escape``; the page has an inline style only, and a
    Content-Security-Policy forbidding scripts and external fetches. Same hiding rule
    and same order as the Markdown. Ends with a newline.
    """
    view = feedback_view(result, show_hidden_inputs)
    title = f"Feedback for {_e(view.student)}: {_title_score(view)}"
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta http-equiv="Content-Security-Policy" content="{_e(_CSP)}">',
        f"<title>{title}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        '<header class="summary" id="summary">',
        f"<h1>{title}</h1>",
        *(f"<p>{_e(s)}</p>" for s in _summary_sentences(view)),
        *_html_items(view.messages),
    ]
    if view.fix_first:
        lines += ['<div class="fix"><p><strong>Fix this first</strong> (what costs you the most points):</p><ol>']
        lines += [f'<li><a href="#{item.anchor}">{_e(item.title)}</a>, {item.lost} points: '
                  f'{_e(item.reason)}</li>' for item in view.fix_first]
        lines += ["</ol></div>"]
    lines += [
        "<table>",
        '<thead><tr><th>Assignment</th><th class="num">Points</th><th class="num">Max</th><th>Status</th>'
        "</tr></thead>",
        "<tbody>",
    ]
    for a in view.assignments:
        css = "ok" if a.status == "full marks" else "na" if a.status in (NOT_SUBMITTED, NOT_GRADED) else "ko"
        points = a.points if a.graded else "–"
        lines.append(f'<tr><td><a href="#{a.anchor}">{_e(a.module)}</a></td><td class="num">{points}</td>'
                     f'<td class="num">{a.max_points}</td><td class="{css}">{_e(a.status)}</td></tr>')
    lines += [
        f'<tr><th>Total</th><th class="num">{view.points}</th><th class="num">{view.max_points}</th><th></th></tr>',
        "</tbody>",
        "</table>",
        "</header>",
        "<main>",
    ]
    for assignment in view.assignments:
        lines += _html_assignment(assignment)
    lines += ["</main>", "<footer>", f"<p>{_e(view.isolation)}</p>", "</footer>", "</body>", "</html>"]
    return "\n".join(lines) + "\n"
