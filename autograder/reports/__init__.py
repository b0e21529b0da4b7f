"""Reports: one pure writer per format (result -> text), and the functions that write files.

Writers (each deterministic: the same result gives the same text, byte for byte):

- ``json_report``  ``student_to_json`` / ``student_from_json``: everything, for machines
- ``feedback``     ``student_feedback_markdown`` / ``student_feedback_html``: for the student
- ``gradescope``   ``gradescope_results``: Gradescope's ``results.json``
- ``gradebook``    ``gradebook_csv``: the class's points, one row per student

Files (``atomic``: a reader never sees a half-written report)::

    <out_dir>/gradebook.csv                  write_class_reports
    <out_dir>/<student>/report.json          write_student_reports, the folder replaced
                        feedback.md          as a whole, so its four files always come
                        feedback.html        from the same grading run
                        results.json

Only ``report.json`` holds the instructors' ``detail`` of hidden checks; the three files
for students follow ``show_hidden_inputs`` (module -> bool, default False).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from ..errors import OutputError
from ..results import ClassResult, StudentResult
from .atomic import atomic_write_text, replace_dir_atomically
from .feedback import student_feedback_html, student_feedback_markdown
from .gradebook import gradebook_csv
from .gradescope import gradescope_results
from .json_report import student_from_json, student_to_json

__all__ = [
    "student_to_json", "student_from_json",
    "student_feedback_markdown", "student_feedback_html",
    "gradescope_results", "gradebook_csv",
    "atomic_write_text", "replace_dir_atomically",
    "write_student_reports", "write_class_reports",
    "STUDENT_FILES", "GRADEBOOK_FILE",
]

STUDENT_FILES = ("report.json", "feedback.md", "feedback.html", "results.json")
GRADEBOOK_FILE = "gradebook.csv"


def _check_student_id(student: str) -> str:
    """``student`` if it can name a folder directly under the output folder."""
    separators = {"/", os.sep, os.altsep} - {None}
    if student in ("", ".", "..") or "\0" in student or any(sep in student for sep in separators):
        raise ValueError(
            f"student id must be a plain folder name, not empty, '.' or '..', "
            f"without '/' or NUL (got {student!r})"
        )
    return student


def write_student_reports(
    result: StudentResult, out_dir: Path, show_hidden_inputs: Mapping[str, bool],
    history: list | None = None,
) -> Path:
    """Write ``out_dir/<student>/`` with the four files of ``STUDENT_FILES``; return it.

    The folder is replaced as a whole (``replace_dir_atomically``): a reader sees the
    previous four files or these, never a mix, and nothing else is left in it; a folder
    that already holds exactly these files is left alone. ``history`` (from the course
    record) goes into ``report.json``. ``out_dir`` is created if needed. ``ValueError``
    for a student id that is not a plain folder name; ``OutputError`` (naming the folder)
    if it cannot be written, with the previous folder left as it was.
    """
    folder = Path(out_dir) / _check_student_id(result.student)
    report, markdown, page, gradescope = STUDENT_FILES
    files = {
        report: student_to_json(result, history),
        markdown: student_feedback_markdown(result, show_hidden_inputs),
        page: student_feedback_html(result, show_hidden_inputs),
        gradescope: gradescope_results(result, show_hidden_inputs),
    }
    if _holds_exactly(folder, files):
        return folder
    try:
        replace_dir_atomically(folder, files)
    except OSError as error:
        raise OutputError(
            f"cannot write the reports of {result.student!r} to {folder}: {error}"
        ) from error
    return folder


def _holds_exactly(folder: Path, files: Mapping[str, str]) -> bool:
    """Does ``folder`` hold ``files`` (and nothing else), byte for byte?"""
    try:
        if folder.is_symlink() or sorted(p.name for p in folder.iterdir()) != sorted(files):
            return False
        return all((folder / name).read_bytes() == text.encode("utf-8") for name, text in files.items())
    except OSError:
        return False


def write_class_reports(result: ClassResult, out_dir: Path, course: Mapping | None = None) -> None:
    """Write ``out_dir/gradebook.csv`` (and the class report) atomically, creating ``out_dir``.

    ``course``: the course snapshot of the record (titles, due dates), when there is one.
    ``OutputError`` (naming the file) if it cannot be written; an existing file is then
    left as it was.
    """
    path = Path(out_dir) / GRADEBOOK_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, gradebook_csv(result))
    except OSError as error:
        raise OutputError(f"cannot write the gradebook {path}: {error}") from error
    _write_class_report(result, Path(out_dir))


def _write_class_report(result: ClassResult, out_dir: Path) -> None:
    from ..config import load_course
    from .class_report import write_class_report

    write_class_report(out_dir, result, load_course())
