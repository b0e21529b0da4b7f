"""Exports from the course record, without regrading: ``autograder export OUT --format F``.

=============  ========================================================================
``csv``        the wide gradebook (``gradebook.csv``: final points per assignment)
``long``       one row per (student, assignment, task): raw, penalty, final points,
               submitted_at, late_by (seconds), and whether it was graded
``canvas``     a CSV that Canvas' gradebook import accepts (Student, ID, SIS User ID,
               SIS Login ID, Section, one column per assignment, a Points Possible row);
               the student id goes into SIS Login ID; blank cells are left untouched by
               Canvas (not submitted, not graded)
``gradescope`` each student's ``results.json`` (Gradescope's format) under DEST/<student>/
``nbgrader``   the scores into an nbgrader course's gradebook (``--course``)
=============  ========================================================================

Every file is written atomically; CSV cells that a spreadsheet would run as a formula
are neutralised.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .errors import AutograderError
from .record import CourseRecord
from .reports.atomic import atomic_write_text
from .reports.feedback import format_points
from .reports.gradebook import gradebook_csv, neutralise_formula
from .reports.render import current_class
from .results import ClassResult

__all__ = ["FORMATS", "export", "long_csv", "canvas_csv"]

FORMATS = ("csv", "long", "canvas", "gradescope", "nbgrader")


def long_csv(result: ClassResult) -> str:
    """One row per (student, assignment, task) of the current results."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "assignment", "task", "max_points", "raw", "penalty", "final", "submitted",
                     "graded", "submitted_at", "due", "late_by_s", "penalty_percent"])
    for student in sorted(result.students, key=lambda s: s.student):
        for assignment in student.assignments:
            late = assignment.lateness
            percent = late.penalty_percent if late is not None else 0.0
            for task in assignment.tasks:
                penalty = round(task.points * percent / 100.0, 4)
                writer.writerow([
                    neutralise_formula(student.student), assignment.assignment, task.task,
                    format_points(task.max_points), format_points(task.points), format_points(penalty),
                    format_points(round(task.points - penalty, 4)),
                    "yes" if assignment.submitted else "no", "yes" if assignment.graded else "no",
                    (late.submitted_at or "") if late else "", (late.due or "") if late else "",
                    format_points(late.late_by_s) if late else "0", format_points(percent)])
    return buffer.getvalue()


def canvas_csv(result: ClassResult, titles: dict[str, str]) -> str:
    """Canvas' gradebook import format (see the module docstring)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    modules = list(result.assignments)
    writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                     *[neutralise_formula(titles.get(m, m)) for m in modules]])
    maxima = []
    for module in modules:
        found = [a.max_points for s in result.students if (a := s.assignment(module)) is not None]
        maxima.append(format_points(max(found)) if found else "")
    writer.writerow(["Points Possible", "", "", "", "", *maxima])
    for student in sorted(result.students, key=lambda s: s.student):
        cells = []
        for module in modules:
            assignment = student.assignment(module)
            if assignment is None or not assignment.submitted or not assignment.graded:
                cells.append("")
            else:
                cells.append(format_points(assignment.final_points))
        name = neutralise_formula(student.student)
        writer.writerow([name, "", "", name, "", *cells])
    return buffer.getvalue()


def export(out_dir: Path, fmt: str, dest: Path | None = None, course: Path | None = None) -> str:
    """Export the course record of ``out_dir`` as ``fmt``; returns what was written (for people).

    ``dest``: the file (csv, long, canvas; default: ``out_dir/export-<fmt>.csv``) or folder
    (gradescope; default ``out_dir/gradescope``). ``course``: the nbgrader course (nbgrader).
    """
    if fmt not in FORMATS:
        raise AutograderError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    if fmt == "nbgrader" and course is None:
        raise AutograderError("--format nbgrader needs --course COURSE_DIR (the nbgrader course to write into)")
    with CourseRecord.open(out_dir, write=False) as record:
        result = current_class(record)
        titles = {m: c.get("title", m) for m, c in record.course_snapshot().items()}
        show = {m: bool(c.get("show_hidden_inputs", False)) for m, c in record.course_snapshot().items()}
    if not result.students:
        raise AutograderError(f"the course record in {out_dir} holds no results yet; grade into it first")
    if fmt == "nbgrader":
        from .nbgrader_course import write_scores

        written = write_scores(course, result)
        return f"{written} task scores written into the nbgrader gradebook of {course}"
    if fmt == "gradescope":
        from .reports.gradescope import gradescope_results

        folder = dest or Path(out_dir) / "gradescope"
        for student in result.students:
            path = folder / student.student / "results.json"
            _write(path, gradescope_results(student, show))
        return f"{len(result.students)} results.json files under {folder}/"
    text = {"csv": gradebook_csv(result), "long": long_csv(result)}.get(fmt) or canvas_csv(result, titles)
    path = dest or Path(out_dir) / f"export-{fmt}.csv"
    _write(path, text)
    return f"{path} ({len(result.students)} students)"


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text)
    except OSError as exc:
        raise AutograderError(f"cannot write {path}: {exc.strerror or exc}; choose another destination") from None

