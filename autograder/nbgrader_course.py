"""The course's life in nbgrader: release into a course folder, scores, comments and
feedback into it, and its deadlines out of it.

``autograder release --nbgrader COURSE_DIR`` lays out an nbgrader course::

    COURSE_DIR/
        nbgrader_config.py                 written only when there is none
        gradebook.db                       the six assignments registered, with their cells
        source/<module>/<module>.ipynb     the source notebooks (solution regions, test cells)
        exchange/                          nbgrader's exchange (the config points there)

so that ``nbgrader generate_assignment <module>``, run in ``COURSE_DIR``, makes the
student notebooks in ``release/``, and ``release_assignment``, ``fetch_assignment``,
``submit``, ``collect``, ``release_feedback`` and ``fetch_feedback`` work without a
system-wide exchange folder. The assignment, the notebook and the nbgrader module share
one name (``activations/activations.ipynb``).

Each source notebook has one autograded test cell per task (``<module>-check-<task>``,
``points`` = the task's points), holding that task's public checks. nbgrader therefore
knows every assignment's maximum score (100), and ``autograder grade --nbgrader-course``
(or ``--to-nbgrader``) writes, through nbgrader's own API (:class:`nbgrader.api.Gradebook`),
for each student and assignment (:func:`write_scores`):

- each task's points as the ``auto_score`` of that task's grade cell;
- each task's reason (points, failing checks and their messages, as the student's
  feedback shows them) as the ``auto_comment`` of the task's solution cell, so formgrader
  shows why;
- the late penalty our policy computed (``[late]`` of the assignment's config) as the
  notebook's ``late_submission_penalty``, which ``nbgrader export`` lists;
- the student's feedback for that assignment (:func:`write_feedback`) in
  ``COURSE/feedback/<student>/<assignment>/``, where ``nbgrader release_feedback`` finds
  it and ``nbgrader fetch_feedback`` delivers it.

Grading again replaces all of these; what a person entered in formgrader
(``manual_score``, ``manual_comment``) is left alone, and nbgrader lets it win, as usual.
:func:`deadlines` reads the due dates and extensions set in nbgrader (``nbgrader db
assignment add --duedate``, formgrader) for our late policy.

nbgrader is imported only here, and only when these commands run (it is slow to import).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping

from .course import ASSIGNMENTS, MODULES, assignment_for
from .errors import AutograderError
from .notebook_code import import_nbformat
from .release.public_cells import check_grade_id
from .reports.atomic import atomic_write_text, check_plain_name, replace_dir_atomically
from .results import AssignmentResult, ClassResult, StudentResult

__all__ = ["NbgraderCourse", "find_course", "release_course", "write_scores", "write_feedback", "deadlines",
           "task_comment", "CONFIG_FILE", "EXCHANGE_DIR", "FEEDBACK_MARKDOWN"]

CONFIG_FILE = "nbgrader_config.py"
EXCHANGE_DIR = "exchange"
FEEDBACK_MARKDOWN = "feedback.md"
_CONFIG = '''\
# nbgrader's configuration of this course, written by `autograder release --nbgrader`.
# Run nbgrader's commands in this folder, e.g. `nbgrader generate_assignment activations`.
import os

c = get_config()  # noqa: F821 (nbgrader provides get_config)
c.CourseDirectory.course_id = "{course_id}"
# nbgrader's exchange (release_assignment, fetch_assignment, submit, collect,
# release_feedback, fetch_feedback): the exchange/ folder beside this file, so that no
# system folder (/usr/local/share/nbgrader/exchange) is needed. On a server where students
# have accounts of their own, point it (and the students' own configuration) at a folder
# every student can write to instead, e.g. one made with `chmod ugo+rwx`.
c.Exchange.root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "{exchange}")
'''


@dataclass(frozen=True)
class NbgraderCourse:
    """Where nbgrader keeps a course's files and gradebook (from its ``nbgrader_config.py``)."""

    root: Path
    db_url: str
    course_id: str
    source: Path
    submitted: Path
    feedback: Path        # where `nbgrader release_feedback` looks: <feedback>/<student>/<assignment>/

    folder: Path          # the folder given (where nbgrader_config.py is)

    @property
    def is_course(self) -> bool:
        return (self.folder / CONFIG_FILE).is_file() or (self.root / "gradebook.db").is_file()


def _default_db(root: Path) -> str:
    return f"sqlite:///{os.path.abspath(root / 'gradebook.db')}"


def _settings(folder: Path) -> NbgraderCourse:
    """Read the course's ``nbgrader_config.py`` (the instructor's file) for its folders and database."""
    values: dict[str, str] = {}
    if (folder / CONFIG_FILE).is_file():
        from traitlets.config.loader import PyFileConfigLoader

        try:
            config = PyFileConfigLoader(CONFIG_FILE, path=str(folder)).load_config()
        except Exception as exc:   # the instructor's Python file: any error, said plainly
            raise AutograderError(f"cannot read {folder / CONFIG_FILE}: {type(exc).__name__}: {exc}") from None
        section = config.get("CourseDirectory", {})
        values = {k: section[k] for k in ("root", "db_url", "course_id", "source_directory",
                                          "submitted_directory", "feedback_directory") if isinstance(section.get(k), str)}
    root = (folder / values["root"]).resolve() if values.get("root") else folder.resolve()
    return NbgraderCourse(
        folder=folder,
        root=root,
        db_url=values.get("db_url") or _default_db(root),
        course_id=values.get("course_id", ""),
        source=root / values.get("source_directory", "source"),
        submitted=root / values.get("submitted_directory", "submitted"),
        feedback=root / values.get("feedback_directory", "feedback"),
    )


def find_course(folder: Path, *, submitted: bool = False) -> NbgraderCourse:
    """The nbgrader course in ``folder``; ``AutograderError`` (exit 2) when it is none.

    A course has an ``nbgrader_config.py`` or a ``gradebook.db``; with ``submitted``, it
    must also hold the ``submitted/`` folder of ``nbgrader collect``.
    """
    if not folder.exists():
        raise AutograderError(f"nbgrader course folder {folder} does not exist")
    if not folder.is_dir():
        raise AutograderError(f"{folder} is a file, not an nbgrader course folder")
    course = _settings(folder)
    if not course.is_course:
        raise AutograderError(
            f"{folder} is not an nbgrader course: it has no {CONFIG_FILE} and no gradebook.db "
            f"(make one with `autograder release --nbgrader {folder}`)")
    if submitted and not course.submitted.is_dir():
        raise AutograderError(
            f"{folder} is not an nbgrader course with submissions: it has no {course.submitted.name}/ folder "
            "(nbgrader's layout is COURSE/submitted/<student>/<assignment>/<assignment>.ipynb; "
            "run `nbgrader collect` or `nbgrader zip_collect` first)")
    return course


def _gradebook(course: NbgraderCourse):
    """nbgrader's Gradebook of the course (created when missing).

    Creating a database runs nbgrader's ``alembic`` command: when it is not on ``PATH``,
    the one next to this Python (the virtual environment's ``bin/``) is used.
    """
    import shutil
    import sys

    from nbgrader.api import Gradebook

    path = os.environ.get("PATH", "")
    if shutil.which("alembic") is None:
        os.environ["PATH"] = os.pathsep.join(p for p in (os.path.dirname(sys.executable), path) if p)
    try:
        return Gradebook(course.db_url, course.course_id)
    except Exception as exc:
        raise AutograderError(f"cannot open the nbgrader gradebook {course.db_url}: {exc}") from None
    finally:
        os.environ["PATH"] = path


def _register(gradebook, module: str, notebook_text: str, db_url: str) -> None:
    """Register an assignment and its notebook's cells, as ``nbgrader generate_assignment``
    does (the same preprocessors, up to SaveCells), without writing a release."""
    from nbgrader.preprocessors import (CheckCellMetadata, ClearOutput, ClearSolutions, ComputeChecksums,
                                        LockCells, SaveCells)

    gradebook.update_or_create_assignment(module)
    nbformat = import_nbformat()   # here, not at import time: it costs time
    notebook = nbformat.reads(notebook_text, as_version=4)
    resources = {"nbgrader": {"notebook": module, "assignment": module, "db_url": db_url}}
    try:
        for step in (LockCells, ClearSolutions, ClearOutput, CheckCellMetadata, ComputeChecksums, SaveCells):
            notebook, resources = step().preprocess(notebook, resources)
    except Exception as exc:
        raise AutograderError(f"nbgrader refused the {module} notebook: {exc}") from None


def release_course(folder: Path, root: Path | None = None, course_id: str = "pytorch") -> list[str]:
    """Lay the six source notebooks into the nbgrader course ``folder`` (created if needed).

    Writes ``source/<module>/<module>.ipynb`` (each file atomically), an
    ``nbgrader_config.py`` when there is none (with the ``exchange/`` folder beside it,
    which it names as nbgrader's exchange), and registers the assignments and their
    cells in the gradebook. Returns the paths written, relative to ``folder``.
    """
    from .release import plan_release

    plan = plan_release(root)     # all-or-nothing: bad input stops here, before any write
    if folder.exists() and not folder.is_dir():
        raise AutograderError(f"{folder} is a file, not a folder for the nbgrader course")
    notebooks = {a.module: plan.files[f"assignments/{a.folder}/{a.module}.ipynb"] for a in ASSIGNMENTS}
    if folder.is_dir() and _settings(folder).is_course:
        with _gradebook(_settings(folder)) as gradebook:     # nbgrader would refuse: stop before writing
            for module, text in notebooks.items():
                _check_replaceable(gradebook, module, text)
    written: list[str] = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / CONFIG_FILE).exists():
            atomic_write_text(folder / CONFIG_FILE, _CONFIG.format(course_id=course_id, exchange=EXCHANGE_DIR))
            written.append(CONFIG_FILE)
            (folder / EXCHANGE_DIR).mkdir(exist_ok=True)   # nbgrader refuses an exchange that does not exist
        course = _settings(folder)
        for module, text in notebooks.items():
            target = course.source / module / f"{module}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(target, text)
            written.append(os.path.relpath(target, folder))
    except OSError as exc:
        raise AutograderError(f"cannot write the nbgrader course in {folder}: {exc.strerror or exc}") from None
    with _gradebook(course) as gradebook:
        for module, text in notebooks.items():
            _register(gradebook, module, text, course.db_url)
    return written


def _check_replaceable(gradebook, module: str, notebook_text: str) -> None:
    """nbgrader cannot change the cells of a notebook that has submissions: say so first."""
    from nbgrader import utils
    from nbgrader.api import MissingEntry

    try:
        registered = gradebook.find_notebook(module, module)
    except MissingEntry:
        return
    if not registered.submissions:
        return
    nbformat = import_nbformat()   # here, not at import time: it costs time
    cells = [c for c in nbformat.reads(notebook_text, as_version=4).cells if "nbgrader" in c.metadata]
    new = {
        "grade": {c.metadata.nbgrader["grade_id"] for c in cells if utils.is_grade(c)},
        "solution": {c.metadata.nbgrader["grade_id"] for c in cells if utils.is_solution(c)},
        "task": {c.metadata.nbgrader["grade_id"] for c in cells if utils.is_task(c)},
        "source": {c.metadata.nbgrader["grade_id"] for c in cells
                   if utils.is_grade(c) or utils.is_solution(c) or utils.is_locked(c) or utils.is_task(c)},
    }
    old = {"grade": registered.grade_cells, "solution": registered.solution_cells, "task": registered.task_cells,
           "source": registered.source_cells}
    changed = [kind for kind in new if new[kind] != {c.name for c in old[kind]}]
    if changed:
        raise AutograderError(
            f"the {module} notebook's cells changed ({', '.join(changed)} cells), but the gradebook already holds "
            f"submissions of it, and nbgrader cannot change its cells any more; nothing was written")


def _source_notebook(course: NbgraderCourse, module: str) -> str:
    """The notebook to register for ``module``: the course's source, else this checkout's."""
    from .course import project_root

    for path in (course.source / module / f"{module}.ipynb",
                 project_root() / "assignments" / assignment_for(module).folder / f"{module}.ipynb"):
        if path.is_file():
            return path.read_text(encoding="utf-8")
    raise AutograderError(f"no source notebook for {module}: run `autograder release --nbgrader {course.root}`")


def _ensure_registered(gradebook, course: NbgraderCourse, module: str) -> None:
    """Make sure the gradebook knows ``module``'s notebook and one grade cell per task."""
    from nbgrader.api import MissingEntry

    try:
        notebook = gradebook.find_notebook(module, module)
    except MissingEntry:
        _register(gradebook, module, _source_notebook(course, module), course.db_url)
        notebook = gradebook.find_notebook(module, module)
    names = {cell.name for cell in notebook.grade_cells}
    missing = [check_grade_id(module, t) for t in assignment_for(module).tasks if check_grade_id(module, t) not in names]
    if missing:
        raise AutograderError(
            f"the gradebook's {module} notebook has no grade cell {', '.join(missing)}: it was released from "
            f"another notebook; release it again with `autograder release --nbgrader {course.root}` "
            "(nbgrader allows that only before submissions are recorded)")


def _timestamp(course: NbgraderCourse, student: str, module: str) -> str | None:
    """The time ``nbgrader collect`` recorded for a submission, if any."""
    path = course.submitted / student / module / "timestamp.txt"
    from nbgrader.utils import parse_utc

    try:
        text = path.read_text(encoding="utf-8").strip()
        parse_utc(text)
    except Exception:   # missing or not a time nbgrader can read: no timestamp
        return None
    return text or None


def _show_hidden() -> dict[str, bool]:
    from .config import load_course

    return {module: config.show_hidden_inputs for module, config in load_course().items()}


def task_comment(assignment: AssignmentResult, task_name: str, show_hidden_inputs: bool = False) -> str:
    """Why task ``task_name`` of ``assignment`` got its points, for the gradebook's comment:
    its points, then what the student's feedback says about it (a penalty, the module's
    failure, each failing check's message once with its count), hidden checks' inputs
    shown only when ``show_hidden_inputs``. Plain text, deterministic."""
    from .reports.feedback import NOT_GRADED, feedback_view

    student = StudentResult(student="-", assignments=(replace(assignment, lateness=None),))
    view = feedback_view(student, {assignment.assignment: show_hidden_inputs}).assignments[0]
    task = next(t for t in view.tasks if t.task.split(".", 1)[-1] == task_name)
    head = f"{assignment.assignment}.{task_name}: {task.points}/{task.max_points} points"
    if not view.submitted:
        return f"{head}. {view.messages[0] if view.messages else 'not submitted'}"
    if not view.graded or task.grader_errors:
        return f"{head}. {NOT_GRADED}: the grader failed here, not the student's code; grade again."
    lines = []
    if task.penalty:
        lines.append(task.penalty)
    if task.module_penalty and view.module_penalty:
        lines.append(view.module_penalty)
    if view.failure and task.broken:
        lines.append(f"The module could not be loaded: {view.failure.strip().splitlines()[0]}")
    for group in task.groups:
        count = f" ({group.count} checks)" if group.count > 1 else ""
        lines.append(f"{group.outcome}{count}: {', '.join(group.names)}: {group.message.strip()}")
    passed = len(task.passed_checks)
    if not lines:
        return f"{head}: all {passed} check{'s' if passed != 1 else ''} pass."
    return "\n".join([f"{head} ({passed} of {task.total_checks} checks pass)."] + [f"- {line}" for line in lines])


def _comment_cells(module: str, solution_cells: set[str]) -> dict[str, str]:
    """Task -> the solution cell its comment goes to: its own (``<module>-<task>``), else the
    cell of the nearest task before it in the handout's order (``mnist_cnn.accuracy_threshold``
    is about ``Net``), else the first solution cell."""
    from .release.notebooks import grade_id

    cells: dict[str, str] = {}
    previous = None
    ordered = sorted(solution_cells)
    for task in assignment_for(module).tasks:
        own = grade_id(f"{module}-{task}")
        if own in solution_cells:
            previous = own
        cells[task] = own if own in solution_cells else (previous or (ordered[0] if ordered else ""))
    return cells


def write_scores(folder: Path, result: ClassResult, *, feedback: bool = True,
                 show_hidden_inputs: Mapping[str, bool] | None = None) -> int:
    """Write every graded task's points and reason into the course's gradebook (and, with
    ``feedback``, each student's feedback where nbgrader releases it: :func:`write_feedback`);
    returns the grades written.

    Per student and assignment: the student and the submission are created when missing
    (with the timestamp ``nbgrader collect`` recorded, if any); each task's grade cell
    gets ``auto_score`` = the task's points and ``needs_manual_grade = False``, and the
    task's solution cell the ``auto_comment`` of :func:`task_comment`; the notebook's
    ``late_submission_penalty`` is the late penalty in points (from the assignment's
    ``lateness``, None when on time or without a due date). An assignment that was not
    graded (a grader error) gets ``auto_score`` None and ``needs_manual_grade = True``
    (formgrader lists it to grade), never a zero. A module that was not submitted gets no
    submission (nbgrader counts it as zero), but an earlier one of the same student is set
    to zero, so the gradebook always says what the last grading said. ``manual_score``
    and ``manual_comment`` are never touched. ``show_hidden_inputs``: per module (default:
    the assignments' configs).
    """
    from nbgrader.api import MissingEntry

    course = find_course(folder)
    modules = [m for m in result.assignments if m in MODULES]
    hidden = dict(show_hidden_inputs) if show_hidden_inputs is not None else _show_hidden()
    written = 0
    with _gradebook(course) as gradebook:
        for module in modules:
            _ensure_registered(gradebook, course, module)
        try:
            for student in result.students:
                gradebook.update_or_create_student(student.student)
                for assignment in student.assignments:
                    module = assignment.assignment
                    if module not in modules:
                        continue
                    if not assignment.submitted:
                        try:
                            gradebook.find_submission(module, student.student)
                        except MissingEntry:
                            continue
                    written += _write_assignment(gradebook, course, student.student, assignment,
                                                 hidden.get(module, False))
                    gradebook.db.commit()
        except AutograderError:
            raise
        except Exception as exc:
            gradebook.db.rollback()
            raise AutograderError(f"could not write the scores into the nbgrader gradebook {course.db_url}: "
                                  f"{type(exc).__name__}: {exc}") from None
    if feedback:
        write_feedback(folder, result, hidden)
    return written


def _write_assignment(gradebook, course: NbgraderCourse, student: str, assignment: AssignmentResult,
                      show_hidden: bool) -> int:
    module = assignment.assignment
    stamp = _timestamp(course, student, module)
    # nbgrader's add_submission builds its rows while lazy loads run: without no_autoflush,
    # SQLAlchemy flushes half-built rows and warns (SAWarning "not in session") three times.
    with gradebook.db.no_autoflush:
        gradebook.update_or_create_submission(module, student, **({"timestamp": stamp} if stamp else {}))
    notebook = gradebook.find_submission_notebook(module, module, student)
    solution_cells = {c.name for c in notebook.notebook.solution_cells}
    comment_cell = _comment_cells(module, solution_cells)
    comments: dict[str, list[str]] = {}
    written = 0
    for task in assignment.tasks:
        name = task.task.split(".", 1)[1]
        grade = gradebook.find_grade(check_grade_id(module, name), module, module, student)
        if assignment.submitted and not assignment.graded:
            grade.auto_score, grade.needs_manual_grade = None, True
        else:
            grade.auto_score = float(task.points if assignment.submitted else 0.0)
            grade.needs_manual_grade = False
        written += 1
        if comment_cell.get(name):
            comments.setdefault(comment_cell[name], []).append(task_comment(assignment, name, show_hidden))
    for cell in solution_cells:
        comment = gradebook.find_comment(cell, module, module, student)
        comment.auto_comment = "\n\n".join(comments[cell]) if cell in comments else None
    late = assignment.lateness
    notebook.late_submission_penalty = (assignment.penalty_points if late is not None and late.late
                                        and assignment.submitted else None)
    return written


def _submission_files(course: NbgraderCourse, student: str, module: str) -> tuple[list[str], dict[str, str]] | None:
    """The notebooks' names and the files ``release_feedback`` needs beside the feedback
    (``timestamp.txt``, ``submission_secret.txt``, written by ``nbgrader submit`` and
    ``collect``), or None when the submission lacks them (it did not come through the
    exchange, so nbgrader could not deliver feedback for it)."""
    folder = course.submitted / student / module
    extra = {}
    for name in ("timestamp.txt", "submission_secret.txt"):
        path = folder / name
        if not path.is_file() or path.is_symlink():
            return None
        extra[name] = path.read_text(encoding="utf-8", errors="replace")
    notebooks = sorted(p.stem for p in folder.glob("*.ipynb") if p.is_file()) or [module]
    return notebooks, extra


def write_feedback(folder: Path, result: ClassResult, show_hidden_inputs: Mapping[str, bool] | None = None) -> int:
    """Write each student's feedback on each submitted assignment of ``result`` where
    ``nbgrader release_feedback`` takes it from: ``COURSE/feedback/<student>/<assignment>/``
    (the course's ``feedback_directory``) with ``<notebook>.html`` (the feedback page for
    that assignment alone, as in the grade command's ``feedback.html``; one per notebook
    of the submission, named as ``fetch_feedback`` looks it up), ``feedback.md`` (the same
    in Markdown; nbgrader releases HTML only), and the submission's ``timestamp.txt`` and
    ``submission_secret.txt``. Each folder is replaced as a whole. Submissions that did
    not come through nbgrader's exchange (no ``submission_secret.txt``) are skipped:
    nbgrader could not deliver their feedback. Returns the folders written.
    """
    from .reports.feedback import student_feedback_html, student_feedback_markdown

    course = find_course(folder)
    hidden = dict(show_hidden_inputs) if show_hidden_inputs is not None else _show_hidden()
    written = 0
    for student in result.students:
        for assignment in student.assignments:
            module = assignment.assignment
            if module not in MODULES or not assignment.submitted:
                continue
            found = _submission_files(course, student.student, module)
            if found is None:
                continue
            notebooks, extra = found
            one = replace(student, assignments=(assignment,))
            page = student_feedback_html(one, hidden)
            files = {f"{name}.html": page for name in notebooks}
            files[FEEDBACK_MARKDOWN] = student_feedback_markdown(one, hidden)
            files.update(extra)
            target = course.feedback / check_plain_name(student.student, "student id") / module
            try:
                replace_dir_atomically(target, files)
            except (OSError, ValueError) as exc:
                raise AutograderError(f"cannot write the feedback of {student.student!r} into {target}: {exc}") from None
            written += 1
    return written


def _aware(moment: datetime | None) -> datetime | None:
    """nbgrader stores naive UTC times."""
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def deadlines(course_dir: Path) -> tuple[dict[str, datetime | None], dict[tuple[str, str], datetime]]:
    """The due dates and extensions set in the course's nbgrader gradebook.

    Returns ``(due, extensions)``: ``due[assignment]`` is the assignment's ``duedate``
    (timezone-aware, UTC; None when it has none), for every assignment in the gradebook;
    ``extensions[(student, assignment)]`` is that student's extended due date (the due
    date plus the submission's ``extension``; only where both are set). A course without
    a gradebook has none of either (nothing is created). ``AutograderError`` when the
    folder is no course or its gradebook cannot be read.
    """
    course = find_course(Path(course_dir))
    if course.db_url.startswith("sqlite:///") and not Path(course.db_url[len("sqlite:///"):]).is_file():
        return {}, {}
    due: dict[str, datetime | None] = {}
    extensions: dict[tuple[str, str], datetime] = {}
    with _gradebook(course) as gradebook:
        try:
            for assignment in gradebook.assignments:
                due[assignment.name] = _aware(assignment.duedate)
                if assignment.duedate is None:
                    continue
                for submission in assignment.submissions:
                    if submission.extension is not None:
                        extensions[submission.student.id, assignment.name] = _aware(
                            assignment.duedate + submission.extension)
        except Exception as exc:
            raise AutograderError(f"cannot read the due dates of the nbgrader gradebook {course.db_url}: "
                                  f"{type(exc).__name__}: {exc}") from None
    return due, extensions
