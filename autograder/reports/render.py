"""Every file a person reads, rendered from the course record (never from a run).

``render_record(record, out_dir)`` writes, for every student in the record, their four
files (``report.json`` with the ``history`` of each assignment, ``feedback.md``,
``feedback.html``, ``results.json``), each covering every assignment graded so far, and
the class files (``gradebook.csv``, ``class-report.html``). The late penalty is computed
here, from the raw score, the submission time, the due date (an extension applied) and
the late policy of the course configuration the latest run recorded; it is never stored.

A student's folder whose files would not change is left alone (no rewrite), so a run
that changed one student rewrites one folder.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..config import AssignmentConfig
from ..course import MODULES
from ..record import CourseRecord, Entry
from ..results import ClassResult, Isolation, Lateness, StudentResult
from ..scoring import LatePolicy, lateness

__all__ = ["course_snapshot", "current_class", "render_record", "render_students", "assignment_lateness"]


def course_snapshot(configs: Mapping[str, AssignmentConfig], due_overrides: Mapping[str, str | None] | None = None
                    ) -> dict[str, Any]:
    """What reports need of the course configuration, as JSON-ready data (recorded per run).

    ``due_overrides``: assignment -> due date (ISO 8601) taken from elsewhere (nbgrader's
    gradebook), replacing the config's.
    """
    snapshot = {}
    for module, config in configs.items():
        due = config.due.isoformat() if config.due is not None else None
        if due_overrides and due_overrides.get(module):
            due = due_overrides[module]
        snapshot[module] = {
            "title": config.title,
            "due": due,
            "late": {"policy": config.late.policy, "percent": config.late.percent,
                     "grace_minutes": config.late.grace_minutes,
                     "max_penalty_percent": config.late.max_penalty_percent},
            "show_hidden_inputs": config.show_hidden_inputs,
        }
    return snapshot


def assignment_lateness(entry: Entry, snapshot: Mapping[str, Any], extensions: Mapping[tuple[str, str], str]
                        ) -> Lateness | None:
    """The lateness of one current result (None: no due date, or not submitted)."""
    if not entry.result.submitted:
        return None
    course = snapshot.get(entry.assignment, {})
    extension = extensions.get((entry.student, entry.assignment))
    due = extension or course.get("due")
    if due is None:
        return None
    policy = LatePolicy(**course.get("late", {}))
    submitted = datetime.fromisoformat(entry.submitted_at) if entry.submitted_at else None
    return lateness(submitted, datetime.fromisoformat(due), policy, extended=extension is not None,
                    time_note=entry.time_note)


def _weakest(isolations: list[Isolation]) -> Isolation:
    """The weakest of several isolations (what every one of them had)."""
    if not isolations:
        return Isolation(notes=("no worker was started",))
    if len(isolations) == 1:
        return isolations[0]

    def all_of(attr: str, strong: str, weak: str) -> str:
        return strong if all(getattr(i, attr) == strong for i in isolations) else weak

    limits = [i.memory_limit_bytes for i in isolations]
    return Isolation(filesystem=all_of("filesystem", "private-root", "none"), network=all_of("network", "none", "host"),
                     processes=all_of("processes", "private", "shared"), user=all_of("user", "nobody", "same"),
                     memory_limit_bytes=0 if 0 in limits else max(limits),
                     notes=tuple(sorted({n for i in isolations for n in i.notes})))


def _order(module: str) -> int:
    return MODULES.index(module) if module in MODULES else len(MODULES)


def _student(record: CourseRecord, student: str, entries: list[Entry], snapshot: Mapping[str, Any],
             extensions: Mapping[tuple[str, str], str]) -> StudentResult:
    entries = sorted(entries, key=lambda e: _order(e.assignment))
    assignments = tuple(replace(e.result, lateness=assignment_lateness(e, snapshot, extensions)) for e in entries)
    base = record.latest_grading(student) or StudentResult(student=student, assignments=())
    isolation = _weakest(record.isolations(student, record.grading_ids(e.id for e in entries)))
    return replace(base, assignments=assignments, isolation=isolation)


def current_class(record: CourseRecord, students: Iterable[str] | None = None) -> ClassResult:
    """The current result of every student (or of ``students``), late penalties applied."""
    snapshot = record.course_snapshot()
    extensions = record.extensions()
    by_student: dict[str, list[Entry]] = {}
    for (student, _module), entry in record.current(students).items():
        by_student.setdefault(student, []).append(entry)
    chosen = sorted(by_student)
    results = tuple(_student(record, s, by_student[s], snapshot, extensions) for s in chosen)
    modules = sorted({e.assignment for entries in by_student.values() for e in entries}, key=_order)
    last = record.latest_run() or {"seed": 0, "version": ""}
    return ClassResult(students=results, assignments=tuple(modules), seed=last["seed"], version=last["version"])


def _history(record: CourseRecord, student: str) -> list[dict[str, Any]]:
    return [{"assignment": e.assignment, "run": e.run_id, "recorded_at": e.recorded_at,
             "regraded": e.graded, "files_digest": e.files_digest, "submitted_at": e.submitted_at,
             "points": e.result.points, "max_points": e.result.max_points, "graded": e.result.graded}
            for e in sorted(record.history(student), key=lambda e: (_order(e.assignment), e.id))]


def _show_hidden(snapshot: Mapping[str, Any]) -> dict[str, bool]:
    return {module: bool(course.get("show_hidden_inputs", False)) for module, course in snapshot.items()}


def render_students(record: CourseRecord, out_dir: Path, students: Iterable[str],
                    class_result: ClassResult | None = None) -> None:
    """Write the four files of each of ``students`` from the record (unchanged ones are left alone)."""
    from . import write_student_reports

    students = list(students)
    current = class_result or current_class(record, students)
    show = _show_hidden(record.course_snapshot())
    for result in current.students:
        if result.student in students:
            write_student_reports(result, out_dir, show, history=_history(record, result.student))


def render_record(record: CourseRecord, out_dir: Path) -> ClassResult:
    """Every file of ``out_dir`` from the record: every student's four files and the class
    files. Returns the class as rendered."""
    from . import write_class_reports

    current = current_class(record)
    render_students(record, out_dir, [s.student for s in current.students], current)
    write_class_reports(current, out_dir, {m: c for m, c in record.course_snapshot().items()})
    return current
