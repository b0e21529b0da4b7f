"""Submission times and extensions: where they come from, read and checked.

A submission's time comes from, in this order:

1. ``<student>/timestamp.txt`` (our layout) or ``<student>/<assignment>/timestamp.txt``
   (nbgrader's layout, written by ``nbgrader collect``), holding nbgrader's format
   (``2026-10-02 11:59:00.000000 UTC``) or ISO 8601 with an offset;
2. a CSV given with ``--submitted-at FILE``: ``student,assignment,submitted_at``.

A student with no time is on time (and the report says no time was known); a timestamp
that does not parse is treated as unknown, and the report says why. Extensions come
from ``--extensions FILE``: ``student,assignment,due`` (ISO 8601 with an offset).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from .config import parse_time
from .errors import AutograderError
from .submissions import Submission

__all__ = ["SubmissionTime", "parse_submission_time", "timestamp_of", "read_times_csv", "read_extensions_csv"]

TIMESTAMP_FILE = "timestamp.txt"


@dataclass(frozen=True)
class SubmissionTime:
    """When a (student, assignment) was handed in; ``at`` None when unknown (``note`` says why)."""

    at: datetime | None = None
    note: str | None = None

    @property
    def iso(self) -> str | None:
        return None if self.at is None else self.at.isoformat()


def parse_submission_time(text: str) -> datetime:
    """nbgrader's ``2026-10-02 11:59:00.000000 UTC`` or ISO 8601 with an offset, as an aware
    datetime; ``ValueError`` with what was expected otherwise."""
    value = text.strip()
    if value.upper().endswith(" UTC"):
        core = value[:-4].strip()
        for pattern in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
            try:
                return datetime.strptime(core, pattern).replace(tzinfo=timezone.utc)
            except ValueError:
                continue
        raise ValueError(f"{text.strip()!r} is not a time like 2026-10-02 11:59:00.000000 UTC")
    try:
        return parse_time(value)
    except ValueError as exc:
        raise ValueError(f"{exc} (or use nbgrader's format, 2026-10-02 11:59:00.000000 UTC)") from None


def timestamp_of(submission: Submission, module: str) -> SubmissionTime | None:
    """The time in the submission's ``timestamp.txt`` for ``module``; None when there is no file."""
    path = (submission.folder / module / TIMESTAMP_FILE) if submission.nbgrader else (
        submission.folder / TIMESTAMP_FILE)
    if not path.is_file() or path.is_symlink():
        return None
    try:
        text = path.read_bytes()[:200].decode("utf-8", errors="replace")
        return SubmissionTime(parse_submission_time(text))
    except (OSError, ValueError) as exc:
        shown = f"{module}/{TIMESTAMP_FILE}" if submission.nbgrader else TIMESTAMP_FILE
        return SubmissionTime(None, f"the submission time in {shown} could not be read ({exc})")


def _rows(path: Path, columns: tuple[str, ...], flag: str) -> Iterable[tuple[int, dict[str, str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise AutograderError(f"{flag} {path}: cannot be read ({exc}); give a UTF-8 CSV file with the columns "
                              f"{','.join(columns)}") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in columns if c not in header]
    if missing:
        raise AutograderError(f"{flag} {path}: the header must name the columns {','.join(columns)} "
                              f"(missing: {', '.join(missing)}; found: {','.join(header) or 'nothing'})")
    for number, row in enumerate(reader, start=2):
        clean = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
        if not any(clean.values()):
            continue
        yield number, clean


def _unknown(student: str, module: str, students: set[str], modules: set[str]) -> str | None:
    """What a row names that is not known ("student 'x'", "assignment 'y'"), or None."""
    if student not in students:
        return f"student {student!r}"
    if module not in modules:
        return f"assignment {module!r}"
    return None


def read_times_csv(path: Path, students: set[str], modules: set[str]
                   ) -> tuple[dict[tuple[str, str], SubmissionTime], list[str]]:
    """``--submitted-at FILE``: (student, assignment) -> time, and warnings for rows that
    name an unknown student or assignment. A time that does not parse is kept as
    unknown, with a note the student's report shows."""
    times: dict[tuple[str, str], SubmissionTime] = {}
    warnings: list[str] = []
    for number, row in _rows(path, ("student", "assignment", "submitted_at"), "--submitted-at"):
        student, module = row["student"], row["assignment"]
        unknown = _unknown(student, module, students, modules)
        if unknown:
            warnings.append(f"--submitted-at {path} line {number}: unknown {unknown}; row ignored")
            continue
        try:
            times[(student, module)] = SubmissionTime(parse_submission_time(row["submitted_at"]))
        except ValueError as exc:
            times[(student, module)] = SubmissionTime(
                None, f"the submission time given for {module} could not be read ({exc})")
    return times, warnings


def read_extensions_csv(path: Path, students: set[str], modules: set[str]
                        ) -> tuple[list[tuple[str, str, str]], list[str]]:
    """``--extensions FILE``: (student, assignment, due ISO 8601) rows, and warnings for
    rows that name an unknown student or assignment. A due date that does not parse (or
    has no offset) is an ``AutograderError`` naming the line: nothing is graded."""
    rows: list[tuple[str, str, str]] = []
    warnings: list[str] = []
    for number, row in _rows(path, ("student", "assignment", "due"), "--extensions"):
        student, module = row["student"], row["assignment"]
        unknown = _unknown(student, module, students, modules)
        if unknown:
            warnings.append(f"--extensions {path} line {number}: unknown {unknown}; row ignored")
            continue
        try:
            due = parse_time(row["due"])
        except ValueError as exc:
            raise AutograderError(f"--extensions {path} line {number}: 'due' {exc}") from None
        rows.append((student, module, due.isoformat()))
    return rows, warnings
