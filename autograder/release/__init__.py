"""``autograder release``: generate the student material from ``solutions/`` + ``assignments/``.

Outputs (all generated, never edited by hand, committed to the repository):

- ``student_template/<module>.py``   stubs: solution regions -> ``raise NotImplementedError``
- ``student_template/tests/test_<module>.py``   the public checks (from
  ``assignments/<NN_name>/public_checks.py``) that students run with plain ``pytest``
- ``student_template/conftest.py`` and ``README.md``
- ``assignments/<NN_name>/<module>.ipynb``   the nbgrader source notebook
- ``examples/submissions/reference/`` and ``examples/submissions/template/``: two example
  students, the reference solutions (full marks) and the untouched template (zero)
- ``examples/submissions/notebook/``: a student who submits notebooks (``tensors.ipynb``
  and ``activations.ipynb``, the source notebooks filled with the reference code, plus a
  scratch cell the grader leaves out)

The source notebooks carry the public checks as nbgrader test cells (``public_cells``);
``autograder release --nbgrader COURSE`` (``autograder.nbgrader_course``) lays them into an
nbgrader course.

Release is a pure function of its inputs (byte-identical output for the same input), and
all-or-nothing: every output is computed in memory first, so a bad marker or config
stops it before any file is touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import load_course
from ..reports.atomic import atomic_write_text
from ..course import ASSIGNMENTS, project_root
from ..errors import AutograderError
from .public_cells import public_cells
from .regions import BEGIN, END
from .stubs import make_stub

__all__ = ["ReleasePlan", "plan_release", "write_release", "stale_files", "TEMPLATE_DIR"]

TEMPLATE_DIR = "student_template"
EXAMPLES_DIR = "examples/submissions"
NOTEBOOK_EXAMPLE = ("tensors", "activations")   # the modules the notebook example student submits

_SCRATCH = """\
# My scratch cell: trying things out. The grader leaves this out (it takes only
# imports, definitions and constants from a notebook), so it cannot slow grading down.
%matplotlib inline
!python --version
import time
started = time.time()
for attempt in range(3):
    print("attempt", attempt)
print(f"done in {time.time() - started:.3f} s")"""

_CONFTEST = '''\
"""Lets `pytest` in this folder import your modules (tensors.py, linear.py, ...)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
'''

_README = """\
# Your starter folder

Six assignments, one module each. Open a module, read the docstrings (they are the
specification), and replace every `raise NotImplementedError(...)` with your code.
Keep every name and signature: the grader calls them.

| module | assignment |
| --- | --- |
{rows}

## Check your work

The course's checking package gives you the `autograder` command. Install it once into
the Python environment you use for this course (Python 3.11 or newer), from the package
file or address your instructor gives you, for example:

    python -m venv .venv && . .venv/bin/activate     # optional: an environment of its own
    pip install autograder-0.1.0-py3-none-any.whl     # the file your instructor hands out

Then, in this folder, check one module before you submit it:

    autograder check tensors.py      # or activations.ipynb for a notebook
    autograder check *.py            # every module at once (a summary at the end)

It runs the public checks of that module on your file the way the grader does: the
same time limits, the same rules (a function a task may not use fails that task, as
the grader would score it zero), and, for a notebook, only the code the grader takes
from it. It prints, per task, how many checks pass and why the others fail, with the
file and line of an error in your code. Exit status 0 means every public check passes.

Without the package, plain pytest runs the same public checks (without the grader's
rules and time limits):

    pip install torch torchvision pytest hypothesis
    pytest                       # every public check
    pytest tests/test_tensors.py # one assignment

A public check that fails prints what it expected, what it received and, often, a
hint. Passing every public check is a good sign, not a guarantee: the grader runs
more (hidden) checks on the same tasks, with other inputs.

## Hand in

Submit the `.py` files you worked on (or the same code as notebooks). A module you do
not submit scores zero; the others are still graded. Keep the file names exactly as
they are here (`tensors.py`, not `Tensors.py` or `tensors (1).py`) and save the files
as UTF-8 (every editor's default for Python).
"""


@dataclass(frozen=True)
class ReleasePlan:
    """Every generated file, as ``{path relative to the project root: text}``."""

    files: dict[str, str]


def plan_release(root: Path | None = None) -> ReleasePlan:
    """Compute every generated file in memory; raises ``AutograderError`` on bad input."""
    from .notebooks import source_notebook     # nbformat costs seconds to import: only when releasing

    root = root or project_root()
    configs = load_course(root)
    files: dict[str, str] = {
        f"{TEMPLATE_DIR}/conftest.py": _CONFTEST,
        f"{TEMPLATE_DIR}/README.md": _README.format(
            rows="\n".join(f"| `{a.module}.py` | {configs[a.module].title} |" for a in ASSIGNMENTS)
        ),
    }
    for assignment in ASSIGNMENTS:
        solution_path = root / "solutions" / f"{assignment.module}.py"
        folder = root / "assignments" / assignment.folder
        try:
            solution = solution_path.read_text(encoding="utf-8")
            instructions = (folder / "README.md").read_text(encoding="utf-8")
        except OSError as exc:
            raise AutograderError(f"cannot read {exc.filename}: {exc.strerror}") from None
        stub = make_stub(solution, solution_path.relative_to(root), assignment.module)
        files[f"{TEMPLATE_DIR}/{assignment.module}.py"] = stub
        files[f"{EXAMPLES_DIR}/reference/{assignment.module}.py"] = solution
        files[f"{EXAMPLES_DIR}/template/{assignment.module}.py"] = stub
        checks_path = folder / "public_checks.py"
        config = configs[assignment.module]
        checks = None
        if checks_path.exists():
            checks_text = checks_path.read_text(encoding="utf-8")
            files[f"{TEMPLATE_DIR}/tests/test_{assignment.module}.py"] = checks_text
            try:
                checks = public_cells(assignment.module, checks_text,
                                      {name: task.points for name, task in config.tasks.items()})
            except SyntaxError as exc:
                raise AutograderError(f"{checks_path.relative_to(root)}:{exc.lineno}: not valid Python: "
                                      f"{exc.msg}") from None
        notebook = source_notebook(assignment.module, solution, solution_path.relative_to(root), instructions,
                                   checks, execute_notebook=config.execute_notebook)
        files[f"assignments/{assignment.folder}/{assignment.module}.ipynb"] = notebook
        if assignment.module in NOTEBOOK_EXAMPLE:
            files[f"{EXAMPLES_DIR}/notebook/{assignment.module}.ipynb"] = filled_notebook(notebook)
    return ReleasePlan(files)


def filled_notebook(source: str) -> str:
    """A student's notebook: the source notebook's solution cells with the reference code
    (markers removed), plus a scratch cell of prints, a loop and IPython magics after them."""
    import nbformat

    notebook = nbformat.reads(source, as_version=4)
    last_solution = 0
    for index, cell in enumerate(notebook.cells):
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = "\n".join(line for line in cell.source.splitlines() if line.strip() not in (BEGIN, END))
            last_solution = index
    scratch = nbformat.v4.new_code_cell(_SCRATCH)
    scratch["id"] = "scratch-001"
    notebook.cells.insert(last_solution + 1, scratch)
    nbformat.validate(notebook)
    return nbformat.writes(notebook) + "\n"


def _generated_template_files(root: Path) -> set[str]:
    """Files in the folders that release owns entirely."""
    owned = [root / TEMPLATE_DIR, root / EXAMPLES_DIR / "reference", root / EXAMPLES_DIR / "template",
             root / EXAMPLES_DIR / "notebook"]
    return {
        p.relative_to(root).as_posix()
        for base in owned if base.exists()
        for p in base.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts
    }


def stale_files(plan: ReleasePlan, root: Path | None = None) -> list[str]:
    """Paths whose committed content differs from the plan, or that the plan no longer makes."""
    root = root or project_root()
    stale = [
        rel for rel, text in sorted(plan.files.items())
        if not (root / rel).is_file() or (root / rel).read_text(encoding="utf-8") != text
    ]
    stale += sorted(_generated_template_files(root) - set(plan.files))
    return stale


def write_release(plan: ReleasePlan, root: Path | None = None) -> list[str]:
    """Write the plan (each file atomically) and remove template files it no longer makes.

    Returns the paths that changed.
    """
    root = root or project_root()
    changed = stale_files(plan, root)
    for rel in changed:
        path = root / rel
        if rel not in plan.files:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, plan.files[rel])
    return changed
