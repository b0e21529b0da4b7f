"""Gradescope's autograder ``results.json`` for one student.

Shape (Gradescope's "Autograder specifications")::

    {
      "score": <the student's total>,
      "output": <student and module messages, then the sandbox's isolation>,
      "tests": [
        {"name": "<task id>", "number": "<assignment>.<task>" (1-based, result order),
         "score": <task points>, "max_score": <task max>,
         "status": "passed" | "failed",
         "visibility": "visible" | "after_published",
         "output": <penalty, and each check that did not pass: name, outcome, message>}
      ]
    }

One test per task. ``visibility`` is ``"visible"`` when every check of the task is
public, ``"after_published"`` when any is hidden (its score would otherwise tell what a
hidden check found before grades are published). A check's ``detail`` follows the
feedback's hiding rule (``feedback.student_detail``). ``execution_time`` is left out:
it is a timing, and this file must be the same byte for byte when graded twice.
Text is plain (Gradescope's default ``output_format``).
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from ..results import AssignmentResult, StudentResult, TaskResult, Visibility
from .feedback import FAIL_MARK, PASS_MARK, isolation_sentence, student_detail, task_passed

__all__ = ["gradescope_results"]


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def _task_output(task: TaskResult, show_hidden: bool) -> str:
    lines: list[str] = []
    if task.penalty is not None:
        lines.append(f"Penalty: {task.penalty}")
    failed = [c for c in task.checks if not c.passed]
    for check in failed:
        head = f"{FAIL_MARK} {check.name}: {check.outcome.value}"
        message = check.message.strip("\r\n")
        if len(message.splitlines()) > 1:
            # Indented under its check, so that its lines are not read as other checks.
            lines += [head + ".", _indent(message)]
        else:
            lines.append(f"{head}. {message}" if message else head)
        detail = student_detail(check, show_hidden)
        if detail:
            lines.append(_indent(detail))
    passed = len(task.checks) - len(failed)
    if passed:
        lines.append(f"{PASS_MARK} {passed} of {len(task.checks)} checks passed.")
    return "\n".join(lines)


def _test(number: str, task: TaskResult, show_hidden: bool) -> dict[str, Any]:
    public = all(c.visibility is Visibility.PUBLIC for c in task.checks)
    return {
        "name": task.task,
        "number": number,
        "score": task.points,
        "max_score": task.max_points,
        "status": "passed" if task_passed(task) else "failed",
        "visibility": "visible" if public else "after_published",
        "output": _task_output(task, show_hidden),
    }


def _module_lines(assignment: AssignmentResult) -> list[str]:
    """The module's heading and messages; nothing when it was submitted without remarks."""
    if assignment.submitted and not assignment.messages:
        return []
    status = "" if assignment.submitted else " (not submitted)"
    return [f"{assignment.assignment}{status}:", *(f"- {m}" for m in assignment.messages)]


def gradescope_results(result: StudentResult, show_hidden_inputs: Mapping[str, bool]) -> str:
    """The student's Gradescope ``results.json`` text (see the module docstring).

    ``show_hidden_inputs`` maps a module to the instructor's setting, as for feedback.
    The sum of the tests' ``score`` is the top-level ``score`` (up to the model's
    rounding to 4 decimals). Deterministic: sorted keys, indent 2, ASCII, final newline.
    """
    tests = [
        _test(f"{i}.{j}", task, bool(show_hidden_inputs.get(a.assignment, False)))
        for i, a in enumerate(result.assignments, start=1)
        for j, task in enumerate(a.tasks, start=1)
    ]
    output = [*result.messages]
    for assignment in result.assignments:
        output += _module_lines(assignment)
    output.append(isolation_sentence(result.isolation))
    document = {"score": result.points, "output": "\n".join(output), "tests": tests}
    return json.dumps(document, sort_keys=True, indent=2, allow_nan=False) + "\n"
