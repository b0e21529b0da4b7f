"""``autograder check FILE``: a student checks one module with its public checks, locally.

``FILE`` is ``<module>.py`` or ``<module>.ipynb`` (``activations.ipynb``). A notebook is
read exactly as the grader reads it (:mod:`autograder.notebook_code`: definitions only,
unless the assignment says ``execute_notebook = true``), so what is checked here is
what will be graded. The public checks are the assignment's ``public_checks.py``, the
same file as ``tests/test_<module>.py`` in the starter folder, run by plain pytest.

This runs the student's own code on the student's own machine, so there is no sandbox;
but it runs in a child process with a time limit, so a file that hangs (an endless loop,
a training run at import) cannot hang the command. The answer is grouped by task: what
passes, what fails and why, and how to read the messages.

Exit codes: 0 every public check passes, 1 some fail (or the checks could not run:
the module does not import, or time ran out), 2 bad input (missing file, a name that is
no module of the course, a notebook that cannot be read).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path

from .config import load_course
from .course import MODULES, assignment_for, project_root
from .errors import AutograderError
from .notebook_code import Extraction, NotebookError, extract, load_reference
from .release.public_cells import assign_checks

__all__ = ["CheckLine", "StudentCheck", "check_file", "render", "DEFAULT_TIMEOUT_S"]

DEFAULT_TIMEOUT_S = 300.0
HOW_TO_READ = """\
How to read this: each task shows how many of its public checks pass. Under a task that
fails, each failing check is named (it is a function in tests/test_{module}.py of your
starter folder, or a cell at the end of the released notebook), followed by its message:
what it expected, what your code returned, and often a hint. NotImplementedError means
the function is not written yet; NameError or AttributeError that it is missing or
misnamed. Passing every public check is a good sign, not a guarantee: the grader runs
more, hidden, checks on the same tasks (other inputs, gradients, forbidden functions)."""


@dataclass(frozen=True)
class CheckLine:
    """One public check (one case of a parametrized check)."""

    name: str
    task: str | None          # "activations.sigmoid", or None when it belongs to no task
    outcome: str              # "passed", "failed" or "skipped"
    message: str = ""


@dataclass(frozen=True)
class StudentCheck:
    """What ``autograder check`` found."""

    file: Path
    module: str
    checks: tuple[CheckLine, ...] = ()
    messages: tuple[str, ...] = ()        # about the notebook: cells left out, metadata
    problem: str | None = None            # the checks could not run (import failed, timeout)
    duration_s: float = field(default=0.0, compare=False)

    @property
    def passed(self) -> bool:
        return self.problem is None and bool(self.checks) and all(c.outcome != "failed" for c in self.checks)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1


def _module_of(path: Path) -> str:
    if not path.exists():
        raise AutograderError(f"{path} does not exist")
    if not path.is_file():
        raise AutograderError(f"{path} is not a file; give one module, e.g. activations.py or activations.ipynb")
    if path.suffix not in (".py", ".ipynb"):
        raise AutograderError(f"{path.name} is neither a .py file nor a notebook (.ipynb)")
    if path.stem not in MODULES:
        raise AutograderError(f"{path.name} is not a module of this course: the file must be named after its "
                              f"assignment, one of {', '.join(m + path.suffix for m in MODULES)}")
    return path.stem


def _short(text: str, limit: int = 700) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def _failure_message(element: ElementTree.Element) -> str:
    """The useful part of a junit failure: the assertion's message, without pytest's
    re-evaluation of the expression; else the ``E`` lines of the traceback."""
    message = element.get("message") or ""
    if message:
        message = message.split("\nassert ")[0].split("\n +  where")[0]
        return _short(message)
    lines = [line[1:].strip() for line in (element.text or "").splitlines() if line.startswith("E ")]
    if lines:
        return _short("\n".join(lines))
    text = (element.text or "").strip().splitlines()
    return _short(text[-1]) if text else ""


def _import_problem(text: str, name: str) -> str:
    lines = [line[1:].rstrip() for line in text.splitlines() if line.startswith("E ")]
    detail = "\n".join(l.strip() for l in lines[-8:]) if lines else _short(text, 400)
    return f"{name} could not be imported, so no check could run:\n{_short(detail, 1200)}"


def _parse(xml_path: Path, module: str, where: dict, name: str) -> tuple[list[CheckLine], str | None]:
    root = ElementTree.parse(xml_path).getroot()
    lines: list[CheckLine] = []
    seen: dict[str, int] = {}
    for case in root.iter("testcase"):
        test = case.get("name", "")
        error = case.find("error")
        if error is not None and (not case.get("classname") or error.get("message", "").startswith("collection")):
            return [], _import_problem(error.text or error.get("message", ""), name)
        function = test.split("[", 1)[0]
        index = seen.get(function, 0)
        seen[function] = index + 1
        homes = where.get(function, [])
        task = None
        for home in homes:
            if home.cases is None or index in home.cases:
                task = home.task
                break
        task_id = f"{module}.{task}" if task else None
        failure = case.find("failure")
        if failure is None:
            failure = error
        if case.find("skipped") is not None:
            lines.append(CheckLine(test, task_id, "skipped", case.find("skipped").get("message", "")))
        elif failure is not None:
            lines.append(CheckLine(test, task_id, "failed", _failure_message(failure)))
        else:
            lines.append(CheckLine(test, task_id, "passed"))
    return lines, None


def check_file(path: Path, timeout_s: float = DEFAULT_TIMEOUT_S, root: Path | None = None) -> StudentCheck:
    """Run the public checks of ``path``'s module against it, in a child process.

    Raises ``AutograderError`` for bad input (the CLI's exit 2).
    """
    module = _module_of(path)
    root = root or project_root()
    checks_path = root / "assignments" / assignment_for(module).folder / "public_checks.py"
    try:
        checks_text = checks_path.read_text(encoding="utf-8")
        data = path.read_bytes()
    except OSError as exc:
        raise AutograderError(f"cannot read {exc.filename}: {exc.strerror}") from None
    messages: tuple[str, ...] = ()
    extraction = None
    if path.suffix == ".ipynb":
        config = load_course(root)[module]
        try:
            extraction = extract(data, module, execute=config.execute_notebook,
                                 reference=load_reference(module, root), name=path.name,
                                 local_modules={p.stem for p in path.parent.glob("*.py")})
        except NotebookError as exc:
            raise AutograderError(str(exc)) from None
        data, messages = extraction.source.encode("utf-8"), extraction.messages
    where = assign_checks(module, checks_text)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="autograder-check-") as tmp:
        folder = Path(tmp)
        tell = _teller(str(folder / f"{module}.py"), path, extraction)
        (folder / f"{module}.py").write_bytes(data)
        (folder / f"test_{module}.py").write_text(checks_text, encoding="utf-8")
        (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        report = folder / "report.xml"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", str(folder / "pytest.ini"),
                   "--rootdir", str(folder), f"--junitxml={report}", "-o", "junit_family=xunit1",
                   "--tb=short", "-W", "ignore::DeprecationWarning", f"test_{module}.py"]
        # the student's own helper modules, next to the file, stay importable (after the copy)
        pythonpath = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(path.parent.resolve())) if p)
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": pythonpath}
        process = subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            output, _ = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.communicate()
            problem = (f"the checks did not finish within {timeout_s:g} s, so they were stopped: does {path.name} "
                       "run something long when it is imported (a training loop, an endless loop, input()), or "
                       "does one of your functions never return? (--timeout sets the limit)")
            return StudentCheck(path, module, messages=messages, problem=problem,
                                duration_s=time.perf_counter() - started)
        duration = time.perf_counter() - started
        if not report.is_file():
            tail = output.decode("utf-8", "replace").strip().splitlines()[-15:]
            return StudentCheck(path, module, messages=messages, duration_s=duration,
                                problem=tell("the checks could not run:\n" + "\n".join(tail)))
        lines, problem = _parse(report, module, where, path.name)
    lines = [CheckLine(c.name, c.task, c.outcome, tell(c.message)) for c in lines]
    return StudentCheck(path, module, tuple(lines), messages, tell(problem) if problem else None, duration)


def _teller(copied: str, path: Path, extraction: Extraction | None):
    """Messages name the student's file (and the notebook's cell), not the temporary copy."""
    pattern = re.compile(re.escape(copied) + r'", line (\d+)')

    def tell(text: str) -> str:
        def where(match: re.Match) -> str:
            number = int(match.group(1))
            if extraction is not None and 0 < number <= len(extraction.lines) and extraction.lines[number - 1]:
                cell, line = extraction.lines[number - 1]
                return f'{path.name}", cell {cell}, line {line}'
            return f'{path.name}", line {number}'

        return pattern.sub(where, text).replace(copied, path.name)

    return tell


def render(result: StudentCheck) -> str:
    """The answer printed to the student."""
    total = len([c for c in result.checks if c.outcome != "skipped"])
    passed = len([c for c in result.checks if c.outcome == "passed"])
    out = [f"Checking {result.file.name} with the public checks of {result.module} ({result.duration_s:.1f} s)", ""]
    if result.messages:
        out.append(f"About {result.file.name} (it is read as the grader reads it):")
        out += [f"  - {m}" for m in result.messages]
        out.append("")
    if result.problem is not None:
        out += ["PROBLEM: " + result.problem.replace("\n", "\n    "), ""]
    else:
        tasks = [f"{result.module}.{t}" for t in assignment_for(result.module).tasks]
        width = max(len(t) for t in tasks) + 2
        for task in tasks + [None]:
            mine = [c for c in result.checks if c.task == task]
            if task is None and not mine:
                continue
            label = task or "(checks of no single task)"
            ran = [c for c in mine if c.outcome != "skipped"]
            ok = [c for c in ran if c.outcome == "passed"]
            if not mine:
                out.append(f"  ----  {label:<{width}}no public check (only the grader checks it)")
                continue
            status = "PASS" if len(ok) == len(ran) else "FAIL"
            skipped = len(mine) - len(ran)
            extra = f", {skipped} skipped" if skipped else ""
            out.append(f"  {status}  {label:<{width}}{len(ok)} of {len(ran)} checks pass{extra}")
            for check in mine:
                if check.outcome == "failed":
                    out.append(f"          FAIL {check.name}")
                    out += [f"               {line}" for line in check.message.splitlines()]
        out.append("")
        verdict = ("all of them pass" if passed == total and total else f"{total - passed} fail")
        out.append(f"{passed} of {total} public checks pass: {verdict}.")
        out.append("")
    out.append(HOW_TO_READ.format(module=result.module))
    return "\n".join(out)
