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

One test per task, its output built from the same view as the feedback
(``feedback.feedback_view``): a module-level failure (the module could not be imported)
or a penalty of the whole module is said once, in the top-level ``output``, and each
task it broke says so in one line; checks of a task that failed with the same message
are shown once with their count; hidden checks' names carry no parameter ids unless
``show_hidden_inputs``. A task of an assignment that is *not graded* (a grader error)
scores 0 of 0, named "<task> (not graded: grader error)", with no traceback: it is no
grade, and the grader's traceback is in report.json only. ``visibility`` is ``"visible"`` when every check of the task is
public, ``"after_published"`` when any is hidden (its score would otherwise tell what a
hidden check found before grades are published). A check's ``detail`` follows the
feedback's hiding rule (``feedback.student_detail``). ``execution_time`` is left out:
it is a timing, and this file must be the same byte for byte when graded twice.
Text is plain (Gradescope's default ``output_format``).
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from ..results import StudentResult, TaskResult, Visibility
from .feedback import (
    FAIL_MARK, GRADER_ERROR_TEXT, NOT_GRADED, PASS_MARK, AssignmentView, TaskView, feedback_view,
)

__all__ = ["gradescope_results"]


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def _passed(view: TaskView) -> int:
    return max(0, view.total_checks - sum(g.count for g in view.groups) - view.broken - view.grader_errors)


def _task_output(view: TaskView, assignment: AssignmentView) -> str:
    lines: list[str] = []
    if view.module_penalty:
        return f"Penalty: {assignment.module_penalty}"
    if view.penalty is not None:
        lines.append(f"Penalty: {view.penalty}")
    if view.broken:
        lines.append(f"{FAIL_MARK} {view.broken} checks could not run: {assignment.module} could not be imported "
                     "(see the top of the output).")
    if view.grader_errors:
        lines.append(f"{view.grader_errors} checks {NOT_GRADED}. {GRADER_ERROR_TEXT}")
    for group in view.groups:
        names = ", ".join(group.names)
        head = (f"{FAIL_MARK} {names}: {group.outcome}" if group.count == 1
                else f"{FAIL_MARK} {group.count} checks, same {group.outcome}: {names}")
        message = group.message.strip("\r\n")
        if len(message.splitlines()) > 1:
            # Indented under its check, so that its lines are not read as other checks.
            lines += [head + ".", _indent(message)]
        else:
            lines.append(f"{head}. {message}" if message else head)
        if group.detail:
            lines.append(_indent(group.detail))
    passed = _passed(view)
    if passed:
        lines.append(f"{PASS_MARK} {passed} of {view.total_checks} checks passed.")
    return "\n".join(lines)


def _test(number: str, task: TaskResult, view: TaskView, assignment: AssignmentView) -> dict[str, Any]:
    public = all(c.visibility is Visibility.PUBLIC for c in task.checks)
    graded = assignment.graded
    return {
        "name": task.task if graded else f"{task.task} ({NOT_GRADED})",
        "number": number,
        "score": task.points if graded else 0.0,
        "max_score": task.max_points if graded else 0.0,
        "status": "passed" if view.passed and graded else "failed",
        "visibility": "visible" if public else "after_published",
        "output": _task_output(view, assignment) if graded else f"{NOT_GRADED}. {GRADER_ERROR_TEXT}",
    }


def _module_lines(assignment: AssignmentView) -> list[str]:
    """The module's heading and its root causes; nothing when there is nothing to say."""
    lines: list[str] = []
    if not assignment.submitted:
        lines.append(f"{assignment.module} (not submitted): no {assignment.module}.py (or .ipynb) was found; "
                     "its tasks score zero.")
    elif not assignment.graded:
        lines.append(f"{assignment.module} ({NOT_GRADED}): {GRADER_ERROR_TEXT}")
    elif assignment.module_penalty or assignment.failure or assignment.messages or assignment.late:
        lines.append(f"{assignment.module}:")
    if assignment.late:
        lines.append(f"- late: {assignment.late}")
    if assignment.module_penalty:
        lines.append(f"- penalty for the whole module (every task scores zero): {assignment.module_penalty}")
    if assignment.failure:
        lines += [f"- {assignment.failure.splitlines()[0]}", _indent("\n".join(assignment.failure.splitlines()[1:]))]
        lines.append(f"  ({assignment.broken} checks could not run because of it.)")
    lines += [f"- {m}" for m in assignment.messages]
    return [line for line in lines if line.strip()]


def gradescope_results(result: StudentResult, show_hidden_inputs: Mapping[str, bool]) -> str:
    """The student's Gradescope ``results.json`` text (see the module docstring).

    ``show_hidden_inputs`` maps a module to the instructor's setting, as for feedback.
    The sum of the tests' ``score`` is the top-level ``score`` (up to the model's
    rounding to 4 decimals), the graded assignments' points after any late penalty.
    Deterministic: sorted keys, indent 2, ASCII, final newline.
    """
    view = feedback_view(result, show_hidden_inputs)
    tests = []
    for i, (assignment, a_view) in enumerate(zip(result.assignments, view.assignments), start=1):
        task_views = {t.task: t for t in a_view.tasks}
        for j, task in enumerate(assignment.tasks, start=1):
            t_view = task_views.get(task.task)
            if t_view is None:      # not submitted: no task views; the task's own penalty says why
                tests.append({"name": task.task, "number": f"{i}.{j}", "score": task.points,
                              "max_score": task.max_points, "status": "failed",
                              "visibility": "visible", "output": f"{assignment.assignment} was not submitted."})
                continue
            tests.append(_test(f"{i}.{j}", task, t_view, a_view))
    output = [*view.messages]
    if view.not_graded:
        output.append(f"Not graded because of a grader error (not your code): {', '.join(view.not_graded)}. "
                      "This is not a grade; your instructor will regrade it.")
    if view.fix_first:
        output.append("Fix this first:")
        output += [f"{n}. {item.title} ({item.lost} points): {item.reason}"
                   for n, item in enumerate(view.fix_first, start=1)]
    for assignment in view.assignments:
        output += _module_lines(assignment)
    output.append(view.isolation)
    score = round(result.final_points, 4)
    document = {"score": score, "output": "\n".join(output), "tests": tests}
    return json.dumps(document, sort_keys=True, indent=2, allow_nan=False) + "\n"
