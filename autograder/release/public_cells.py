"""Turn an assignment's ``public_checks.py`` into nbgrader test cells.

The public checks are plain pytest files (plain ``assert``, ``pytest.raises``,
``pytest.approx``, ``pytest.mark.parametrize``, ``pytest.mark.skipif``, fixtures of their
own, ``tmp_path`` and ``monkeypatch``). A notebook cannot run them with pytest's runner,
so the notebook gets:

- one locked *setup* cell (after every solution cell): a small runner,
  ``run_public_checks(task, checks)``, followed by the module-level code of the checks file
  (imports, constants, helpers, fixtures) without its ``from <module> import ...`` line: in
  the notebook, the student's functions are already defined above;
- one autograded *test* cell per task of the handout (``grade: true``, ``points`` = the
  task's points), holding that task's check functions verbatim and a call of the runner.
  A task without public checks gets a cell with a comment only, so every task has its
  grade cell and nbgrader knows the assignment's maximum score.

Which task a check belongs to is decided statically, in this order: its name
(``test_<task>_...``, the longest matching task name, case-insensitively); a single
``parametrize`` over the task functions themselves (``[sigmoid, tanh, ...]``), whose cases
are split between those tasks (the check then lives in the setup cell and each task's cell
runs its own cases); the first task function it mentions. A check that mentions no task
goes to a last, ungraded cell. Nothing but public material ever enters these cells.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from ..course import assignment_for
from ..pyparse import parse

__all__ = ["RUNNER", "CheckAssignment", "PublicCells", "assign_checks", "public_cells",
           "setup_grade_id", "check_grade_id", "intro_grade_id", "is_checks_grade_id"]


def check_grade_id(module: str, task: str) -> str:
    """The grade id of a task's test cell, e.g. ``activations-check-sigmoid``."""
    return grade_id(f"{module}-check-{task}")


def setup_grade_id(module: str) -> str:
    return grade_id(f"{module}-checks-setup")


def intro_grade_id(module: str) -> str:
    return grade_id(f"{module}-checks-intro")


def is_checks_grade_id(module: str, gid: str) -> bool:
    """True for the grade ids of the public-check cells (setup, tests, the intro)."""
    return gid.startswith(grade_id(f"{module}-check-")) or gid in (setup_grade_id(module), intro_grade_id(module))


def grade_id(name: str) -> str:
    """An nbgrader grade id (letters, digits, '_' and '-' only) for a task or cell name."""
    return "".join(ch if ch.isalnum() or ch in "_-" else "-" for ch in name)


RUNNER = '''\
# The public checks, run without pytest's command: each test cell below calls
# run_public_checks(task, checks), which runs that task's checks, prints one line per
# check (ok / FAIL / SKIP, and why it failed) and raises an AssertionError naming the
# checks that failed. Run the cells above first. Needs pytest installed (pip install pytest).
import inspect as _inspect
import shutil as _shutil
import tempfile as _tempfile
import traceback as _traceback
from pathlib import Path as _Path

try:
    import pytest
except ImportError:
    raise ImportError("the public checks use pytest's helpers: install it (pip install pytest) "
                      "and run this cell again") from None


def run_public_checks(task, checks):
    """Run the public checks of one task; raise AssertionError if any of them fails."""
    failed, ran = [], 0
    for entry in checks:
        test, only = entry if isinstance(entry, tuple) else (entry, None)
        for index, (case, params, skip) in enumerate(_public_cases(test)):
            if only is not None and index not in only:
                continue
            name = test.__name__ + (f"[{case}]" if case else "")
            if skip is not None:
                print(f"SKIP {name}: {skip}")
                continue
            ran += 1
            problem = _public_run(test, params)
            if problem is None:
                print(f"ok   {name}")
            else:
                failed.append(name)
                print(f"FAIL {name}\\n       {problem}")
    if failed:
        raise AssertionError(f"{task}: {len(failed)} of {ran} public checks failed: {', '.join(failed)} "
                             "(the lines above say why)")
    print(f"{task}: {ran} public check{'s' if ran != 1 else ''} passed")


def _public_cases(test):
    """(id, parameters, reason to skip or None) for every case of a check."""
    cases, skip = [("", {}, None)], None
    for mark in getattr(test, "pytestmark", []):
        if mark.name == "skip":
            skip = mark.kwargs.get("reason", mark.args[0] if mark.args else "skipped")
        elif mark.name == "skipif":
            condition = mark.args[0] if mark.args else mark.kwargs.get("condition", False)
            if condition and not isinstance(condition, str):
                skip = mark.kwargs.get("reason", "skipped")
        elif mark.name == "parametrize":
            names, values = mark.args[0], list(mark.args[1])
            if isinstance(names, str):
                names = [n.strip() for n in names.split(",") if n.strip()]
            ids, expanded = mark.kwargs.get("ids"), []
            for i, value in enumerate(values):
                given = None
                if type(value).__name__ == "ParameterSet":
                    given, value = value.id, (value.values if len(names) > 1 else value.values[0])
                row = dict(zip(names, value)) if len(names) > 1 else {names[0]: value}
                if given is None and isinstance(ids, (list, tuple)) and i < len(ids):
                    given = ids[i]
                elif given is None and callable(ids):
                    given = ids(value)
                if given is None:
                    given = "-".join(str(v) if isinstance(v, (int, float, str, bool, type(None))) else f"{n}{i}"
                                     for n, v in row.items())
                expanded.append((str(given), row))
            cases = [("-".join(x for x in (c, v) if x), {**p, **row}, None)
                     for v, row in expanded for c, p, _ in cases]
    return [(c, p, skip) for c, p, _ in cases]


def _public_run(test, params):
    """Run one case of a check: None if it passed, else what went wrong, in one line."""
    cleanups, cache = [], {}
    try:
        kwargs = dict(params)
        for name in _inspect.signature(test).parameters:
            if name not in kwargs:
                kwargs[name] = _public_fixture(name, test.__globals__, cleanups, cache)
        test(**kwargs)
    except AssertionError as exc:
        if str(exc):
            return f"AssertionError: {exc}"
        frames = [f for f in _traceback.extract_tb(exc.__traceback__) if f.name == test.__name__]
        return "AssertionError: " + (f"this assert failed: {frames[-1].line}" if frames and frames[-1].line
                                     else "an assert failed")
    except (Exception, pytest.fail.Exception) as exc:
        where = _traceback.extract_tb(exc.__traceback__)[-1]
        if isinstance(exc, NotImplementedError):
            return (f"NotImplementedError in {where.name}: not written yet (replace "
                    "`raise NotImplementedError()` with your code)")
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return f"{text} (raised in {where.name}, line {where.lineno})"
    finally:
        for cleanup in reversed(cleanups):
            cleanup()
    return None


def _public_fixture(name, namespace, cleanups, cache):
    """The value of the fixture ``name`` for one check (tmp_path, monkeypatch or the checks' own)."""
    if name in cache:
        return cache[name]
    if name == "tmp_path":
        value = _Path(_tempfile.mkdtemp(prefix="public-check-"))
        cleanups.append(lambda: _shutil.rmtree(value, ignore_errors=True))
    elif name == "monkeypatch":
        value = pytest.MonkeyPatch()
        cleanups.append(value.undo)
    else:
        fixture = namespace.get(name)
        function = getattr(fixture, "_get_wrapped_function", lambda: None)()
        if function is None and hasattr(fixture, "__pytest_wrapped__"):
            function = fixture.__pytest_wrapped__.obj
        if function is None:
            raise LookupError(f"these checks need the pytest fixture {name!r}, which this runner does not "
                              "provide: run them with pytest instead")
        value = function(**{arg: _public_fixture(arg, namespace, cleanups, cache)
                            for arg in _inspect.signature(function).parameters})
        if _inspect.isgenerator(value):
            generator, value = value, next(value)
            cleanups.append(lambda: next(generator, None))
    cache[name] = value
    return value
'''


@dataclass(frozen=True)
class CheckAssignment:
    """Where one check function goes: ``task`` (a task name, or None for "no task"), and
    the indices of its parametrized cases that belong to it (None: every case)."""

    task: str | None
    cases: tuple[int, ...] | None = None


@dataclass(frozen=True)
class PublicCells:
    """The generated code: the setup cell and ``(task name, code, points)`` per task, plus
    the code of the last, ungraded cell for checks of no task (None when there are none)."""

    setup: str
    tests: tuple[tuple[str, str, float], ...]
    other: str | None = None


def _names(node: ast.AST) -> list[str]:
    return [n.id for n in ast.walk(node) if isinstance(n, ast.Name)]


def _by_name(test: str, tasks: tuple[str, ...]) -> str | None:
    rest = test[len("test_"):].lower()
    matches = [t for t in tasks if rest == t.lower() or rest.startswith(t.lower() + "_")]
    return max(matches, key=len) if matches else None


def _split_cases(node: ast.FunctionDef, tasks: tuple[str, ...]) -> dict[str, tuple[int, ...]] | None:
    """Task -> case indices when a single parametrize runs over the task functions."""
    marks = [d for d in node.decorator_list if isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute)
             and d.func.attr == "parametrize"]
    if len(marks) != 1 or len(marks[0].args) < 2 or not isinstance(marks[0].args[1], (ast.List, ast.Tuple)):
        return None
    split: dict[str, list[int]] = {}
    for index, element in enumerate(marks[0].args[1].elts):
        owners = [n for n in dict.fromkeys(_names(element)) if n in tasks]
        if len(owners) != 1:
            return None
        split.setdefault(owners[0], []).append(index)
    return {t: tuple(i) for t, i in split.items()} if len(split) > 1 else None


def assign_checks(module: str, source: str) -> dict[str, list[CheckAssignment]]:
    """``{check function name: [where it goes]}`` for every ``test_*`` function of ``source``."""
    tasks = assignment_for(module).tasks
    tree = parse(source)
    result: dict[str, list[CheckAssignment]] = {}
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or not node.name.startswith("test"):
            continue
        task = _by_name(node.name, tasks)
        if task is not None:
            result[node.name] = [CheckAssignment(task)]
            continue
        split = _split_cases(node, tasks)
        if split is not None:
            result[node.name] = [CheckAssignment(t, cases) for t, cases in split.items()]
            continue
        mentioned = set(_names(node))
        first = next((t for t in tasks if t in mentioned), None)
        result[node.name] = [CheckAssignment(first)]
    return result


def _segment(lines: list[str], node: ast.stmt) -> str:
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return "\n".join(lines[start - 1: node.end_lineno])


def _student_import(node: ast.stmt, module: str) -> list[str] | None:
    """For ``from <module> import ...`` / ``import <module>``: the lines that replace it."""
    if isinstance(node, ast.ImportFrom) and node.module == module and not node.level:
        return [f"{a.asname} = {a.name}" for a in node.names if a.asname and a.asname != a.name]
    if isinstance(node, ast.Import) and any(a.name == module for a in node.names):
        out = []
        for alias in node.names:
            if alias.name != module:
                out.append(f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else ""))
                continue
            out += [
                "class _StudentModule:",
                f'    """Stands for the module `{module}`: the names this notebook defines."""',
                "    def __getattr__(self, name):",
                "        try:",
                "            return globals()[name]",
                "        except KeyError:",
                "            raise AttributeError(name) from None",
                f"{alias.asname or module} = _StudentModule()",
            ]
        return out
    return None


def public_cells(module: str, source: str, points: dict[str, float]) -> PublicCells:
    """The setup and test cells of ``module`` from the text of its ``public_checks.py``.

    ``points`` maps each task name to its points (the test cell's ``points``).
    """
    tasks = assignment_for(module).tasks
    tree = parse(source)
    lines = source.splitlines()
    where = assign_checks(module, source)
    setup: list[str] = []
    per_task: dict[str | None, list[str]] = {t: [] for t in (*tasks, None)}
    calls: dict[str | None, list[str]] = {t: [] for t in (*tasks, None)}
    for index, node in enumerate(tree.body):
        if index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, str):
            continue   # the file's docstring
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        replacement = _student_import(node, module)
        if replacement is not None:
            setup += replacement
            continue
        name = getattr(node, "name", None)
        if name not in where:
            setup.append(_segment(lines, node))
            continue
        homes = where[name]
        if len(homes) == 1 and homes[0].cases is None:
            per_task[homes[0].task].append(_segment(lines, node))
            calls[homes[0].task].append(name)
        else:   # split between tasks: defined once, in the setup cell
            setup.append(_segment(lines, node))
            for home in homes:
                calls[home.task].append(f"({name}, {list(home.cases)!r})")
    header = f"# -- from public_checks.py: what the checks of {module} share --"
    setup_code = RUNNER + "\n\n" + header + "\n" + "\n\n".join(s for s in _spaced(setup))
    tests = []
    for task in tasks:
        task_id = f"{module}.{task}"
        if calls[task]:
            body = "\n\n\n".join(per_task[task])
            call = _call(task_id, calls[task])
            if any(c.startswith("(") for c in calls[task]):
                call = ("# (check, [n, ...]) runs only those cases of a check that is shared with other tasks.\n"
                        + call)
            code = (f"# Public checks of {task_id} ({points[task]:g} points). The grader runs more, hidden,\n"
                    f"# checks of this task: passing these is a good sign, not a guarantee.\n"
                    + (f"{body}\n\n\n" if body else "") + call)
        else:
            code = (f"# {task_id} ({points[task]:g} points) has no public check: only the grader checks it,\n"
                    "# with hidden checks. Read the instructions above for what it must do.")
        tests.append((task, code, points[task]))
    other = None
    if calls[None]:
        body = "\n\n\n".join(per_task[None])
        other = ("# Public checks that belong to no single task (they earn no points of their own).\n"
                 + (f"{body}\n\n\n" if body else "") + _call(module, calls[None]))
    return PublicCells(setup_code.rstrip("\n"), tuple(tests), other)


def _call(label: str, checks: list[str]) -> str:
    """``run_public_checks(label, [checks])``, one check a line when it does not fit on one."""
    one_line = f"run_public_checks({label!r}, [{', '.join(checks)}])"
    if len(one_line) <= 100:
        return one_line
    return f"run_public_checks({label!r}, [\n" + "".join(f"    {c},\n" for c in checks) + "])"


def _spaced(chunks: list[str]) -> list[str]:
    """Group consecutive one-line statements (imports, constants) together."""
    out: list[str] = []
    for chunk in chunks:
        if out and "\n" not in chunk and "\n" not in out[-1] and not out[-1].lstrip().startswith(("def ", "class ", "@")):
            out[-1] += "\n" + chunk
        else:
            out.append(chunk)
    return out
