"""``autograder check FILE``: a student checks one module with its public checks, locally.

``FILE`` is ``<module>.py`` or ``<module>.ipynb`` (``activations.ipynb``). What is checked
here is what will be graded, judged by the same rules:

- a notebook is read exactly as the grader reads it (:mod:`autograder.notebook_code`:
  definitions only, unless the assignment says ``execute_notebook = true``);
- the same static rules (:func:`autograder.rules.static_penalties`): a forbidden call
  (``not_allowed``) fails its task, an escape hatch fails the whole module, as the grader
  would score them zero;
- the same module-level checks before anything runs (:mod:`autograder.checks.loading`:
  an encoding that is not UTF-8, a syntax error with its caret);
- the public checks (the assignment's ``public_checks.py``, the same file as
  ``tests/test_<module>.py`` in the starter folder) run through the grader's pytest
  plugin (:class:`autograder.checks.plugin.GradingPlugin`) into the grader's result model
  (:class:`~autograder.results.CheckResult`, :func:`autograder.scoring.assignment_result`),
  and are rendered with the feedback's grouping (one module failure said once, identical
  messages once with a count);
- the same time limits by default: the assignment's ``call_timeout_s`` for the import and
  for each check (``--timeout`` overrides it, as it does for ``grade``), and its
  ``submission_timeout_s`` for the whole module.

This runs the student's own code on the student's own machine, so there is no sandbox;
it runs in a child process: a check that hangs past its limit (or crashes the process)
fails with that message, the child is started again, and the other checks still run.
Each child is forked from a process that imported PyTorch once
(:mod:`autograder.check_forks`): checking several files in one command
(``autograder check *.py``), or again after a hang, costs one import of PyTorch.
An exception in the student's code is shown with its ``file:line`` (the notebook's cell
and line for a notebook).

Exit codes (the highest of the files checked): 0 every public check passes and no rule is
broken, 1 otherwise (or the checks could not run), 2 bad input, when nothing is checked (a
missing file, a name that is no module of the course, a notebook that cannot be read, a
limit that is not positive).
"""

from __future__ import annotations

import ast
import json
import re
import signal
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator

from .check_forks import start_child
from .config import AssignmentConfig, load_course
from .course import MODULES, assignment_for, project_root
from .errors import AutograderError
from .notebook_code import Extraction, NotebookError, extract, load_reference
from .results import AssignmentResult, CheckResult, Outcome, Visibility
from .scoring import breaks_rule

__all__ = ["StudentCheck", "check_file", "check_files", "iter_checks", "course_files", "render", "summary", "DEFAULT_TIMEOUT_S", "exit_code"]

DEFAULT_TIMEOUT_S: float | None = None     # None: the assignment's call_timeout_s, as when grading
STARTUP_TIMEOUT_S = 180.0                  # the child's own start-up (importing torch), not the student's
HOW_TO_READ = """\
How to read this: each task shows how many of its public checks pass. Under a task that
fails, each failing check is named (it is a function in tests/test_{module}.py of your
starter folder, or a cell at the end of the released notebook), followed by its message:
what it expected, what your code returned, and often a hint; checks that failed the same
way are shown once, with their count. NotImplementedError means the function is not
written yet; NameError or AttributeError that it is missing or misnamed. A RULE line is a
rule of the grader (a function this task may not use): the grader scores that task zero.
Passing every public check is a good sign, not a guarantee: the grader runs more, hidden,
checks on the same tasks (other inputs, gradients)."""


@dataclass(frozen=True)
class StudentCheck:
    """What ``autograder check`` found: the module's result in the grader's model.

    ``result.tasks[*].points`` are not a grade (public checks only); ``penalties`` are
    what the grader's static rules will zero.
    """

    file: Path
    module: str
    result: AssignmentResult
    messages: tuple[str, ...] = ()        # about the notebook: cells left out, metadata
    call_timeout_s: float = 10.0
    duration_s: float = field(default=0.0, compare=False)

    @property
    def checks(self) -> tuple[CheckResult, ...]:
        return tuple(c for t in self.result.tasks for c in t.checks)

    @property
    def passed(self) -> bool:
        tasks = self.result.tasks
        return bool(self.checks) and all(c.passed for c in self.checks) and not any(
            breaks_rule(t.penalty) for t in tasks)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1


def exit_code(result: StudentCheck) -> int:
    """0 when every public check passes and no static rule is broken, else 1."""
    return result.exit_code


def _module_of(path: Path) -> str:
    if not path.exists():
        raise AutograderError(f"{path} does not exist")
    if not path.is_file():
        raise AutograderError(f"{path} is not a file; give one module, e.g. activations.py or activations.ipynb")
    if path.suffix not in (".py", ".ipynb"):
        raise AutograderError(f"{path.name} is neither a .py file nor a notebook (.ipynb)")
    if path.stem not in MODULES:
        from .submissions import near_miss_module

        meant = near_miss_module(path.name)
        hint = f" (did you mean {meant}{path.suffix}? the grader only takes that exact name)" if meant else ""
        raise AutograderError(f"{path.name} is not a module of this course{hint}: the file must be named after "
                              f"its assignment, one of {', '.join(m + path.suffix for m in MODULES)}")
    return path.stem


# -- the parent: prepare, run the child (again after a hang or crash), assemble -----------

def check_file(path: Path, timeout_s: float | None = DEFAULT_TIMEOUT_S, root: Path | None = None) -> StudentCheck:
    """Run the public checks of ``path``'s module against it, judged as the grader judges.

    ``timeout_s``: the limit of the import and of each check (default: the assignment's
    ``call_timeout_s``); the whole run is limited to its ``submission_timeout_s``.
    Raises ``AutograderError`` for bad input (the CLI's exit 2).
    """
    return _run(_prepare(path, timeout_s, root))


def iter_checks(paths: list[Path], timeout_s: float | None = DEFAULT_TIMEOUT_S,
                root: Path | None = None) -> Iterator[StudentCheck]:
    """:func:`check_file` of each path, in order, each result as soon as it is known. Every
    path is read and validated at the first ``next()``, before any is checked: bad input
    (``AutograderError``) is raised before anything runs. The children of all files fork
    from one process that imported PyTorch once (:mod:`autograder.check_forks`)."""
    prepared = [_prepare(path, timeout_s, root) for path in paths]
    for one in prepared:
        yield _run(one)


def check_files(paths: list[Path], timeout_s: float | None = DEFAULT_TIMEOUT_S,
                root: Path | None = None) -> list[StudentCheck]:
    """:func:`iter_checks`, as a list."""
    return list(iter_checks(paths, timeout_s, root))


@dataclass(frozen=True)
class _Prepared:
    """A file read and validated, with what checking it needs."""

    path: Path
    module: str
    config: AssignmentConfig
    call_timeout_s: float
    checks_text: str
    code: bytes                           # what the grader takes from the file
    messages: tuple[str, ...]
    extraction: Extraction | None


def _prepare(path: Path, timeout_s: float | None, root: Path | None) -> _Prepared:
    """Read and validate ``path``: ``AutograderError`` for bad input."""
    module = _module_of(path)
    if timeout_s is not None and not timeout_s > 0:
        raise AutograderError(f"the time limit must be a positive number of seconds (got {timeout_s:g})")
    root = root or project_root()
    config = load_course(root)[module]
    checks_path = root / "assignments" / assignment_for(module).folder / "public_checks.py"
    try:
        checks_text = checks_path.read_text(encoding="utf-8")
        data = path.read_bytes()
    except OSError as exc:
        raise AutograderError(f"cannot read {exc.filename}: {exc.strerror}") from None
    messages: tuple[str, ...] = ()
    extraction = None
    if path.suffix == ".ipynb":
        try:
            extraction = extract(data, module, execute=config.execute_notebook,
                                 reference=load_reference(module, root), name=path.name,
                                 local_modules={p.stem for p in path.parent.glob("*.py")})
        except NotebookError as exc:
            raise AutograderError(str(exc)) from None
        data, messages = extraction.source.encode("utf-8"), extraction.messages
    call_timeout = float(timeout_s) if timeout_s is not None else float(config.call_timeout_s)
    return _Prepared(path, module, config, call_timeout, checks_text, data, messages, extraction)


def _run(prepared: _Prepared) -> StudentCheck:
    """Check a prepared file: the child's run, the static rules, the result."""
    from .release.public_cells import assign_checks
    from .rules import static_penalties
    from .scoring import assignment_result

    path, module, config = prepared.path, prepared.module, prepared.config
    homes = {name: [(h.task, list(h.cases) if h.cases is not None else None) for h in where]
             for name, where in assign_checks(module, prepared.checks_text).items()}
    started = time.perf_counter()
    # The static rules import PyTorch (to know what each forbidden name is): seconds that
    # overlap with the child's own imports instead of following them.
    with ThreadPoolExecutor(1) as rules, tempfile.TemporaryDirectory(prefix="autograder-check-") as tmp:
        verdict_soon = rules.submit(static_penalties, module, prepared.code, config)
        folder = Path(tmp)
        (folder / f"{module}.py").write_bytes(prepared.code)
        (folder / f"test_{module}.py").write_text(prepared.checks_text, encoding="utf-8")
        (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        spec = {"module": module, "file": path.name, "folder": str(folder), "helpers": str(path.parent.resolve()),
                "call_timeout_s": prepared.call_timeout_s, "homes": homes, "results": str(folder / "results.jsonl")}
        checks = _run_child(spec, folder, float(config.submission_timeout_s), started)
        verdict = verdict_soon.result()
    tell = _teller(str(folder / f"{module}.py"), path, prepared.extraction)
    checks = [replace(c, message=tell(c.message)) for c in checks]
    points = {name: task.points for name, task in config.tasks.items()}
    task_ids = assignment_for(module).task_ids
    penalties = {t: tell(p) for t, p in verdict.penalties.items()}
    result = assignment_result(module, points, task_ids, checks, penalties,
                               messages=[tell(m) for m in verdict.messages], source=path.name)
    return StudentCheck(path, module, result, prepared.messages, prepared.call_timeout_s,
                        time.perf_counter() - started)


def course_files(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """(the files to check, the files left out) of the files a student named.

    One file is checked or refused (:func:`check_file`'s messages). Of several (``*.py``
    in a folder that also holds the student's own helper modules), a ``.py`` or notebook
    whose name is no module of the course and is not a near miss of one is left out; a
    list of which nothing is left is refused (``AutograderError``). Anything else that is
    wrong (a missing file, ``Tensors.py``, a notebook that cannot be read) is refused by
    :func:`iter_checks` before anything runs."""
    from .submissions import near_miss_module

    if len(paths) == 1:
        return list(paths), []
    checked, left_out = [], []
    for path in paths:
        helper = path.is_file() and path.suffix in (".py", ".ipynb") and path.stem not in MODULES and \
            near_miss_module(path.name) is None
        (left_out if helper else checked).append(path)
    if not checked:
        raise AutograderError(f"none of these files is a module of this course: name one of "
                              f"{', '.join(m + '.py' for m in MODULES)} (or the .ipynb)")
    return checked, left_out


def _read_events(path: Path) -> list[dict]:
    if not path.exists():
        return []
    events = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue     # a line cut short by a crash
    return events


def _check_from(event: dict) -> CheckResult:
    return CheckResult(name=event["name"], task=event["task"], outcome=Outcome(event["outcome"]),
                       weight=float(event.get("weight", 1.0)), visibility=Visibility.PUBLIC,
                       message=event.get("message", ""), detail=event.get("detail", ""),
                       duration_s=float(event.get("duration_s", 0.0)))


def _run_child(spec: dict, folder: Path, module_timeout_s: float, started: float) -> list[CheckResult]:
    """Run the child until every check has a result, restarting it after a hang or a crash."""
    from .checks import loading

    results: dict[str, CheckResult] = {}
    failure: CheckResult | None = None
    events_path = Path(spec["results"])
    call = float(spec["call_timeout_s"])
    deadline = started + module_timeout_s
    fork = True
    for _attempt in range(1000):        # each attempt finishes at least one check, or stops
        spec["skip"] = sorted(results)
        (folder / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
        events_path.unlink(missing_ok=True)
        process = start_child(folder / "spec.json", folder, fork=fork)
        # The child enforces the limits itself (an alarm per check); this is the backstop
        # for code the alarm cannot interrupt (a long call into C, an except: that
        # swallows it): no sign of progress for the limit and a grace period.
        killed = None
        last_progress = time.monotonic()
        seen = 0
        try:
            while process.poll() is None:
                time.sleep(0.05)
                events = _read_events(events_path)
                if len(events) != seen:
                    seen, last_progress = len(events), time.monotonic()
                    if seen and events[0]["event"] == "ready" and seen == 1:
                        # the student's time starts now (imports of torch & co. are not counted)
                        deadline = max(deadline, time.perf_counter() + module_timeout_s) if _attempt == 0 else deadline
                now = time.monotonic()
                if not seen:
                    if now - last_progress > STARTUP_TIMEOUT_S:
                        process.kill()
                        raise AutograderError(f"the checks could not start within {STARTUP_TIMEOUT_S:g} s "
                                              "(importing torch); is this machine very busy?")
                    continue
                if time.perf_counter() >= deadline:
                    killed = "module"
                elif now - last_progress > call + 5.0:
                    killed = "call"
                if killed:
                    process.kill()
                    break
            returncode, output = process.finish()
        except BaseException:
            process.kill()      # Ctrl-C, or the start-up limit: the child must not go on alone
            process.finish()
            raise
        events = _read_events(events_path)
        running = None
        for event in events:
            if event["event"] == "failure":
                failure = CheckResult(name="import", task="", outcome=Outcome.ERROR, visibility=Visibility.PUBLIC,
                                      message=event["message"])
            elif event["event"] == "start":
                running = event
            elif event["event"] == "result":
                results[event["nodeid"]] = _check_from(event)
                running = None
        if failure is not None:
            return _fail_all(spec, failure.message)
        if events and events[-1]["event"] == "done":
            return list(results.values())
        if process.lost:
            # Its server died (not the student's code's doing, as far as anyone can tell):
            # the rest again, in a new interpreter of its own.
            fork = False
            continue
        file = spec["file"]
        if running is None and not any(e["event"] == "imported" for e in events):
            if killed:
                limit = module_timeout_s if killed == "module" else call
                message = loading.import_timeout(file, limit).message
            else:
                message = loading.import_crash(file, _exit_text(returncode, output)).message
            return _fail_all(spec, message)
        if running is None:
            # the child stopped between checks: pytest itself failed; say what it printed
            tail = "\n".join(output.strip().splitlines()[-15:])
            raise AutograderError(f"the public checks could not run:\n{tail}")
        if killed == "module":
            why = f"the checks did not finish within {module_timeout_s:g} s for the whole module, so they were stopped"
        elif killed:
            why = f"Your code did not finish within {call:g} s (an infinite loop?)"
        else:
            why = ("Your code crashed the Python process running it (sys.exit/os._exit, a signal, a segmentation "
                   f"fault or running out of memory): {_exit_text(returncode, output)}")
        results[running["nodeid"]] = CheckResult(name=running["name"], task=running["task"], outcome=Outcome.ERROR,
                                                 visibility=Visibility.PUBLIC, message=why)
        if killed == "module":
            return list(results.values())
    return list(results.values())


def _fail_all(spec: dict, message: str) -> list[CheckResult]:
    """Every public check, broken by one module failure (as the grader reports it)."""
    checks = []
    for name, homes in sorted(spec["homes"].items()):
        for task, _cases in homes:
            if task is not None:
                checks.append(CheckResult(name=name, task=f"{spec['module']}.{task}", outcome=Outcome.ERROR,
                                          visibility=Visibility.PUBLIC, message=message))
    return checks


def _exit_text(code: int | None, output: str) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _teller(copied: str, path: Path, extraction: Extraction | None):
    """Messages name the student's file (and the notebook's cell), not the temporary copy."""
    pattern = re.compile(r'(?:' + re.escape(copied) + r'|\b' + re.escape(Path(copied).name) + r')", line (\d+)')

    def tell(text: str) -> str:
        def where(match: re.Match) -> str:
            number = int(match.group(1))
            if extraction is not None and 0 < number <= len(extraction.lines) and extraction.lines[number - 1]:
                cell, line = extraction.lines[number - 1]
                return f'{path.name}", cell {cell}, line {line}'
            return f'{path.name}", line {number}'

        text = pattern.sub(where, text).replace(copied, path.name)
        if extraction is not None:
            from .notebook_code import remap_lines

            text = remap_lines(text, extraction).replace(f"{Path(copied).name} ", f"{path.name} ")
        return text

    return tell


# -- rendering ----------------------------------------------------------------------------

def render(result: StudentCheck, guide: bool = True) -> str:
    """The answer printed to the student: one block per task, the root cause first, then
    (``guide``) how to read it."""
    from .reports.feedback import feedback_view
    from .results import StudentResult

    view = feedback_view(StudentResult("you", (result.result,)), {result.module: True}).assignments[0]
    checks = result.checks
    passed = sum(1 for c in checks if c.passed)
    out = [f"Checking {result.file.name} with the public checks of {result.module} ({result.duration_s:.1f} s, "
           f"{result.call_timeout_s:g} s per check, as when grading)", ""]
    if result.messages:
        out.append(f"About {result.file.name} (it is read as the grader reads it):")
        out += [f"  - {m}" for m in result.messages]
        out.append("")
    if view.module_penalty:
        out += [f"RULE: {view.module_penalty}", "    the grader scores every task of this module zero.", ""]
    if view.failure:
        out += ["PROBLEM: " + view.failure.replace("\n", "\n    "), ""]
        out.append(f"{view.broken} public checks could not run because of it.")
        out.append("")
    tasks = {t.task: t for t in view.tasks}
    width = max(len(t) for t in tasks) + 2
    for task_id, task in tasks.items():
        if task.module_penalty:
            out.append(f"  RULE  {task_id:<{width}}scores zero (see RULE above)")
            continue
        ran = task.total_checks
        ok = max(0, ran - sum(g.count for g in task.groups) - task.broken - task.grader_errors)
        rule = breaks_rule(task.penalty)
        if rule:
            out.append(f"  FAIL  {task_id:<{width}}RULE: {task.penalty}: the grader scores this task zero")
        if not ran:
            if not rule:
                out.append(f"  ----  {task_id:<{width}}no public check (only the grader checks it)")
            continue
        if view.failure and task.broken == ran:
            out.append(f"  FAIL  {task_id:<{width}}0 of {ran} checks pass (could not run, see PROBLEM)")
            continue
        status = "PASS" if ok == ran else "FAIL"
        if rule:
            out.append(f"        {'':<{width}}and {ok} of {ran} public checks pass")
        else:
            out.append(f"  {status}  {task_id:<{width}}{ok} of {ran} checks pass")
        for group in task.groups:
            names = ", ".join(group.names)
            prefix = f"FAIL {names}" if group.count == 1 else f"FAIL {names} ({group.count} checks, same failure)"
            out.append(f"          {prefix}")
            out += [f"               {line}" for line in group.message.splitlines()]
    out.append("")
    total = len(checks)
    rules = [t for t in view.tasks if t.module_penalty or breaks_rule(t.penalty)]
    verdict = "all of them pass" if passed == total and total else f"{total - passed} fail"
    broken_rules = (f"{len(rules)} task breaks" if len(rules) == 1 else f"{len(rules)} tasks break") + \
        " a rule of the grader and will score zero"
    out.append(f"{passed} of {total} public checks pass: {verdict}" + (f"; but {broken_rules}." if rules else "."))
    if guide:
        out.append("")
        out.append(HOW_TO_READ.format(module=result.module))
    return "\n".join(out)


def summary(results: list[StudentCheck]) -> str:
    """One line per checked file, for a check of several files."""
    lines = [f"Checked {len(results)} file{'' if len(results) == 1 else 's'}:"]
    for result in results:
        failing = sum(1 for c in result.checks if not c.passed)
        rules = sum(1 for t in result.result.tasks if breaks_rule(t.penalty))
        if result.passed:
            verdict = f"all {len(result.checks)} public checks pass"
        else:
            verdict = f"{failing} of {len(result.checks)} public checks fail" + \
                (f", {rules} task(s) break a rule of the grader" if rules else "")
        lines.append(f"  {'PASS' if result.passed else 'FAIL'}  {result.file}: {verdict}")
    return "\n".join(lines)


# -- the child: import the module, run the checks through the grader's plugin ----------------

class _Timeout(BaseException):
    """The alarm went off: the student's code ran past the limit (a BaseException, so that
    an ``except Exception`` in student code does not swallow it)."""


def _on_alarm(signum, frame):
    raise _Timeout()


def _student_frames(exc: BaseException, folder: str, file: str) -> str:
    """The traceback's frames in the student's files, as ``File "x.py", line N, in f``."""
    prefix = folder.rstrip("/") + "/"
    frames = []
    for frame in traceback.extract_tb(exc.__traceback__):
        name = frame.filename
        if name.startswith(prefix) and not Path(name).name.startswith("test_"):
            frames.append(f'  File "{name[len(prefix):]}", line {frame.lineno}, in {frame.name}\n'
                          f"    {(frame.line or '').strip()}")
    return "\n".join(frames[-8:])


def _check_frame(exc: BaseException) -> str:
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if Path(frame.filename).name.startswith("test_"):
            return f"the check {frame.name}, line {frame.lineno} of tests/{Path(frame.filename).name}"
    return "the check"


def _child_main(spec_path: str) -> None:
    import importlib

    import pytest

    from .checks import loading
    from .checks.plugin import GradingContext, GradingPlugin, UNUSED_PLUGINS

    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    module, file, folder = spec["module"], spec["file"], spec["folder"]
    limit = float(spec["call_timeout_s"])
    events = open(spec["results"], "a", encoding="utf-8")

    def emit(**event: Any) -> None:
        events.write(json.dumps(event) + "\n")
        events.flush()

    # What the grader's zygote preloads is not part of a submission's time either:
    # torchvision only for code that names it, as when grading (its import takes seconds).
    import numpy  # noqa: F401
    import torch  # noqa: F401

    if _mentions_torchvision(Path(folder) / f"{module}.py", Path(spec["helpers"])):
        import torchvision  # noqa: F401

    emit(event="ready")
    _hide_the_solutions()
    signal.signal(signal.SIGALRM, _on_alarm)
    sys.path[:0] = [folder]
    if spec["helpers"] not in sys.path:
        sys.path.append(spec["helpers"])    # the student's own helper modules, next to the file
    source = (Path(folder) / f"{module}.py").read_bytes()
    problem = loading.source_problem(file, source)
    if problem is not None:
        emit(event="failure", message=problem.message)
        return
    emit(event="import")
    try:
        signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            importlib.import_module(module)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _Timeout:
        emit(event="failure", message=loading.import_timeout(file, limit).message)
        return
    except BaseException as exc:     # SystemExit too: the module must import
        mro = tuple(k.__name__ for k in type(exc).__mro__)
        emit(event="failure", message=loading.import_exception(
            file, type(exc).__name__, str(exc), _student_frames(exc, folder, file), mro).message)
        return
    _stand_in_for_missing(importlib.import_module(module), module, file,
                          (Path(folder) / f"test_{module}.py").read_text(encoding="utf-8"))
    emit(event="imported")

    class PublicPlugin(GradingPlugin):
        """The grader's plugin, for public checks run in this process: the task of a check
        comes from the release's assignment of checks to tasks, time is limited by an
        alarm, and each result is written out at once (the parent reads them)."""

        def __init__(self):
            super().__init__(GradingContext(configs={}), student=None)   # type: ignore[arg-type]
            self._index: dict[str, int] = {}
            self._tasks: dict[str, str | None] = {}

        def pytest_collection_modifyitems(self, items):
            seen: dict[str, int] = {}
            keep = []
            for item in items:
                function = getattr(item, "originalname", item.name.split("[")[0])
                index = seen.get(function, 0)
                seen[function] = index + 1
                task = None
                for home_task, cases in spec["homes"].get(function, []):
                    if cases is None or index in cases:
                        task = home_task
                        break
                self._tasks[item.nodeid] = f"{module}.{task}" if task else None
                if item.nodeid not in spec["skip"]:
                    keep.append(item)
            items[:] = keep

        def pytest_runtest_setup(self, item):
            emit(event="start", nodeid=item.nodeid, name=item.name, task=self._tasks.get(item.nodeid) or "")
            self._started[item.nodeid] = time.perf_counter()
            signal.setitimer(signal.ITIMER_REAL, limit)

        def pytest_runtest_call(self, item):
            return None

        def pytest_runtest_teardown(self, item):
            signal.setitimer(signal.ITIMER_REAL, 0)

        def _record(self, item, call, exc):
            signal.setitimer(signal.ITIMER_REAL, 0)
            if call.when == "teardown" and item.nodeid in self._recorded:
                return
            self._recorded.add(item.nodeid)
            outcome, message = _public_verdict(exc, folder, file, limit)
            task = self._tasks.get(item.nodeid)
            result = CheckResult(name=item.name, task=task or f"{module}.", outcome=outcome,
                                 visibility=Visibility.PUBLIC, message=message,
                                 duration_s=round(time.perf_counter() - self._started.get(item.nodeid, 0.0), 3))
            self.results.append(result)
            emit(event="result", nodeid=item.nodeid, name=result.name, task=result.task,
                 outcome=result.outcome.value, message=result.message, duration_s=result.duration_s)

    plugin = PublicPlugin()
    args = [f"test_{module}.py", "-c", str(Path(folder) / "pytest.ini"), "--rootdir", folder, "-q", "-s",
            "--disable-plugin-autoload", "-W", "ignore::DeprecationWarning"]
    for name in UNUSED_PLUGINS:
        if name != "terminal":
            args += ["-p", f"no:{name}"]
    code = pytest.main(args, plugins=[plugin])
    if plugin.collection_errors:
        raise SystemExit(f"pytest could not collect the checks: {plugin.collection_errors[0][1][-2000:]}")
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.NO_TESTS_COLLECTED):
        raise SystemExit(f"pytest stopped with {code!r}")
    emit(event="done")


def _mentions_torchvision(file: Path, helpers: Path) -> bool:
    """Does the checked file, or a module of the student's beside it that it imports
    (directly or through another one), name torchvision?"""
    from .pyparse import parse

    todo, seen = [file], set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        try:
            source = path.read_bytes()
        except OSError:
            continue
        if b"torchvision" in source:
            return True
        try:
            tree = parse(source)
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            todo += [helpers / f"{name.split('.')[0]}.py" for name in names]
    return False


class _NoSolutions:
    """A meta path finder that refuses ``solutions``: the grader's sandbox does not have the
    reference solutions either (the package may be installed beside this one)."""

    @staticmethod
    def find_spec(name: str, path: Any = None, target: Any = None) -> None:
        if name == "solutions" or name.startswith("solutions."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def _hide_the_solutions() -> None:
    for name in [n for n in sys.modules if n == "solutions" or n.startswith("solutions.")]:
        del sys.modules[name]
    sys.meta_path.insert(0, _NoSolutions())


class _Missing(Exception):
    """A name the public checks import is not defined by the student's module."""


def _stand_in_for_missing(student: Any, module: str, file: str, checks_text: str) -> None:
    """Define a stand-in for each name the checks import from ``module`` that it lacks, so
    that only the checks using it fail (as when grading), not the whole file's collection."""
    import ast

    wanted = [alias.name for node in ast.walk(ast.parse(checks_text))
              if isinstance(node, ast.ImportFrom) and node.module == module and not node.level
              for alias in node.names]
    for name in wanted:
        if name == "*" or hasattr(student, name):
            continue

        def missing(*args: Any, _name: str = name, **kwargs: Any) -> Any:
            raise _Missing(f"{file} defines no {_name}: is it missing, misspelled, or inside another function?")

        setattr(student, name, missing)


def _public_verdict(exc: BaseException | None, folder: str, file: str, limit: float) -> tuple[Outcome, str]:
    """A public check's outcome and message, as the grader tells them (``file:line`` of the
    student's code for its exceptions)."""
    if exc is None:
        return Outcome.PASSED, ""
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _public_verdict(exc.exceptions[0], folder, file, limit)
    if isinstance(exc, _Missing):
        return Outcome.ERROR, str(exc)
    frames = _student_frames(exc, folder, file)
    if isinstance(exc, _Timeout):
        where = f"\nIt was running:\n{frames}" if frames else ""
        return Outcome.ERROR, f"Your code did not finish within {limit:g} s (an infinite loop?){where}"
    if isinstance(exc, AssertionError) and not frames:
        message = str(exc).split("\nassert ")[0].split("\n +  where")[0].strip()
        return Outcome.FAILED, message or f"the assertion in {_check_frame(exc)} failed"
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if frames:
        return Outcome.ERROR, f"Your code raised {text}\n{frames}"
    return Outcome.ERROR, f"{_check_frame(exc)} raised {text} on what your code returned"


if __name__ == "__main__":
    _child_main(sys.argv[1])
