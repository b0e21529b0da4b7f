"""Take a student's module out of a notebook, on the grader side, without running anything.

A notebook submission (``activations.ipynb``) is read with nbformat and turned into the
text of ``activations.py``, which is then graded like any ``.py`` submission (inside the
sandboxed worker only). What is taken:

- code cells only, top to bottom; the public-check cells of the released notebook (the
  nbgrader test cells, their setup cell) are left out: they are the grader's, not the
  student's, and the grader runs its own checks;
- IPython magics and shell lines (``%...``, ``%%...``, ``!...``) are removed;
- a cell that is not valid Python is left out as a whole, with a message naming it, so
  the rest of the notebook is still graded;
- by default, only the top-level statements that *define* things: imports (of modules
  that exist where the grader runs), ``def``, ``class``, and assignments to plain names of
  literals and simple expressions (a call is allowed only of an imported module's
  functions or of a few pure built-ins, never of the notebook's own functions or
  classes, so ``model = Net()`` or ``losses = train(model)`` is not run). Everything else
  (training loops, prints, plots, ``time.sleep(3600)``, ``while True: pass``) is left out,
  with one message listing it;
- with ``execute_notebook = true`` in the assignment's configuration: every statement of
  every code cell (magics still removed).

The notebook is also compared with the source notebook of the assignment (its nbgrader
metadata): a solution cell that is missing or duplicated, or a cell whose nbgrader
metadata was changed, gives a message naming the cell. Cells are classified by the
source notebook's metadata (trusted), never by what the submission claims.
"""

from __future__ import annotations

import ast
import builtins
import functools
import importlib.util
import json
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from . import pyparse
from .course import MODULES, assignment_for, project_root
from .release.public_cells import is_checks_grade_id
from .results import AssignmentResult

if TYPE_CHECKING:
    import nbformat

__all__ = ["Extraction", "NotebookError", "extract", "load_reference", "remap_lines", "annotate", "warm_up"]

_FLAGS = ("solution", "grade", "locked", "task")
_CELL_MAGICS_WITH_PYTHON = {"time", "timeit", "capture", "prun", "debug", "writefile"}
_SAFE_BUILTINS = frozenset({
    "abs", "all", "any", "bool", "bytes", "complex", "dict", "divmod", "enumerate", "filter", "float",
    "frozenset", "hash", "int", "isinstance", "issubclass", "len", "list", "map", "max", "min", "pow",
    "range", "repr", "reversed", "round", "set", "slice", "sorted", "str", "sum", "tuple", "type", "zip",
    "object", "property", "staticmethod", "classmethod", "super", "ord", "chr", "hex", "oct", "bin",
})
_BUILTIN_NAMES = frozenset(dir(builtins)) | {"__name__", "__file__", "__doc__"}
# Calls that reach outside the code (files, downloads, a GPU) and so are never run as a
# notebook's "constant": a dataset (``train = datasets.MNIST('./data', download=True)``),
# ``torch.load`` of a Drive path, a tensor moved with ``.cuda()`` in a demo cell. Run at
# import, one of them failing would fail the whole module; left out, only what uses it does.
_OUTSIDE_WORLD = frozenset({"cuda", "load", "download", "mount", "urlretrieve", "urlopen", "MNIST", "FashionMNIST",
                            "KMNIST", "EMNIST", "QMNIST", "CIFAR10", "CIFAR100", "SVHN", "ImageFolder",
                            "DatasetFolder", "read_image", "imread", "read_csv"})
_LISTED = 8   # statements named in the "left out" message


class NotebookError(ValueError):
    """The file is not a notebook that can be read (the message says why)."""


@dataclass(frozen=True)
class Extraction:
    """The module's source taken from a notebook, and what the student should know."""

    source: str
    messages: tuple[str, ...] = ()
    # for each line of ``source`` (1-based index - 1): (cell number, line in that cell), or None
    lines: tuple[tuple[int, int] | None, ...] = field(default=(), repr=False)


@dataclass
class _Cell:
    number: int                    # 1-based position in the submitted notebook
    source: str
    grade_id: str | None
    role: str                      # "code" (student's), "checks" (left out)

    def label(self) -> str:
        first = next((line.strip() for line in self.source.splitlines() if line.strip()), "")
        first = first if len(first) <= 50 else first[:47] + "..."
        name = f"`{self.grade_id}`, " if self.grade_id else ""
        return f"cell {self.number} ({name}starting `{first}`)" if first else f"cell {self.number}"


def import_nbformat():
    """``nbformat``, imported in a third of the time a plain import takes (0.3 s against 1.8 s).

    Its validator imports jsonschema, whose format checkers import ``rfc3987_syntax`` if it
    is installed (nbconvert's dependencies install it), which builds a parsing grammar at
    import: 1.5 s. Only the ``iri`` format needs it, and no notebook schema has a format.
    So jsonschema is imported here as if that package were absent (it skips that one
    checker); afterwards the package can be imported as usual."""
    if "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None     # type: ignore[assignment]  # an ImportError on import
        try:
            import jsonschema  # noqa: F401
        finally:
            del sys.modules["rfc3987_syntax"]
    import nbformat

    return nbformat


@functools.lru_cache(maxsize=None)
def load_reference(module: str, root: Path | None = None) -> nbformat.NotebookNode | None:
    """The assignment's source notebook (``assignments/<NN_name>/<module>.ipynb``), or None.

    Read once per process and shared: callers must not change it.
    """
    path = (root or project_root()) / "assignments" / assignment_for(module).folder / f"{module}.ipynb"
    try:
        return import_nbformat().read(path, as_version=4)   # here, not at import time: it costs time
    except (OSError, ValueError):
        return None


def warm_up(modules: Iterable[str] = ()) -> None:
    """What reading a first notebook costs a process, paid now: importing nbformat and
    building its validator (seconds), and the source notebooks of ``modules``. A process
    that forks grading processes calls it once, for all of them, instead of each paying it."""
    import_nbformat().reads('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', as_version=4)
    for module in modules:
        load_reference(module)


def _nbgrader(cell: dict) -> dict | None:
    meta = cell.get("metadata")
    meta = meta.get("nbgrader") if isinstance(meta, dict) else None
    return meta if isinstance(meta, dict) else None


def _read(data: bytes, name: str) -> list[dict]:
    """The cells of the notebook ``data``; ``NotebookError`` when it cannot be read."""
    try:
        text = data.decode("utf-8-sig")     # a byte order mark (some editors write one) is fine
    except UnicodeDecodeError:
        raise NotebookError(f"{name} is not a notebook: it is not UTF-8 text") from None
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise NotebookError(f"{name} is not a valid notebook: it is not valid JSON ({exc}); "
                            "was it saved from Jupyter, and not renamed from another file?") from None
    # nbformat 3 (old Jupyter, some exporters) keeps its cells in worksheets; nbformat converts it.
    if not isinstance(raw, dict) or not (isinstance(raw.get("cells"), list) or
                                         raw.get("nbformat") == 3 and isinstance(raw.get("worksheets"), list)):
        raise NotebookError(f"{name} is not a valid notebook: it has no list of cells")
    try:
        notebook = import_nbformat().reads(text, as_version=4)   # here, not at import time
    except Exception as exc:   # nbformat raises many types for malformed files
        raise NotebookError(f"{name} is not a valid notebook: {str(exc).splitlines()[0] if str(exc) else exc!r}") \
            from None
    cells = []
    for cell in notebook.get("cells", []):
        if not isinstance(cell, dict):
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        if not isinstance(source, str):
            source = ""
        cells.append({"cell_type": cell.get("cell_type"), "source": source, "metadata": cell.get("metadata", {})})
    return cells


def _reference_roles(module: str, reference: nbformat.NotebookNode | None) -> dict[str, tuple[str, dict, str]]:
    """grade id -> (role, nbgrader flags, cell type) for every cell of the source notebook."""
    roles: dict[str, tuple[str, dict, str]] = {}
    for cell in (reference.cells if reference is not None else []):
        meta = _nbgrader(cell)
        if not meta or not isinstance(meta.get("grade_id"), str):
            continue
        gid = meta["grade_id"]
        if cell.get("cell_type") != "code":
            role = "markdown"
        elif is_checks_grade_id(module, gid) or (meta.get("grade") and not meta.get("solution")):
            role = "checks"
        elif meta.get("solution"):
            role = "solution"
        else:
            role = "code"
        roles[gid] = (role, meta, cell.get("cell_type"))
    return roles


def _flags(meta: dict) -> dict:
    flags = {k: bool(meta.get(k, False)) for k in _FLAGS}
    if flags["grade"]:
        flags["points"] = meta.get("points")
    return flags


def _validate(module: str, name: str, cells: list[dict], roles: dict[str, tuple[str, dict, str]]) -> tuple[
        list[str], dict[int, str]]:
    """Messages about cells missing, duplicated or with changed nbgrader metadata, and the
    role of each submitted cell (by position) where the source notebook decides it."""
    messages: list[str] = []
    decided: dict[int, str] = {}
    seen: dict[str, list[int]] = {}
    with_metadata = False
    for position, cell in enumerate(cells, start=1):
        meta = _nbgrader(cell)
        if meta is None:
            continue
        with_metadata = True
        gid = meta.get("grade_id")
        if not isinstance(gid, str) or gid not in roles:
            if meta.get("grade") and not meta.get("solution"):
                decided[position] = "checks"
            if cell.get("cell_type") == "code":
                messages.append(f"{name}: cell {position} has nbgrader metadata that the released notebook does "
                                f"not have (grade id {gid!r}): its nbgrader metadata was changed; "
                                "its code is graded like any cell you added")
            continue
        role, original, cell_type = roles[gid]
        seen.setdefault(gid, []).append(position)
        decided[position] = role if role != "markdown" else "checks"
        changes = [f"{k}: {str(v).lower()} -> {str(_flags(meta).get(k)).lower()}"
                   for k, v in _flags(original).items() if _flags(meta).get(k) != v]
        if cell.get("cell_type") != cell_type:
            changes.insert(0, f"cell type: {cell_type} -> {cell.get('cell_type')}")
        if changes:
            what = "solution cell" if role == "solution" else "cell"
            consequence = ("its code is graded as the released notebook defines the cell"
                           if role in ("solution", "code") and cell.get("cell_type") == "code" else
                           "it is treated as the released notebook defines it")
            if role in ("solution", "code") and cell.get("cell_type") != "code":
                consequence = "it is no longer a code cell, so its code is not graded"
            messages.append(f"{name}: the {what} `{gid}` (cell {position}): its nbgrader metadata was changed "
                            f"({', '.join(changes)}); {consequence}")
    if not with_metadata:
        return messages, decided   # a plain notebook, not made from the released one: nothing to compare
    for gid, (role, _, _) in roles.items():
        if role not in ("solution", "code"):
            continue
        where = seen.get(gid, [])
        task = gid[len(module) + 1:] if gid.startswith(f"{module}-") else gid
        if not where:
            if role == "solution":
                messages.append(f"{name}: the solution cell `{gid}` ({module}.{task}) is missing (deleted?): "
                                f"{task} is graded only if another cell defines it")
            else:
                messages.append(f"{name}: the cell `{gid}` of the released notebook is missing (deleted?); "
                                "code of yours that needs what it defined (e.g. its imports) fails")
        elif len(where) > 1:
            cells_text = ", ".join(str(p) for p in where[:-1]) + f" and {where[-1]}"
            messages.append(f"{name}: the cell `{gid}` appears {len(where)} times (cells {cells_text}; "
                            "duplicated?): the cells run top to bottom, so the last definition is graded")
    return messages, decided


def _strip_magics(source: str) -> tuple[str | None, bool]:
    """The cell without IPython magics and shell lines (line numbers kept), or None for a
    cell magic whose body is not Python; and whether anything was removed."""
    lines = source.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    removed = False
    if first is not None and lines[first].lstrip().startswith("%%"):
        magic = lines[first].lstrip()[2:].split(None, 1)[0] if lines[first].strip() != "%%" else ""
        if magic not in _CELL_MAGICS_WITH_PYTHON:
            return None, True
        lines[first] = ""
        removed = True
    try:
        pyparse.parse("\n".join(lines))
        return "\n".join(lines), removed
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        pass
    # Only when the cell does not parse: a line starting with % or ! (a magic or a shell
    # command) is never valid Python there, so removing it changes nothing else.
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if _IPYTHON_LINE.match(stripped):
            indent = line[: len(line) - len(stripped)]
            lines[i] = f"{indent}pass" if indent else ""
            removed = True
    return "\n".join(lines), removed


# The line forms IPython's input transformers rewrite, none of them valid Python: a magic or
# a shell command (`%time x`, `!pip install y`), one assigned (`out = !nvidia-smi`,
# `t = %timeit -o f()`), and help (`obj?`, `obj??`, `?obj`, `??obj.attr`, `np.*load*?`).
_IPYTHON_LINE = re.compile(
    r"""^(?:[%!]
        |[A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*\s*=\s*[%!]
        |\?{1,2}[\w.*]+\s*$
        |[\w.*]+\?{1,2}\s*$)""", re.VERBOSE)


def _target_names(target: ast.AST) -> list[str] | None:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    if isinstance(target, (ast.Tuple, ast.List)):
        names: list[str] = []
        for element in target.elts:
            inner = _target_names(element)
            if inner is None:
                return None
            names += inner
        return names
    return None


class _Scope:
    """What the kept statements have defined so far, to judge the next assignment."""

    def __init__(self) -> None:
        self.imported: set[str] = set()
        self.defined: set[str] = set()       # the notebook's own functions and classes
        self.assigned: set[str] = set()

    def known(self, name: str) -> bool:
        return name in self.imported or name in self.defined or name in self.assigned or name in _BUILTIN_NAMES

    def simple(self, node: ast.AST, local: frozenset[str] = frozenset()) -> bool:
        """True for literals and simple expressions that run none of the notebook's code."""
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, ast.Name):
            return node.id in local or self.known(node.id)
        if isinstance(node, ast.Lambda):
            return True   # defines a function, runs nothing
        if isinstance(node, ast.Call):
            return self._callable(node.func, local) and all(self.simple(a, local) for a in node.args) \
                and all(self.simple(k.value, local) for k in node.keywords)
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            inner = set(local)
            for generator in node.generators:
                if not self.simple(generator.iter, frozenset(inner)):
                    return False
                names = _target_names(generator.target)
                if names is None:
                    return False
                inner |= set(names)
                if not all(self.simple(c, frozenset(inner)) for c in generator.ifs):
                    return False
            parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
            return all(self.simple(p, frozenset(inner)) for p in parts)
        if isinstance(node, (ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr)):
            return False
        if isinstance(node, (ast.expr, ast.keyword, ast.expr_context, ast.operator, ast.unaryop, ast.cmpop,
                             ast.boolop)):
            return all(self.simple(child, local) for child in ast.iter_child_nodes(node))
        return False

    def _callable(self, func: ast.AST, local: frozenset[str]) -> bool:
        """A call of an imported module's function, a method of a kept value, or a pure built-in
        (none that reaches files, the network or a GPU: ``_OUTSIDE_WORLD``, ``datasets.*``)."""
        root, path = func, []
        while isinstance(root, ast.Attribute):
            path.append(root.attr)
            root = root.value
        if isinstance(root, ast.Name):
            path.append(root.id)
        if path and path[0] in _OUTSIDE_WORLD or "datasets" in path[1:]:
            return False
        if isinstance(root, ast.Name):
            name = root.id
            if name in self.defined:
                return False            # the notebook's own function or class: not run
            if name in self.imported or name in self.assigned or name in local:
                return True
            return func is root and name in _SAFE_BUILTINS
        return self.simple(root, local) and func is not root   # e.g. "a,b".split(",")


def _importable(node: ast.Import | ast.ImportFrom, local: frozenset[str]) -> list[str]:
    """Top-level modules of an import that cannot be found where the grader runs code
    (``local``: the student's own modules, submitted next to the notebook)."""
    if isinstance(node, ast.ImportFrom):
        if node.level or node.module is None:
            return [] if node.level else ["."]
        tops = [node.module.split(".")[0]]
    else:
        tops = [alias.name.split(".")[0] for alias in node.names]
    missing = []
    for top in tops:
        if top == "__future__" or top in MODULES or top in local or top in sys.builtin_module_names:
            continue
        try:
            if importlib.util.find_spec(top) is None:
                missing.append(top)
        except (ImportError, ValueError):
            missing.append(top)
    return missing


def _bound_by_import(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.asname or a.name.split(".")[0] for a in node.names]
    return [a.asname or a.name for a in node.names if a.name != "*"]


def _keep(node: ast.stmt, scope: _Scope, local: frozenset[str]) -> tuple[bool, str | None]:
    """Whether a top-level statement defines something (kept), else why it is left out."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        missing = _importable(node, local)
        if missing:
            return False, f"imports {', '.join(missing)}, which is not installed where the grader runs your code"
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            scope.imported.add("*")
        scope.imported.update(_bound_by_import(node))
        return True, None
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        scope.defined.add(node.name)
        scope.assigned.discard(node.name)
        return True, None
    if isinstance(node, ast.Assign):
        names = [_target_names(t) for t in node.targets]
        if any(n is None for n in names):
            return False, "assigns to something other than a plain name"
        if not scope.simple(node.value):
            return False, None
        for group in names:
            for name in group:
                scope.assigned.add(name)
                scope.defined.discard(name)
        return True, None
    if isinstance(node, ast.AnnAssign):
        if not isinstance(node.target, ast.Name):
            return False, "assigns to something other than a plain name"
        if node.value is not None and not scope.simple(node.value):
            return False, None
        if node.value is not None:
            scope.assigned.add(node.target.id)
        return True, None
    if isinstance(node, ast.AugAssign):
        if isinstance(node.target, ast.Name) and scope.known(node.target.id) and scope.simple(node.value):
            return True, None
        return False, None
    if isinstance(node, ast.Try) and node.handlers and all(_catches_import_error(h) for h in node.handlers):
        # An optional import with its fallback (`try: import a` / `except ImportError: import b
        # as a`): kept when every branch holds only what would be kept on its own. The body's
        # imports may fail where the grader runs: that is what the fallback is for.
        kept = (_keep_all(node.body, scope, local, imports_may_fail=True)
                and all(_keep_all(h.body, scope, local) for h in node.handlers)
                and _keep_all(node.orelse + node.finalbody, scope, local))
        return kept, None
    if isinstance(node, ast.If) and scope.simple(node.test):
        # A constant chosen by a condition (``if torch.cuda.is_available(): DEVICE = ...
        # else: DEVICE = ...``): kept when both branches hold only what would be kept.
        return _keep_all(node.body, scope, local) and _keep_all(node.orelse, scope, local), None
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return False, "quiet"     # a docstring or a bare literal: nothing to run, nothing to say
    if isinstance(node, ast.Pass):
        return False, "quiet"
    return False, None


_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError"}


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return all(isinstance(k, ast.Name) and k.id in _IMPORT_ERRORS for k in kinds)


def _keep_all(body: list[ast.stmt], scope: _Scope, local: frozenset[str], imports_may_fail: bool = False) -> bool:
    """Would every statement of ``body`` be kept (``pass`` too)?"""
    for stmt in body:
        if imports_may_fail and isinstance(stmt, (ast.Import, ast.ImportFrom)):
            scope.imported.update(_bound_by_import(stmt))
            continue
        if isinstance(stmt, ast.Pass):
            continue
        if not _keep(stmt, scope, local)[0]:
            return False
    return True


def _node_lines(node: ast.stmt) -> tuple[int, int]:
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return start, node.end_lineno or node.lineno


def _describe(node: ast.stmt, lines: list[str]) -> str:
    text = lines[_node_lines(node)[0] - 1].strip()
    return text if len(text) <= 40 else text[:37] + "..."


def _left_out_message(name: str, left_out: list[tuple[str, int, str | None]]) -> str:
    """One message for the statements left out, the same text in several cells told once."""
    groups: dict[tuple[str, str | None], list[int]] = {}
    for text, cell, why in left_out:
        groups.setdefault((text, why), []).append(cell)
    shown = []
    for (text, why), cells in list(groups.items())[:_LISTED]:
        numbers = sorted(set(cells))
        where = f"cell {numbers[0]}" if len(numbers) == 1 else "cells " + ", ".join(str(n) for n in numbers)
        shown.append(f"`{text}` ({where}{'; ' + why if why else ''})")
    more = len(groups) - _LISTED
    return (f"{name}: not run by the grader, which takes only imports, definitions (def, class) and assignments "
            f"of simple values from a notebook: {'; '.join(shown)}" + (f"; and {more} more" if more > 0 else ""))


def extract(data: bytes, module: str, *, execute: bool = False,
            reference: nbformat.NotebookNode | None = None, name: str | None = None,
            local_modules: frozenset[str] | set[str] = frozenset()) -> Extraction:
    """The text of ``<module>.py`` taken from the notebook ``data`` (never executed).

    ``reference`` is the assignment's source notebook (see :func:`load_reference`); without
    it, cells are classified by their own nbgrader metadata. ``local_modules`` names the
    student's own ``.py`` modules submitted with it (importing them is kept). Raises
    ``NotebookError`` when the file cannot be read as a notebook.
    """
    name = name or f"{module}.ipynb"
    local = frozenset(local_modules)
    raw_cells = _read(data, name)
    roles = _reference_roles(module, reference)
    messages, decided = _validate(module, name, raw_cells, roles)
    cells: list[_Cell] = []
    for position, cell in enumerate(raw_cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        meta = _nbgrader(cell) or {}
        gid = meta.get("grade_id") if isinstance(meta.get("grade_id"), str) else None
        role = decided.get(position)
        if role is None:
            is_test = bool(meta.get("grade")) and not meta.get("solution")
            role = "checks" if is_test or (gid and is_checks_grade_id(module, gid)) else "code"
        cells.append(_Cell(position, cell["source"], gid, "checks" if role == "checks" else "code"))

    scope = _Scope()
    future: list[str] = []
    body: list[str] = []
    line_map: list[tuple[int, int] | None] = []
    left_out: list[tuple[str, int, str | None]] = []
    broken: list[str] = []
    stripped_any = False
    for cell in cells:
        if cell.role == "checks":
            continue
        text, stripped = _strip_magics(cell.source)
        stripped_any |= stripped
        if text is None:
            continue
        try:
            tree = pyparse.parse(text)
        except SyntaxError as exc:
            defines = _defines(cell.source)
            what = f"so what it defines ({', '.join(defines)}) is missing" if defines else "so it is not graded"
            broken.append(f"{name}: {cell.label()} is not valid Python ({exc.msg}, line {exc.lineno} of the cell): "
                          f"the whole cell is left out, {what}; the other cells are graded")
            continue
        except (ValueError, RecursionError, MemoryError) as exc:
            broken.append(f"{name}: {cell.label()} cannot be read as Python ({type(exc).__name__}): "
                          "the whole cell is left out; the other cells are graded")
            continue
        lines = text.split("\n")
        kept: list[ast.stmt] = []
        dropped: list[ast.stmt] = []
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                future.append(f"from __future__ import {', '.join(a.name for a in node.names)}")
                dropped.append(node)
                continue
            if execute:
                kept.append(node)
                continue
            keep, why = _keep(node, scope, local)
            if keep:
                kept.append(node)
            else:
                dropped.append(node)
                if why != "quiet":
                    left_out.append((_describe(node, lines), cell.number, why))
        if not kept:
            continue
        dropped_lines = {line for node in dropped for line in range(_node_lines(node)[0], _node_lines(node)[1] + 1)}
        header = f"# cell {cell.number}" + (f" ({cell.grade_id})" if cell.grade_id else "")
        body.append(header)
        line_map.append(None)
        for node in kept:
            start, end = _node_lines(node)
            if any(line in dropped_lines for line in range(start, end + 1)):
                # shares a line with a statement left out (``x = 1; print(x)``): rewrite it alone
                for line in ast.unparse(node).split("\n"):
                    body.append(line)
                    line_map.append((cell.number, start))
                continue
            for number in range(start, end + 1):
                body.append(lines[number - 1])
                line_map.append((cell.number, number))
        body.append("")
        line_map.append(None)

    mode = "every code cell" if execute else "definitions only"
    head = [f"# {module}.py, taken from {name} by the autograder ({mode}; nothing of it was run)."]
    head += sorted(set(future))
    source = "\n".join(head + [""] + body).rstrip("\n") + "\n"
    lines_out = tuple([None] * (len(head) + 1) + line_map)
    messages += broken
    if left_out:
        messages.append(_left_out_message(name, left_out))
    if stripped_any and execute:
        messages.append(f"{name}: IPython magics and shell lines (%..., !...) were left out")
    if not any(line for line in body if line and not line.startswith("# cell ")):
        messages.append(f"{name}: no code to grade was found in the notebook")
    return Extraction(source, tuple(messages), lines_out)


def _defines(source: str) -> list[str]:
    """Names a cell seems to define (``def x`` / ``class X`` at column 0), read from its text."""
    names = []
    for line in source.splitlines():
        for keyword in ("def ", "class ", "async def "):
            if line.startswith(keyword):
                rest = line[len(keyword):]
                ident = "".join(ch for ch in rest.split("(")[0].split(":")[0] if ch.isalnum() or ch == "_")
                if ident:
                    names.append(ident)
    return names


def remap_lines(text: str, extraction: Extraction) -> str:
    """Rewrite ``(line N)`` of the extracted module in a message as the notebook's cell and line."""

    def repl(match: re.Match) -> str:
        number = int(match.group(1))
        where = extraction.lines[number - 1] if 0 < number <= len(extraction.lines) else None
        return f"(cell {where[0]}, line {where[1]})" if where else match.group(0)

    return re.sub(r"\(line (\d+)\)", repl, text)


def annotate(result: AssignmentResult, extraction: Extraction | None, unreadable: str | None,
             notes: tuple[str, ...] | list[str] = ()) -> AssignmentResult:
    """The result of a module graded from a notebook, told as such.

    With ``extraction``: the graded file is the notebook, the extraction's messages come
    first, and line numbers of static findings name the notebook's cell and line. With
    ``unreadable`` (why the notebook could not be read): every task scores zero with that
    reason. ``notes`` are added to the module's messages in any case.
    """
    module = result.assignment
    if unreadable is not None:
        return replace(result, submitted=True, source=f"{module}.ipynb", messages=(unreadable, *notes),
                       tasks=tuple(replace(t, checks=(), penalty=unreadable) for t in result.tasks))
    if extraction is None:
        return replace(result, messages=(*notes, *result.messages)) if notes else result

    def told(text: str) -> str:
        return remap_lines(text.replace(f"{module}.py uses ", f"{module}.ipynb uses "), extraction)

    def check_told(check):
        # A traceback or a module failure names the extracted module's lines: name the cells.
        text = remap_traceback(check.message, module, extraction)
        return replace(check, message=text) if text != check.message else check

    return replace(
        result, source=f"{module}.ipynb",
        messages=(*notes, *extraction.messages, *(told(m) for m in result.messages)),
        tasks=tuple(replace(t, penalty=told(t.penalty) if t.penalty else t.penalty,
                            checks=tuple(check_told(c) for c in t.checks)) for t in result.tasks),
    )


def remap_traceback(text: str, module: str, extraction: Extraction) -> str:
    """``File "<module>.py", line N`` and ``(line N)`` in a message as the notebook's cell and
    line; a module failure ("<module>.py could not be imported") names the notebook."""
    def frame(match: re.Match) -> str:
        number = int(match.group(1))
        where = extraction.lines[number - 1] if 0 < number <= len(extraction.lines) else None
        return f'File "{module}.ipynb", cell {where[0]}, line {where[1]}' if where else match.group(0)

    text = re.sub(r'File "' + re.escape(module) + r'\.py", line (\d+)', frame, text)
    prefix = f"{module}.py could not be imported"
    if text.startswith(prefix):
        text = f"{module}.ipynb could not be imported" + remap_lines(text[len(prefix):], extraction)
    return text
