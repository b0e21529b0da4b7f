"""Grade a folder of submissions into a course record: the core that ``autograder grade`` calls.

``grade_submissions(submissions_dir, out_dir, options)``:

1. checks the input (options, the submissions, the output folder, the CSV files) before
   anything heavy is imported or started, and locks the course record
   (``OUT/gradebook.db``, see ``autograder.record``);
2. decides what to grade: a (student, assignment) whose graded files, config, checks and
   solutions, seed and grading options are unchanged since its latest result is not
   graded again (``force`` regrades anyway; a result the grader failed on is always
   graded again);
3. grades the rest (``autograder.pipeline`` per student; the local pool of
   ``autograder.pool``, or Dask workers with ``scheduler``), recording each student's
   results in one transaction as they arrive and rendering that student's files;
4. renders every file from the record (``autograder.reports.render``) and returns the
   current results of the students of this run, with a ``RunSummary``.

Heavy modules (PyTorch, pytest, the sandbox) are imported only once there is something
to grade, so bad input is answered at once and a run with nothing to grade is fast.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable

from . import __version__
from .config import AssignmentConfig, load_course
from .course import MODULES, assignment_for, project_root
from .errors import AutograderError, OutputError
from .results import ClassResult, StudentResult
from .submissions import Submission, discover

__all__ = ["GradeOptions", "RunSummary", "grade_submissions", "check_output_dir", "prepare_data",
           "Grader", "failure_result", "warm_up"]

# In the output folder: results computed once per key and reused by later runs (the
# reference's MNIST accuracy, a second of training); safe to delete.
CACHE_FILE = "cache.json"


@dataclass(frozen=True)
class GradeOptions:
    """Everything ``autograder grade`` can set. Defaults are defined here only."""

    modules: tuple[str, ...] = MODULES
    workers: int = field(default_factory=lambda: max(1, len(os.sched_getaffinity(0))))
    call_timeout_s: float | None = None      # overrides every assignment's call_timeout_s
    mnist_root: Path | None = None
    seed: int = 0
    isolate: bool = True
    memory_bytes: int = 4 << 30
    nbgrader_course: Path | None = None       # write the scores into this nbgrader course's gradebook
    scheduler: str | None = None              # a Dask scheduler address, or "local:N"; None: the local pool
    force: bool = False                       # grade again what has not changed
    students: tuple[str, ...] | None = None   # grade only these students of the folder
    submitted_at: Path | None = None          # CSV student,assignment,submitted_at
    extensions: Path | None = None            # CSV student,assignment,due
    config_root: Path | None = None           # the folder holding assignments/ (default: this project)
    similarity: bool = False                  # also compare the submissions (similarity.csv/.html, class report)

    def validate(self) -> None:
        """``AutograderError`` naming the first invalid option."""
        unknown = [m for m in self.modules if m not in MODULES]
        if unknown:
            raise AutograderError(f"unknown assignment(s) {', '.join(unknown)}; choose from {', '.join(MODULES)}")
        if not self.modules:
            raise AutograderError(f"no assignment chosen; choose from {', '.join(MODULES)}")
        if self.workers < 1:
            raise AutograderError(f"--workers must be at least 1 (got {self.workers})")
        if self.call_timeout_s is not None and not (math.isfinite(self.call_timeout_s) and self.call_timeout_s > 0):
            raise AutograderError(f"--timeout must be a positive number of seconds (got {self.call_timeout_s:g})")
        if self.scheduler is not None:
            from .cluster_address import parse_scheduler

            parse_scheduler(self.scheduler)
        for name, path in (("--submitted-at", self.submitted_at), ("--extensions", self.extensions)):
            if path is not None and not Path(path).is_file():
                raise AutograderError(f"{name} {path}: no such file; give a CSV file")


@dataclass(frozen=True)
class RunSummary:
    """What one run did."""

    students: int = 0                  # students of the folder considered by this run
    graded: int = 0                    # (student, assignment) pairs graded
    unchanged: int = 0                 # pairs whose result was still current
    grader_errors: tuple[tuple[str, str], ...] = ()   # (student, assignment) not graded: regrade
    warnings: tuple[str, ...] = ()
    run_id: int | None = None
    seconds: float = 0.0

    @property
    def needs_regrade(self) -> bool:
        return bool(self.grader_errors)


def check_output_dir(out_dir: Path, submissions_dir: Path) -> None:
    """Fail early, before grading, when reports could not be written to ``out_dir``."""
    out = out_dir.resolve()
    subs = submissions_dir.resolve()
    if out == subs or subs in out.parents:
        raise OutputError(f"the output folder {out_dir} is inside the submissions folder; choose another")
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(f"cannot write reports to {out_dir}: {probe} is not a folder; "
                          "choose another --output")
    # Try it: permission bits say little for root or on read-only file systems.
    try:
        fd, name = tempfile.mkstemp(prefix=".autograder-probe-", dir=probe)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise OutputError(f"cannot write reports to {out_dir}: {probe} is not writable "
                          f"({exc.strerror}); choose another --output") from None


# -- what a result depends on -------------------------------------------------------------

def _sha(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(f"{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def _config_digest(config: AssignmentConfig) -> str:
    """What of a config changes grades (not the due date, policy or title: those only
    change how reports are rendered)."""
    relevant = {
        "tasks": {name: [t.points, list(t.not_allowed)] for name, t in sorted(config.tasks.items())},
        "call_timeout_s": config.call_timeout_s, "submission_timeout_s": config.submission_timeout_s,
        "execute_notebook": config.execute_notebook,
        "accuracy": None if config.accuracy is None else config.accuracy.__dict__,
    }
    return _sha(json.dumps(relevant, sort_keys=True))


def _files(paths: Iterable[Path]) -> list[bytes]:
    return [p.as_posix().encode() + b"\0" + p.read_bytes() for p in sorted(paths) if p.is_file()]


def _checks_digest(module: str) -> str:
    """The checks of ``module`` (its hidden checks and the machinery they share), the
    reference solutions, the released notebook grading reads, and the grading rules."""
    package = Path(__file__).resolve().parent
    checks = package / "checks"
    paths = [checks / "hidden" / f"test_{module}.py", checks / "hidden" / "conftest.py",
             checks / "hidden" / "pytest.ini", *checks.glob("*.py"),
             package / "rules.py", package / "scoring.py", package / "notebook_code.py", package / "pipeline.py"]
    root = project_root()
    paths += list((root / "solutions").glob("*.py"))
    paths += list((root / "assignments" / assignment_for(module).folder).glob("*.ipynb"))
    return _sha(*_files(paths))


def _options_key(options: GradeOptions) -> str:
    return json.dumps({"seed": options.seed, "call_timeout_s": options.call_timeout_s,
                       "mnist_root": str(options.mnist_root) if options.mnist_root else None,
                       "isolate": options.isolate, "memory_bytes": options.memory_bytes}, sort_keys=True)


@dataclass(frozen=True)
class _Files:
    digest: str                  # of every file grading would read
    submitted: frozenset[str]    # modules handed in (as .py or .ipynb)
    torchvision: bool = False    # does any of them mention torchvision?
    notebooks: frozenset[str] = frozenset()   # the modules handed in as notebooks


def graded_files(submission: Submission) -> _Files:
    """The digest of the files grading would copy, and which modules they hold (copied to
    a scratch folder exactly as grading copies them, so both read the same files)."""
    from .submissions import copy_submission

    scratch = Path(tempfile.mkdtemp(prefix="autograder-digest-"))
    try:
        copy = scratch / "copy"
        notebooks, _ = copy_submission(submission, copy)
        parts = [f"{p.relative_to(copy).as_posix()}\0".encode() + p.read_bytes()
                 for p in sorted(copy.rglob("*")) if p.is_file()]
        parts += [f"{m}.ipynb\0".encode() + data for m, data in sorted(notebooks.items())]
        submitted = {p.stem for p in copy.glob("*.py") if p.stem in MODULES} | set(notebooks)
        return _Files(_sha(*parts), frozenset(submitted), any(b"torchvision" in part for part in parts),
                      frozenset(notebooks))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# -- the run ------------------------------------------------------------------------------

def prepare_data(options: GradeOptions, configs: dict[str, AssignmentConfig] | None = None,
                 cache: Path | None = None) -> dict:
    """Data the checks need that is computed once per run (MNIST and the reference accuracy;
    the reference's result is kept in the JSON file ``cache`` for later runs).

    Runs on one thread, before the grading processes are forked: a process that has run
    an OpenMP thread team must not fork children that use OpenMP again.
    """
    if "mnist_cnn" not in options.modules:
        return {}
    from .checks.mnist_data import prepare_mnist

    configs = configs or load_course(options.config_root)
    return prepare_mnist(options.mnist_root, configs["mnist_cnn"], options.seed, cache)


def _select(submissions: list[Submission], students: tuple[str, ...] | None) -> list[Submission]:
    if students is None:
        return submissions
    known = {s.student for s in submissions}
    missing = [s for s in students if s not in known]
    if missing:
        raise AutograderError(f"--students: no folder for {', '.join(missing)} in the submissions folder "
                              f"(it holds {len(known)} student folders)")
    return [s for s in submissions if s.student in set(students)]


def grade_submissions(
    submissions_dir: Path,
    out_dir: Path,
    options: GradeOptions = GradeOptions(),
    on_result: Callable[[StudentResult], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> ClassResult:
    """Grade the student folders of ``submissions_dir`` into the course record in ``out_dir``.

    Returns the current results (late penalties applied) of the students of this run,
    with ``ClassResult.run`` saying what the run did. ``on_start(n)`` is called with the
    number of students to grade, ``on_result`` with each result as it is recorded.
    Raises ``AutograderError`` (nothing written) for unusable input; grading problems of
    a single student are part of that student's report.
    """
    from .deadlines import SubmissionTime, read_extensions_csv, read_times_csv, timestamp_of
    from .record import CourseRecord
    from .reports.render import course_snapshot, current_class, render_record, render_students

    started = time.perf_counter()
    options.validate()
    submissions = _select(discover(submissions_dir), options.students)
    check_output_dir(out_dir, submissions_dir)
    if options.scheduler is not None:
        from .cluster_address import refuse_unreachable

        refuse_unreachable(options.scheduler)       # before the record is opened: nothing written
    configs = load_course(options.config_root)
    due_overrides: dict[str, str | None] = {}
    nbgrader_extensions: list[tuple[str, str, str]] = []
    if options.nbgrader_course is not None:
        due_overrides, nbgrader_extensions = _nbgrader_deadlines(options.nbgrader_course)
    with CourseRecord.open(out_dir, write=True) as record:
        known = {s.student for s in submissions} | set(record.students())
        warnings: list[str] = []
        times: dict[tuple[str, str], SubmissionTime] = {}
        if options.submitted_at is not None:
            times, found = read_times_csv(options.submitted_at, known, set(MODULES))
            warnings += found
        if options.extensions is not None:
            rows, found = read_extensions_csv(options.extensions, known, set(MODULES))
            warnings += found
            record.set_extensions(rows, source=str(options.extensions))
        if nbgrader_extensions:
            record.set_extensions(nbgrader_extensions, source="nbgrader")

        digests = {m: {"config": _config_digest(configs[m]), "checks": _checks_digest(m)} for m in options.modules}
        keys = {m: _sha(digests[m]["config"], digests[m]["checks"], _options_key(options)) for m in options.modules}
        current = record.current()
        run_id = record.begin_run(
            version=__version__, seed=options.seed,
            options={"modules": list(options.modules), "workers": options.workers,
                     "call_timeout_s": options.call_timeout_s,
                     "mnist_root": str(options.mnist_root) if options.mnist_root else None,
                     "isolate": options.isolate, "force": options.force,
                     "students": list(options.students) if options.students else None,
                     "scheduler": options.scheduler,
                     "submitted_at": str(options.submitted_at) if options.submitted_at else None,
                     "extensions": str(options.extensions) if options.extensions else None},
            digests=digests, course=course_snapshot(configs, due_overrides))

        # What to grade: per student, the modules whose result is not current.
        jobs: list[tuple[Submission, tuple[str, ...]]] = []
        entries: dict[str, dict[str, tuple[str, str, str | None, str | None]]] = {}
        unchanged = 0
        needs_mnist = False
        needs_torchvision = False
        notebooks: set[str] = set()       # modules that some student to grade hands in as a notebook
        for submission in submissions:
            files = graded_files(submission)
            todo = []
            entries[submission.student] = {}
            for module in options.modules:
                when = timestamp_of(submission, module) or times.get((submission.student, module)) \
                    or SubmissionTime()
                key = _sha(files.digest, keys[module])
                entries[submission.student][module] = (files.digest, key, when.iso, when.note)
                latest = current.get((submission.student, module))
                if (not options.force and latest is not None and latest.grading_key == key
                        and latest.result.graded):
                    unchanged += 1
                    if (latest.submitted_at, latest.time_note) != (when.iso, when.note):
                        record.carry_over(run_id, latest, when.iso, when.note)
                    continue
                todo.append(module)
                needs_mnist |= module == "mnist_cnn" and module in files.submitted
            if todo:
                jobs.append((submission, tuple(todo)))
                needs_torchvision |= files.torchvision or "mnist_cnn" in todo
                notebooks |= files.notebooks & set(todo)

        if on_start:
            on_start(len(jobs))
        graded = 0
        errors: list[tuple[str, str]] = []

        def collect(result: StudentResult) -> None:
            nonlocal graded
            record.add_grading(run_id, result, entries[result.student])
            graded += len(result.assignments)
            errors.extend((result.student, a.assignment) for a in result.assignments if not a.graded)
            render_students(record, out_dir, [result.student])
            if on_result:
                on_result(result)

        if jobs:
            _grade(jobs, options, configs, needs_mnist, collect, cache=out_dir / CACHE_FILE,
                   torchvision=needs_torchvision, notebooks=tuple(m for m in options.modules if m in notebooks))
        record.finish_run(run_id)
        rendered = render_record(record, out_dir)
        if options.similarity:
            _similarity(submissions_dir, out_dir, options, rendered)
        if options.nbgrader_course is not None:
            from .nbgrader_course import write_scores

            write_scores(options.nbgrader_course, current_class(record))
        result = current_class(record, [s.student for s in submissions])
    summary = RunSummary(students=len(submissions), graded=graded, unchanged=unchanged,
                         grader_errors=tuple(sorted(errors)), warnings=tuple(warnings), run_id=run_id,
                         seconds=round(time.perf_counter() - started, 3))
    return replace(result, run=summary)


def _similarity(submissions_dir: Path, out_dir: Path, options: GradeOptions, rendered: ClassResult) -> None:
    """Compare the submissions: OUT/similarity.csv and .html, and a section of the class
    report (it flags pairs for a person to review; it never changes a grade)."""
    from .reports.class_report import write_class_report
    from .similarity import find_similar, write_similarity

    found = find_similar(submissions_dir, modules=options.modules)
    write_similarity(out_dir, found)
    write_class_report(out_dir, rendered, load_course(options.config_root), similarity=found)


def _nbgrader_deadlines(course: Path) -> tuple[dict[str, str | None], list[tuple[str, str, str]]]:
    """nbgrader's due dates and extensions, when its course module offers them."""
    from . import nbgrader_course

    reader = getattr(nbgrader_course, "deadlines", None)
    if reader is None:
        return {}, []
    due, extensions = reader(course)
    return ({m: (d.isoformat() if d is not None else None) for m, d in due.items()},
            [(s, m, d.isoformat()) for (s, m), d in extensions.items()])


def _grade(jobs: list[tuple[Submission, tuple[str, ...]]], options: GradeOptions,
           configs: dict[str, AssignmentConfig], needs_mnist: bool,
           collect: Callable[[StudentResult], None], cache: Path | None = None, torchvision: bool = True,
           notebooks: tuple[str, ...] = ()) -> None:
    """Grade ``jobs`` on the local pool or on Dask, calling ``collect`` for each result.
    ``cache``: a JSON file of results computed once per key (the reference's MNIST result).
    ``torchvision``: may a worker import torchvision (mnist_cnn is graded, or a graded file
    names it)? Only then does the local zygote preload it (its import takes seconds).
    ``notebooks``: the modules some student hands in as a notebook."""
    if options.scheduler is not None:
        from .cluster import grade_on_dask   # the Dask path: graders live on Dask workers

        # One batch: each job carries the modules it needs (the graders are built once).
        modules = tuple(m for m in options.modules if any(m in job[1] for job in jobs))
        grade_on_dask(jobs, options.scheduler, replace(options, modules=modules), configs, collect)
        return
    from .sandbox.zygotes import needs_optimizers, zygotes_for

    processes = min(options.workers, len(jobs))
    # The zygote starts first, before this process imports PyTorch: it imports it
    # (seconds) while this process does the same, warms up and prepares the data. One
    # zygote serves every slot: N zygotes would import PyTorch side by side, N times
    # slower on a machine with few cores, and hold N copies of it.
    (zygote,) = zygotes_for(1, optimizers=needs_optimizers(options.modules), torchvision=torchvision)
    try:
        from .pipeline import warm_up
        from .pool import grade_locally

        warm_up(options.modules)
        if notebooks and processes > 1:
            # Each forked grading process would import nbformat and build its validator at its first notebook.
            from .notebook_code import warm_up as warm_up_notebooks

            warm_up_notebooks(notebooks)
        data = prepare_data(options, configs, cache) if needs_mnist else {}
    except BaseException:
        zygote.close()
        raise
    grade_locally(jobs, options, configs, data, zygote, processes, collect)


def __getattr__(name: str):
    """``Grader``, ``failure_result`` and ``warm_up`` live in ``autograder.pipeline``; they
    are reachable from here without importing PyTorch with this module."""
    if name in ("Grader", "failure_result", "warm_up"):
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
