"""Find nbgrader solution regions in a reference solution file.

A region starts at a line whose stripped text is ``### BEGIN SOLUTION`` and ends at the
next line whose stripped text is ``### END SOLUTION``. Regions never nest; every region
lies inside a top-level function or class, whose name gives the task id
``"<module>.<name>"``. Anything else is a ``SolutionMarkerError`` naming the file and line.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from ..errors import SolutionMarkerError

__all__ = ["BEGIN", "END", "Region", "find_regions"]

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"


@dataclass(frozen=True)
class Region:
    """Lines ``begin``..``end`` (1-based, inclusive, the markers included) of one task."""

    task: str
    begin: int
    end: int
    indent: str


def _toplevel_owner(tree: ast.Module, line: int) -> str | None:
    """The top-level def/class whose body holds ``line``.

    A definition owns the lines up to the next top-level statement: its span in the AST
    ends at its last statement, before a trailing ``### END SOLUTION`` comment.
    """
    body = tree.body
    for index, node in enumerate(body):
        following = body[index + 1].lineno if index + 1 < len(body) else float("inf")
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.lineno < line < following:
                return node.name
    return None


def find_regions(source: str, path: Path, module: str) -> list[Region]:
    """Return the solution regions of ``source`` (the text of ``path``) in file order."""
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        raise SolutionMarkerError(f"{path}:{exc.lineno}: not valid Python: {exc.msg}") from None
    regions: list[Region] = []
    open_line: int | None = None
    for number, line in enumerate(source.splitlines(), start=1):
        text = line.strip()
        if text == BEGIN:
            if open_line is not None:
                raise SolutionMarkerError(
                    f"{path}:{number}: '{BEGIN}' inside the region opened at line {open_line}; "
                    "regions cannot nest: close the first one with "
                    f"'{END}' before opening another"
                )
            open_line = number
        elif text == END:
            if open_line is None:
                raise SolutionMarkerError(
                    f"{path}:{number}: '{END}' without a matching '{BEGIN}' above it"
                )
            owner = _toplevel_owner(tree, open_line)
            if owner is None or _toplevel_owner(tree, number) != owner or not line[:1].isspace():
                raise SolutionMarkerError(
                    f"{path}:{open_line}: a solution region must lie inside one top-level "
                    "function or class"
                )
            indent = source.splitlines()[open_line - 1][: -len(source.splitlines()[open_line - 1].lstrip())]
            regions.append(Region(f"{module}.{owner}", open_line, number, indent))
            open_line = None
        elif BEGIN.lower() in text.lower() or END.lower() in text.lower():
            raise SolutionMarkerError(
                f"{path}:{number}: malformed solution marker {text!r}; write exactly "
                f"'{BEGIN}' or '{END}' alone on the line"
            )
    if open_line is not None:
        raise SolutionMarkerError(f"{path}:{open_line}: '{BEGIN}' is never closed by '{END}'")
    if not regions:
        raise SolutionMarkerError(f"{path}: no solution regions; mark the code students write")
    return regions
