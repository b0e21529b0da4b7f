"""Per-student feedback: what a student reads, as Markdown and as HTML.

Both formats render one view built by ``_view``, so they carry the same content and
the hiding rule is applied in one place:

- a PUBLIC check that did not pass shows its name, outcome, ``message`` and ``detail``;
- a HIDDEN check shows its name, outcome and ``message`` only, never ``detail`` (it
  may hold the hidden inputs), unless ``show_hidden_inputs.get(module, False)``;
- passed checks are listed by name only.

Layout: a title with the student id and the total; the student's messages; a table of
assignments (points / max); per assignment a heading (marked "(not submitted)" when it
was not), the graded file and the module's messages; per task a heading with ✔ (every
check passed, no penalty) or ✘ and the points earned / max, the penalty message if any,
the checks that did not pass, then the ones that did; a closing line on the sandbox's
isolation. Order is the result's order; output depends only on the arguments.

The small rules shared with other writers (``format_points``, ``task_passed``,
``student_detail``, ``isolation_sentence``) are public here.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Mapping

from ..results import (
    AssignmentResult, CheckResult, Isolation, StudentResult, TaskResult, Visibility,
)

__all__ = [
    "student_feedback_markdown", "student_feedback_html",
    "format_points", "task_passed", "student_detail", "isolation_sentence",
]

PASS_MARK = "✔"
FAIL_MARK = "✘"


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

    ``show_hidden_inputs`` is the instructor's setting for the check's assignment.
    """
    if check.visibility is Visibility.PUBLIC or show_hidden_inputs:
        return check.detail
    return ""


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
class _CheckView:
    name: str
    outcome: str
    message: str
    detail: str          # "" when there is none or the student may not see it


@dataclass(frozen=True)
class _TaskView:
    task: str
    points: str
    max_points: str
    passed: bool
    penalty: str | None
    failed: tuple[_CheckView, ...]
    passed_checks: tuple[str, ...]


@dataclass(frozen=True)
class _AssignmentView:
    module: str
    points: str
    max_points: str
    submitted: bool
    source: str | None
    messages: tuple[str, ...]
    tasks: tuple[_TaskView, ...]


@dataclass(frozen=True)
class _View:
    student: str
    points: str
    max_points: str
    messages: tuple[str, ...]
    assignments: tuple[_AssignmentView, ...]
    isolation: str


def _task_view(task: TaskResult, show_hidden: bool) -> _TaskView:
    failed = tuple(
        _CheckView(c.name, c.outcome.value, c.message, student_detail(c, show_hidden))
        for c in task.checks if not c.passed
    )
    return _TaskView(
        task=task.task,
        points=format_points(task.points),
        max_points=format_points(task.max_points),
        passed=task_passed(task),
        penalty=task.penalty,
        failed=failed,
        passed_checks=tuple(c.name for c in task.checks if c.passed),
    )


def _assignment_view(assignment: AssignmentResult, show_hidden: bool) -> _AssignmentView:
    return _AssignmentView(
        module=assignment.assignment,
        points=format_points(assignment.points),
        max_points=format_points(assignment.max_points),
        submitted=assignment.submitted,
        source=assignment.source,
        messages=assignment.messages,
        tasks=tuple(_task_view(t, show_hidden) for t in assignment.tasks),
    )


def _view(result: StudentResult, show_hidden_inputs: Mapping[str, bool]) -> _View:
    return _View(
        student=result.student,
        points=format_points(result.points),
        max_points=format_points(result.max_points),
        messages=result.messages,
        assignments=tuple(
            _assignment_view(a, bool(show_hidden_inputs.get(a.assignment, False)))
            for a in result.assignments
        ),
        isolation=isolation_sentence(result.isolation),
    )


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


def _md_task(task: _TaskView) -> list[str]:
    mark = PASS_MARK if task.passed else FAIL_MARK
    lines = [f"### {mark} {_md_code(task.task)}: {task.points} / {task.max_points}", ""]
    if task.penalty is not None:
        lines += [f"Penalty: {_md_text(task.penalty)}", ""]
    if task.failed:
        for check in task.failed:
            inline, block = _md_message(check.message, "  ")
            head = f"- {_md_code(check.name)}: {check.outcome}"
            lines.append(f"{head}. {inline}" if inline else head)
            lines.extend(block)
            if check.detail:
                lines.extend(_md_block(check.detail, "  "))
        lines.append("")
    if task.passed_checks:
        names = ", ".join(_md_code(name) for name in task.passed_checks)
        lines += [f"Passed ({len(task.passed_checks)}): {names}", ""]
    return lines


def _md_assignment(assignment: _AssignmentView) -> list[str]:
    status = "" if assignment.submitted else " (not submitted)"
    points = f"{assignment.points} / {assignment.max_points}"
    lines = [f"## {_md_text(assignment.module)}: {points}{status}", ""]
    if assignment.source is not None:
        lines += [f"Graded file: {_md_code(assignment.source)}", ""]
    if assignment.messages:
        lines += [*_md_items(assignment.messages), ""]
    for task in assignment.tasks:
        lines += _md_task(task)
    return lines


def student_feedback_markdown(result: StudentResult, show_hidden_inputs: Mapping[str, bool]) -> str:
    """The student's feedback as Markdown (CommonMark with a GFM table).

    ``show_hidden_inputs`` maps a module to the instructor's ``show_hidden_inputs``
    setting; a module missing from it hides the detail of its hidden checks. Text from
    the result is escaped so it renders literally. Ends with a newline.
    """
    view = _view(result, show_hidden_inputs)
    lines = [f"# Feedback for {_md_text(view.student)}: {view.points} / {view.max_points}", ""]
    if view.messages:
        lines += [*_md_items(view.messages), ""]
    lines += ["| Assignment | Points | Max |", "| --- | ---: | ---: |"]
    lines += [
        f"| {_md_text(a.module)} | {a.points} | {a.max_points} |" for a in view.assignments
    ]
    lines += [f"| **Total** | **{view.points}** | **{view.max_points}** |", ""]
    for assignment in view.assignments:
        lines += _md_assignment(assignment)
    lines += ["---", "", _md_text(view.isolation)]
    return "\n".join(lines) + "\n"


# --- HTML -----------------------------------------------------------------------------

_STYLE = (
    "body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em}"
    "td.num{text-align:right}.ok{color:#1a7f37}.ko{color:#cf222e}"
    "pre{background:#f6f8fa;padding:.5em;overflow-x:auto}.msg{white-space:pre-wrap}"
)

# No script, no external fetch: the page shows text a student's code produced.
_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _html_message(text: str) -> str:
    return f'<span class="msg">{_e(text)}</span>'


def _html_task(task: _TaskView) -> list[str]:
    if task.passed:
        mark = f'<span class="ok">{PASS_MARK}</span>'
    else:
        mark = f'<span class="ko">{FAIL_MARK}</span>'
    lines = [f"<h3>{mark} {_e(task.task)}: {task.points} / {task.max_points}</h3>"]
    if task.penalty is not None:
        lines.append(f"<p>Penalty: {_html_message(task.penalty)}</p>")
    if task.failed:
        lines.append("<ul>")
        for check in task.failed:
            item = f"<li><code>{_e(check.name)}</code>: {_e(check.outcome)}"
            if check.message:
                item += f". {_html_message(check.message)}"
            if check.detail:
                item += f"<pre>{_e(check.detail)}</pre>"
            lines.append(item + "</li>")
        lines.append("</ul>")
    if task.passed_checks:
        names = ", ".join(f"<code>{_e(name)}</code>" for name in task.passed_checks)
        lines.append(f"<p>Passed ({len(task.passed_checks)}): {names}</p>")
    return lines


def _html_items(messages: tuple[str, ...]) -> list[str]:
    if not messages:
        return []
    return ["<ul>", *(f"<li>{_html_message(m)}</li>" for m in messages), "</ul>"]


def _html_assignment(assignment: _AssignmentView) -> list[str]:
    status = "" if assignment.submitted else " (not submitted)"
    lines = [
        "<section>",
        f"<h2>{_e(assignment.module)}: {assignment.points} / {assignment.max_points}{status}</h2>",
    ]
    if assignment.source is not None:
        lines.append(f"<p>Graded file: <code>{_e(assignment.source)}</code></p>")
    lines += _html_items(assignment.messages)
    for task in assignment.tasks:
        lines += _html_task(task)
    lines.append("</section>")
    return lines


def student_feedback_html(result: StudentResult, show_hidden_inputs: Mapping[str, bool]) -> str:
    """The same feedback as ``student_feedback_markdown``, as one self-contained page.

    Every text from the result is escaped with ``html.escape``; the page has an inline
    style only, and a Content-Security-Policy forbidding scripts and external fetches.
    Same hiding rule and same order as the Markdown. Ends with a newline.
    """
    view = _view(result, show_hidden_inputs)
    title = f"Feedback for {_e(view.student)}: {view.points} / {view.max_points}"
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_e(_CSP)}">',
        f"<title>{title}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{title}</h1>",
        *_html_items(view.messages),
        "<table>",
        "<thead><tr><th>Assignment</th><th>Points</th><th>Max</th></tr></thead>",
        "<tbody>",
        *(
            f'<tr><td>{_e(a.module)}</td><td class="num">{a.points}</td>'
            f'<td class="num">{a.max_points}</td></tr>'
            for a in view.assignments
        ),
        f'<tr><th>Total</th><th class="num">{view.points}</th>'
        f'<th class="num">{view.max_points}</th></tr>',
        "</tbody>",
        "</table>",
    ]
    for assignment in view.assignments:
        lines += _html_assignment(assignment)
    lines += ["<footer>", f"<p>{_e(view.isolation)}</p>", "</footer>", "</body>", "</html>"]
    return "\n".join(lines) + "\n"
