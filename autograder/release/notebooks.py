"""Build the nbgrader *source* notebook of an assignment (nbformat 4.5, nbgrader schema v3).

The notebook holds, in order: the instructions (``README.md`` split at its ``## ``
headings, each a locked Markdown cell), the module's preamble (docstring and imports, a
locked code cell), one solution cell per top-level function or class (the reference code
with its ``### BEGIN/END SOLUTION`` markers, which ``nbgrader generate_assignment``
replaces by its stub), and the public checks as locked, autograded test cells when there
are any (see ``public_cells``): a locked Markdown cell that says how to read them, a
locked setup cell (a small runner and the checks' shared code), and one autograded test
cell per task carrying the task's points, so nbgrader's maximum score is the
assignment's. Cell ids are derived from content positions so output is byte-stable.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from .public_cells import PublicCells, check_grade_id, grade_id, intro_grade_id, setup_grade_id
from .regions import find_regions

__all__ = ["source_notebook", "grade_id", "split_markdown", "split_definitions", "for_notebook"]


CHECKS_INTRO = """\
## Public checks

Run every cell above first (or *Kernel → Restart & Run All*). Each cell below runs the
public checks of one task: it prints `ok` or `FAIL` for each check, with what the check
expected and what your code returned, and fails with an `AssertionError` naming the
checks that failed. An error such as `NameError` or `NotImplementedError` means the
function is missing or not written yet.

The grader runs these checks and more, hidden ones (other inputs, gradients, the
functions that are not allowed) on your code: passing every public check is a good
sign, not a guarantee. {graded} Submit `{module}.ipynb` (or `{module}.py`).

From a terminal in this notebook's folder, `autograder check {module}.ipynb` runs the same
checks on this notebook, read exactly as the grader reads it."""
_DEFINITIONS_ONLY = ("Only the definitions in this notebook are graded (imports, functions, classes and "
                     "constants); other code you add, such as training loops or prints, is not run by the "
                     "grader.")
_EVERYTHING = ("The grader runs every code cell of this notebook except these checks, top to bottom "
               "(IPython magics and shell lines `%...`, `!...` are left out), so keep it quick.")


# The instructions say how to check a starter folder ("In the starter folder, run `pytest`
# (`pytest -k task` for one task)"); a notebook is checked another way.
_STARTER_CHECKING = re.compile(
    r"In the starter folder, run\s*\n\s*```[^\n]*\n\s*pytest\s*\n\s*```\s*\n\s*"
    r"(?:to run the public checks\s*)?\(`pytest -k (?P<task>\w+)`[^)]*\)\.?[ \t]*\n?")
NOTEBOOK_CHECKING = """\
Run the check cells at the end of this notebook (after *Kernel → Restart & Run All*):
each prints `ok` or `FAIL` for every public check of one task. Or, in a terminal in this
notebook's folder, run

```
autograder check {module}.ipynb
```

which reads the notebook exactly as the grader does (its definitions only), runs the same
public checks with a time limit and prints, per task, how many pass and why the others
fail. The `autograder` command is part of the course's checking package: if your machine
does not have it, install it into the Python environment you use for this course with
`pip install` and the package file or address your instructor gives you.

"""


def for_notebook(section: str, module: str) -> str:
    """An instructions section as the notebook shows it: the starter folder's way of
    checking (``pytest`` in the folder) becomes the notebook's (its check cells, or
    ``autograder check <module>.ipynb``)."""
    return _STARTER_CHECKING.sub(lambda _: NOTEBOOK_CHECKING.format(module=module), section)


def _meta(gid: str, *, solution: bool = False, locked: bool = False, points: float | None = None) -> dict:
    meta = {
        "grade": points is not None,
        "grade_id": gid,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def split_markdown(text: str) -> list[str]:
    """Split Markdown at level-2 headings, keeping each heading with its section."""
    sections: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.startswith("## ") and any(s.strip() for s in sections[-1]):
            sections.append([])
        sections[-1].append(line)
    return ["\n".join(s).strip("\n") for s in sections if any(x.strip() for x in s)]


def split_definitions(source: str) -> tuple[str, list[tuple[str, str]]]:
    """Split a module into its preamble and ``(name, source)`` per top-level def/class.

    Each definition's source starts just after the previous one ends, so comments and
    decorators above a definition travel with it; the preamble is everything before the
    first definition.
    """
    tree = ast.parse(source)
    lines = source.splitlines()
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    if not defs:
        return source.strip("\n"), []
    first = min([defs[0].lineno] + [d.lineno for d in defs[0].decorator_list])
    preamble_end = first - 1
    # Comments directly above the first definition belong to it, not to the preamble.
    while preamble_end > 0 and lines[preamble_end - 1].lstrip().startswith("#"):
        preamble_end -= 1
    chunks: list[tuple[str, str]] = []
    start = preamble_end
    for node in defs:
        # A definition owns the lines up to the next top-level statement, so a trailing
        # `### END SOLUTION` comment (after its last statement) stays with it.
        later = [n.lineno for n in tree.body if n.lineno > node.lineno]
        end = (min(later) - 1) if later else len(lines)
        while end > start and lines[end - 1].strip() and lines[end - 1].lstrip().startswith("#") \
                and not lines[end - 1].startswith((" ", "\t")):
            end -= 1   # comments at column 0 above the next definition belong to it
        chunks.append((node.name, "\n".join(lines[start:end]).strip("\n")))
        start = end
    tail = "\n".join(lines[start:]).strip("\n")
    if tail and chunks:
        name, text = chunks[-1]
        chunks[-1] = (name, text + "\n\n" + tail)
    return "\n".join(lines[:preamble_end]).strip("\n"), chunks


def source_notebook(
    module: str,
    solution: str,
    solution_path: Path,
    instructions: str,
    checks: PublicCells | None = None,
    execute_notebook: bool = False,
) -> str:
    """Return the source notebook as JSON text.

    ``checks`` holds the public-check cells (``public_cells``): the setup cell and one
    ``(task name, code, points)`` per task, each an autograded test cell.
    """
    solved = {r.task.split(".", 1)[1] for r in find_regions(solution, solution_path, module)}
    preamble, definitions = split_definitions(solution)
    cells = []
    for index, section in enumerate(split_markdown(instructions)):
        cells.append(new_markdown_cell(for_notebook(section, module), metadata=_meta(f"{module}-instructions-{index}", locked=True)))
    if preamble:
        cells.append(new_code_cell(preamble, metadata=_meta(f"{module}-imports", locked=True)))
    for name, code in definitions:
        gid = grade_id(f"{module}-{name}")
        if name in solved:
            cells.append(new_code_cell(code, metadata=_meta(gid, solution=True)))
        else:
            cells.append(new_code_cell(code, metadata=_meta(gid, locked=True)))
    if checks is not None:
        cells.append(new_markdown_cell(CHECKS_INTRO.format(
            module=module, graded=_EVERYTHING if execute_notebook else _DEFINITIONS_ONLY),
                                       metadata=_meta(intro_grade_id(module), locked=True)))
        cells.append(new_code_cell(checks.setup, metadata=_meta(setup_grade_id(module), locked=True)))
        for name, code, points in checks.tests:
            cells.append(new_code_cell(code, metadata=_meta(check_grade_id(module, name), locked=True, points=points)))
        if checks.other is not None:
            cells.append(new_code_cell(checks.other, metadata=_meta(check_grade_id(module, "other"), locked=True)))
    for index, cell in enumerate(cells):
        cell["id"] = f"{grade_id(module)}-{index:03d}"
    notebook = new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
    )
    notebook["nbformat_minor"] = 5
    nbformat.validate(notebook)
    return nbformat.writes(notebook) + "\n"
