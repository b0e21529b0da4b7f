"""The class gradebook as CSV (``gradebook.csv``).

Columns: ``student``, one per module of ``ClassResult.assignments`` in that order,
``total``, ``max_total``. One row per student, sorted by student id. A module cell holds
the student's final points for it, after any late penalty (``87.5``, ``100``: no float
noise); it is empty when the student did not submit that module or has no result for it
(not submitted is not a 0), and says ``not graded`` when the grader failed on it (a
regrade is needed; it counts in no total). ``total`` and ``max_total`` are the student's
own totals from the result model (final points, graded assignments only).

Written with the csv module (minimal quoting, ``\\n`` line ends), so an id holding a
comma or a quote stays one cell. A text cell starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return gets a leading ``'``, so that a spreadsheet shows it as text
instead of running it as a formula (CSV injection).
"""

from __future__ import annotations

import csv
import io

from ..results import ClassResult, StudentResult
from .feedback import format_points

__all__ = ["gradebook_csv", "neutralise_formula", "NOT_GRADED"]

NOT_GRADED = "not graded"

# OWASP's list for CSV injection: the four formula starters, plus tab and CR, which
# some spreadsheets skip before looking for one.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(text: str) -> str:
    """``text`` with a ``'`` prefixed when a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _row(student: StudentResult, modules: tuple[str, ...]) -> list[str]:
    cells = [neutralise_formula(student.student)]
    for module in modules:
        assignment = student.assignment(module)
        if assignment is None or not assignment.submitted:
            cells.append("")
        elif not assignment.graded:
            cells.append(NOT_GRADED)
        else:
            cells.append(format_points(assignment.final_points))
    cells += [format_points(student.final_points), format_points(student.max_points)]
    return cells


def gradebook_csv(result: ClassResult) -> str:
    """The gradebook of ``result`` as CSV text (see the module docstring)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    modules = [neutralise_formula(module) for module in result.assignments]
    writer.writerow(["student", *modules, "total", "max_total"])
    for student in sorted(result.students, key=lambda s: s.student):
        writer.writerow(_row(student, result.assignments))
    return buffer.getvalue()
