"""Static checks of a student's source (grader side, on the AST; nothing is executed).

- Forbidden names per task (``not_allowed`` in the configuration): a call or use of
  ``torch.softmax``, ``F.softmax`` (through any import alias) or a method ``.softmax``
  inside the task's function or class, or inside a module-level helper it uses,
  loses that task's points with a message naming the call.
- Escapes from the sandbox's rules, anywhere in the module: importing ``autograder``,
  ``solutions`` or ``importlib``, and using ``__import__``, ``exec`` or ``eval``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

__all__ = ["Finding", "forbidden_uses", "escape_hatches", "parse"]

ESCAPE_IMPORTS = ("autograder", "solutions", "importlib")
ESCAPE_BUILTINS = ("__import__", "exec", "eval", "compile")


@dataclass(frozen=True)
class Finding:
    name: str      # what was used, e.g. "torch.softmax" or ".softmax"
    line: int


def parse(source: bytes) -> ast.Module | None:
    """The module's AST, or None when it does not parse (the import reports why)."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> dotted origin, for every import anywhere in the module."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    root = aliases.get(node.id, node.id)
    return ".".join([root] + parts[::-1])


def _matches(used: str, banned: str) -> bool:
    return used == banned or used.startswith(banned + ".")


def _definitions(tree: ast.Module) -> dict[str, ast.AST]:
    return {n.name: n for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def forbidden_uses(tree: ast.Module, name: str, not_allowed: tuple[str, ...]) -> list[Finding]:
    """Uses of ``not_allowed`` names by the top-level ``name`` or the helpers it reaches."""
    if not not_allowed:
        return []
    aliases = _aliases(tree)
    defs = _definitions(tree)
    module_level = [n for n in tree.body if n not in defs.values()]
    methods = tuple(b[1:] for b in not_allowed if b.startswith("."))
    dotted = tuple(b for b in not_allowed if not b.startswith("."))
    findings: list[Finding] = []
    seen: set[str] = set()
    todo = [name]
    # Module-level statements (e.g. `soft = torch.softmax`) can smuggle a banned name.
    bodies: list[ast.AST] = list(module_level)
    while todo:
        current = todo.pop()
        if current in seen or current not in defs:
            continue
        seen.add(current)
        bodies.append(defs[current])
        for node in ast.walk(defs[current]):
            if isinstance(node, ast.Name) and node.id in defs:
                todo.append(node.id)
    for body in bodies:
        for node in ast.walk(body):
            used: str | None = None
            if isinstance(node, ast.Attribute):
                used = _dotted(node, aliases)
                if node.attr in methods and not (used and any(_matches(used, b) for b in dotted)):
                    findings.append(Finding("." + node.attr, node.lineno))
                    continue
            elif isinstance(node, ast.Name) and node.id in aliases:
                used = aliases[node.id]
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr":
                args = node.args
                if len(args) >= 2 and isinstance(args[1], ast.Constant) and args[1].value in methods:
                    findings.append(Finding("." + str(args[1].value), node.lineno))
                continue
            if used and any(_matches(used, b) for b in dotted):
                findings.append(Finding(used, node.lineno))
    unique = {(f.name, f.line): f for f in findings}
    # Report the outermost dotted name once per line (torch.nn.functional.softmax, not also torch.nn.functional).
    result = sorted(unique.values(), key=lambda f: (f.line, -len(f.name)))
    deduped: list[Finding] = []
    for f in result:
        if deduped and deduped[-1].line == f.line and deduped[-1].name.startswith(f.name):
            continue
        deduped.append(f)
    return deduped


def escape_hatches(tree: ast.Module) -> list[Finding]:
    """Imports of the grader's own code or of importlib, and uses of exec/eval/__import__."""
    findings: list[Finding] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in ESCAPE_IMPORTS:
                    findings.append(Finding(f"import {alias.name}", node.lineno))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ESCAPE_IMPORTS:
            findings.append(Finding(f"from {node.module} import ...", node.lineno))
        elif isinstance(node, ast.Name) and node.id in ESCAPE_BUILTINS:
            findings.append(Finding(node.id, node.lineno))
        elif isinstance(node, ast.Attribute) and node.attr in ("__import__",) :
            findings.append(Finding(node.attr, node.lineno))
    return sorted(set(findings), key=lambda f: (f.line, f.name))
