"""The course's life in nbgrader: release into a course folder, and scores into its gradebook.

``autograder release --nbgrader COURSE_DIR`` lays out an nbgrader course::

    COURSE_DIR/
        nbgrader_config.py                 written only when there is none
        gradebook.db                       the six assignments registered, with their cells
        source/<module>/<module>.ipynb     the source notebooks (solution regions, test cells)

so that ``nbgrader generate_assignment <module>``, run in ``COURSE_DIR``, makes the
student notebooks in ``release/``. The assignment, the notebook and the nbgrader module
share one name (``activations/activations.ipynb``).

Each source notebook has one autograded test cell per task (``<module>-check-<task>``,
``points`` = the task's points), holding that task's public checks. nbgrader therefore
knows every assignment's maximum score (100), and ``autograder grade --nbgrader-course``
(or ``--to-nbgrader``) writes each task's points, as computed by the autograder, as the
``auto_score`` of that task's grade cell, for each student and assignment, through
nbgrader's own API (:class:`nbgrader.api.Gradebook`). ``nbgrader export`` and formgrader
then show them. Grading again replaces them; a score a person entered in formgrader
(``manual_score``) is left alone, and nbgrader lets it win, as usual.

nbgrader is imported only here, and only when these commands run (it is slow to import).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .course import ASSIGNMENTS, MODULES, assignment_for
from .errors import AutograderError
from .release.public_cells import check_grade_id
from .reports.atomic import atomic_write_text
from .results import ClassResult

__all__ = ["NbgraderCourse", "find_course", "release_course", "write_scores", "CONFIG_FILE"]

CONFIG_FILE = "nbgrader_config.py"
_CONFIG = '''\
# nbgrader's configuration of this course, written by `autograder release --nbgrader`.
# Run nbgrader's commands in this folder, e.g. `nbgrader generate_assignment activations`.
c = get_config()  # noqa: F821 (nbgrader provides get_config)
c.CourseDirectory.course_id = "{course_id}"
'''


@dataclass(frozen=True)
class NbgraderCourse:
    """Where nbgrader keeps a course's files and gradebook (from its ``nbgrader_config.py``)."""

    root: Path
    db_url: str
    course_id: str
    source: Path
    submitted: Path

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
                                          "submitted_directory") if isinstance(section.get(k), str)}
    root = (folder / values["root"]).resolve() if values.get("root") else folder.resolve()
    return NbgraderCourse(
        folder=folder,
        root=root,
        db_url=values.get("db_url") or _default_db(root),
        course_id=values.get("course_id", ""),
        source=root / values.get("source_directory", "source"),
        submitted=root / values.get("submitted_directory", "submitted"),
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
    ``nbgrader_config.py`` when there is none, and registers the assignments and their
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
            atomic_write_text(folder / CONFIG_FILE, _CONFIG.format(course_id=course_id))
            written.append(CONFIG_FILE)
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


def write_scores(folder: Path, result: ClassResult) -> int:
    """Write every graded task's points into the course's gradebook; returns the grades written.

    Per student and assignment: the student and the submission are created when missing
    (with the timestamp ``nbgrader collect`` recorded, if any), and each task's grade cell
    gets ``auto_score`` = the task's points and ``needs_manual_grade = False``. A module
    that was not submitted gets no submission (nbgrader counts it as zero), but an
    earlier one of the same student is set to zero, so the gradebook always says what the
    last grading said.
    """
    from nbgrader.api import MissingEntry

    course = find_course(folder)
    modules = [m for m in result.assignments if m in MODULES]
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
                    stamp = _timestamp(course, student.student, module)
                    gradebook.update_or_create_submission(module, student.student,
                                                          **({"timestamp": stamp} if stamp else {}))
                    for task in assignment.tasks:
                        name = task.task.split(".", 1)[1]
                        grade = gradebook.find_grade(check_grade_id(module, name), module, module, student.student)
                        grade.auto_score = float(task.points if assignment.submitted else 0.0)
                        grade.needs_manual_grade = False
                        written += 1
                    gradebook.db.commit()
        except AutograderError:
            raise
        except Exception as exc:
            gradebook.db.rollback()
            raise AutograderError(f"could not write the scores into the nbgrader gradebook {course.db_url}: "
                                  f"{type(exc).__name__}: {exc}") from None
    return written
