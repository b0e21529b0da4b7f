"""``autograder try-checks FOLDER``: a check author's fast loop.

Runs a selection of the hidden checks (a pytest ``-k`` expression, e.g. ``relu`` or
``"softmax and not gradient"``) against ONE submission folder, exactly as ``autograder
grade`` grades it, and returns every selected check's result in full (outcome, weight,
message, and the instructor's ``detail``: the falsifying example, the traceback):

- the same pipeline (:class:`autograder.pipeline.Grader`: the scratch copy, notebooks
  extracted as the grader extracts them, the sandboxed worker, the static rules);
- the same inputs: a check's hypothesis seed depends on the run seed, the graded files
  and the check's node id (:func:`autograder.checks.plugin.check_seed`), none of which
  the selection changes, so a check sees here the inputs it sees in ``grade`` with the
  same ``--seed``;
- nothing is written anywhere: no course record, no report, no cache.

Bad input (no such folder, no module of the course in it, an unknown assignment, a
``-k`` expression that does not parse or selects nothing) raises ``AutograderError``
before any worker starts; the selection is checked by pytest's own collection, so ``-k``
means here what it means to pytest (names, parameter ids, marker names).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .course import MODULES
from .errors import AutograderError
from .results import CheckResult, Outcome, StudentResult

__all__ = ["TryChecksResult", "SelectedCheck", "try_checks", "select_checks", "render", "present_modules"]


@dataclass(frozen=True)
class SelectedCheck:
    """One check the selection matched: its pytest node id and the task it grades."""

    nodeid: str
    module: str
    task: str


@dataclass(frozen=True)
class TryChecksResult:
    """What one ``try-checks`` run found.

    ``checks``: the result of every selected check, in run order. ``tasks``: the task ids
    the selection touched, with ``penalties`` among them (task id -> why the task scores
    zero whatever its checks say: a forbidden call, an escape hatch). ``messages``: about
    the submission or a module as a whole (a module that does not import, a notebook's
    cells left out, the grader failing to load a check file).
    """

    folder: Path
    modules: tuple[str, ...]
    select: str | None
    checks: tuple[CheckResult, ...]
    penalties: tuple[tuple[str, str], ...]
    messages: tuple[str, ...]
    student: StudentResult

    @property
    def exit_code(self) -> int:
        """0: every selected check passed (and no penalty); 3: the grader failed on a
        check (a check's own bug: fix the check); 1: otherwise."""
        if any(c.outcome is Outcome.GRADER_ERROR for c in self.checks):
            return 3
        if self.penalties or not all(c.passed for c in self.checks):
            return 1
        return 0


def present_modules(folder: Path) -> tuple[str, ...]:
    """The modules of the course that ``folder`` holds (``<m>.py``, ``<m>.ipynb`` or, in
    nbgrader's layout, a sub-folder ``<m>/``), in course order."""
    return tuple(m for m in MODULES
                 if (folder / f"{m}.py").is_file() or (folder / f"{m}.ipynb").is_file() or (folder / m).is_dir())


def _validate(folder: Path, modules: tuple[str, ...] | None, select: str | None) -> tuple[str, ...]:
    """The modules to run, or ``AutograderError`` naming what is wrong (nothing heavy imported)."""
    if not folder.exists():
        raise AutograderError(f"submission folder {folder} does not exist; give ONE student's folder "
                              f"(holding e.g. activations.py)")
    if not folder.is_dir():
        raise AutograderError(f"{folder} is a file, not a folder; give the folder that holds it "
                              f"(one student's submission)")
    present = present_modules(folder)
    if modules:
        unknown = [m for m in modules if m not in MODULES]
        if unknown:
            raise AutograderError(f"unknown assignment(s) {', '.join(unknown)}; choose from {', '.join(MODULES)}")
        missing = [m for m in modules if m not in present]
        if missing:
            raise AutograderError(f"{folder} holds no {', '.join(f'{m}.py' for m in missing)} (nor a notebook); "
                                  f"it holds: {', '.join(present) or 'no module of the course'}")
    elif not present:
        students = [p.name for p in sorted(folder.iterdir()) if p.is_dir() and present_modules(p)][:3]
        hint = (f" (it looks like a folder of students, e.g. {', '.join(students)}: give one of them)"
                if students else "")
        raise AutograderError(f"{folder} holds no module of the course ({', '.join(f'{m}.py' for m in MODULES)})"
                              f"{hint}")
    if select is not None:
        if not select.strip():
            raise AutograderError("-k: the expression is empty; give e.g. -k relu, or leave -k out to run every check")
        try:
            from _pytest.mark.expression import Expression
        except ImportError:     # pragma: no cover - pytest moved it; collection still refuses it
            pass
        else:
            try:
                Expression.compile(select)
            except Exception as exc:    # ParseError (pytest < 8.4) or SyntaxError, with the column
                why = getattr(exc, "message", None) or getattr(exc, "msg", None) or str(exc)
                column = getattr(exc, "column", None) or getattr(exc, "offset", None)
                where = f" at column {column}" if column else ""
                raise AutograderError(f"-k {select!r} is not a pytest -k expression ({why}{where}); "
                                      f"e.g. -k relu, -k \"softmax and not gradient\"") from None
    return tuple(modules) if modules else present


def select_checks(modules: tuple[str, ...], select: str | None = None) -> list[SelectedCheck]:
    """The hidden checks of ``modules`` that ``select`` (a ``-k`` expression) matches, in run
    order, found by pytest's collection with the grader's plugin (so a check file that
    does not load raises ``AutograderError`` with the plugin's reason)."""
    import pytest

    from .checks.plugin import HIDDEN_DIR, UNUSED_PLUGINS, GradingContext, GradingPlugin, _marker_arg

    files = [HIDDEN_DIR / f"test_{m}.py" for m in modules if (HIDDEN_DIR / f"test_{m}.py").exists()]
    if not files:
        return []

    class _Collected:
        def __init__(self) -> None:
            self.items: list[SelectedCheck] = []

        def pytest_collection_finish(self, session: pytest.Session) -> None:
            # After -k's deselection and the plugin's refusal of unloadable files.
            self.items = [SelectedCheck(item.nodeid, item.path.stem.removeprefix("test_"),
                                        str(_marker_arg(item, "task", None))) for item in session.items]

    collected = _Collected()
    grading = GradingPlugin(GradingContext(configs={}), student=None)   # its markers and its task-id check
    args = [str(f) for f in files] + ["-c", str(HIDDEN_DIR / "pytest.ini"), "--rootdir", str(HIDDEN_DIR),
                                      "--strict-markers", "--collect-only", "--disable-plugin-autoload"]
    for name in UNUSED_PLUGINS:
        args += ["-p", f"no:{name}"]
    if select:
        args += ["-k", select]
    code = pytest.main(args, plugins=[grading, collected])
    if grading.collection_errors:
        shown = "\n".join(f"{where}: {text}" for where, text in grading.collection_errors)
        raise AutograderError(f"the hidden checks do not load:\n{shown}")
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        raise AutograderError(f"pytest could not collect the checks of {', '.join(modules)} ({code!r})")
    return collected.items


def try_checks(folder: Path, modules: tuple[str, ...] | None = None, select: str | None = None, *,
               seed: int = 0, call_timeout_s: float | None = None, isolate: bool = True,
               mnist_root: Path | None = None) -> TryChecksResult:
    """Grade the checks of ``modules`` (default: every module ``folder`` holds) that
    ``select`` matches (default: all) on the submission in ``folder``, as ``grade`` would
    with the same ``seed``, ``call_timeout_s`` (None: each assignment's), ``isolate`` and
    ``mnist_root``. Raises ``AutograderError`` for bad input (see the module's docstring)."""
    folder = Path(folder)
    chosen = _validate(folder, tuple(modules) if modules else None, select)
    from .config import load_course
    from .grading import GradeOptions, graded_files, prepare_data
    from .submissions import Submission

    options = GradeOptions(modules=chosen, workers=1, call_timeout_s=call_timeout_s, mnist_root=mnist_root,
                           seed=seed, isolate=isolate)
    options.validate()
    configs = load_course(options.config_root)
    from .sandbox.zygotes import needs_optimizers, zygotes_for

    # The zygote preloads PyTorch in its own process while this one collects the checks
    # (as ``grade`` starts its zygote first; one an earlier run in this process left idle
    # is taken instead); closed again if the selection is unusable. torchvision (seconds
    # to import) only as grade would preload it: for mnist_cnn, or when a file that
    # grading reads names it.
    named = graded_files(Submission(folder.resolve().name, folder, nbgrader=_nbgrader_layout(folder, chosen)))
    (zygote,) = zygotes_for(1, optimizers=needs_optimizers(chosen),
                            torchvision="mnist_cnn" in chosen or named.torchvision)
    try:
        selected = select_checks(chosen, select)
        if not selected:
            names = [c.nodeid.split("::", 1)[1] for c in select_checks(chosen)]
            raise AutograderError(f"-k {select!r} selects none of the {len(names)} checks of {', '.join(chosen)}; "
                                  f"they include: {', '.join(names[:10])}{' ...' if len(names) > 10 else ''}")
        # Only the modules with a selected check are graded (MNIST prepared only if needed).
        graded = tuple(m for m in chosen if any(c.module == m for c in selected))
        options = GradeOptions(**{**options.__dict__, "modules": graded})
        from .pipeline import Grader

        data = prepare_data(options, configs)
        grader = Grader(options, configs, data, zygote=zygote, select=select)
    except BaseException:
        zygote.close()
        raise
    from .pool import in_process_slot

    reuse = False
    try:
        # Pinned as grade pins its one slot: a round trip across cores is 3-4x slower.
        with in_process_slot(grader.zygote):
            student = grader.grade(Submission(folder.resolve().name, folder,
                                              nbgrader=_nbgrader_layout(folder, graded)), graded)
        reuse = True
    finally:
        grader.close(reuse)     # the zygote kept for a later run in this process, as grade keeps it
    return _summarise(folder, graded, select, student, {c.task for c in selected})


def _nbgrader_layout(folder: Path, modules: tuple[str, ...]) -> bool:
    """nbgrader's layout (``<student>/<assignment>/<assignment>.ipynb``) rather than files at the top."""
    return any((folder / m).is_dir() for m in modules) and not any(
        (folder / f"{m}.py").is_file() or (folder / f"{m}.ipynb").is_file() for m in modules)


def _summarise(folder: Path, modules: tuple[str, ...], select: str | None, student: StudentResult,
               tasks: set[str]) -> TryChecksResult:
    checks: list[CheckResult] = []
    penalties: list[tuple[str, str]] = []
    messages = list(student.messages)
    for assignment in student.assignments:
        messages += [f"{assignment.assignment}: {m}" for m in assignment.messages]
        for task in assignment.tasks:
            if task.task not in tasks:
                continue    # not selected: its "no checks ran" is the selection, not the code
            checks += task.checks
            if task.penalty is not None:
                penalties.append((task.task, task.penalty))
    return TryChecksResult(folder, modules, select, tuple(checks), tuple(penalties), tuple(messages), student)


_MARKS = {Outcome.PASSED: "ok  ", Outcome.FAILED: "FAIL", Outcome.ERROR: "ERR ", Outcome.GRADER_ERROR: "BUG "}


def _indented(label: str, text: str) -> list[str]:
    lines = text.rstrip("\n").splitlines() or [""]
    return [f"       {label}: {lines[0]}"] + [f"         {line}" for line in lines[1:]]


def render(result: TryChecksResult) -> str:
    """Plain text for the terminal: one block per selected check, in run order, with its
    full message and detail (the detail is the instructor's: inputs, tracebacks), then a
    summary line."""
    selection = f" -k {result.select!r}" if result.select else ""
    lines = [f"try-checks {result.folder}: {', '.join(result.modules)}{selection}, "
             f"{len(result.checks)} check{'s' if len(result.checks) != 1 else ''}"]
    for message in result.messages:
        lines.append(f"note: {message}")
    for check in result.checks:
        lines.append(f"{_MARKS[check.outcome]} {check.name}  [{check.task}, weight {check.weight:g}, "
                     f"{check.visibility.value}, {check.duration_s:.2f} s]")
        if check.message:
            lines += _indented("message", check.message)
        if check.detail:
            lines += _indented("detail", check.detail)
    for task, why in result.penalties:
        lines.append(f"PENALTY {task}: {why} (the task scores zero whatever its checks say)")
    counts = {o: sum(c.outcome is o for c in result.checks) for o in Outcome}
    lines.append(f"{counts[Outcome.PASSED]} passed, {counts[Outcome.FAILED]} failed, {counts[Outcome.ERROR]} "
                 f"error (the student's code), {counts[Outcome.GRADER_ERROR]} grader error (the check's "
                 f"own bug); nothing was recorded")
    return "\n".join(lines)
