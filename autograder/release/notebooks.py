"""Build the nbgrader *source* notebook of an assignment (nbformat 4.5, nbgrader schema v3).

The notebook holds, in order: the instructions (``README.md`` split at its ``## ``
headings, each a locked Markdown cell), the module's preamble (docstring and imports, a
locked code cell), one solution cell per top-level function or class (the reference code
with its ``### BEGIN/END SOLUTION`` markers, which ``nbgrader generate_assignment``
replaces by its stub), and the public checks as locked, autograded test cells when there
are any. Cell ids are derived from content positions so output is byte-stable.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from .regions import find_regions

__all__ = ["source_notebook", "grade_id", "split_markdown", "split_definitions"]


def grade_id(name: str) -> str:
    """An nbgrader grade id (letters, digits, '_' and '-' only) for a task or cell name."""
    return "".join(ch if ch.isalnum() or ch in "_-" else "-" for ch in name)


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
    public_tests: list[tuple[str, str, float]] = (),
) -> str:
    """Return the source notebook as JSON text.

    ``public_tests`` holds ``(name, code, points)`` for autograded test cells.
    """
    solved = {r.task.split(".", 1)[1] for r in find_regions(solution, solution_path, module)}
    preamble, definitions = split_definitions(solution)
    cells = []
    for index, section in enumerate(split_markdown(instructions)):
        cells.append(new_markdown_cell(section, metadata=_meta(f"{module}-instructions-{index}", locked=True)))
    if preamble:
        cells.append(new_code_cell(preamble, metadata=_meta(f"{module}-imports", locked=True)))
    for name, code in definitions:
        gid = grade_id(f"{module}-{name}")
        if name in solved:
            cells.append(new_code_cell(code, metadata=_meta(gid, solution=True)))
        else:
            cells.append(new_code_cell(code, metadata=_meta(gid, locked=True)))
    for name, code, points in public_tests:
        cells.append(new_code_cell(code, metadata=_meta(grade_id(f"{module}-check-{name}"), locked=True, points=points)))
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
